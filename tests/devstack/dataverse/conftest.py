"""Fixtures: one Dataverse emulator per module, reset per test, with sample data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devstack.dataverse.testing import DataverseEmulatorHandle, running_dataverse_emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[DataverseEmulatorHandle]:
    with running_dataverse_emulator(webhook_retry_delay=0.01) as handle:
        yield handle


@pytest.fixture
def dv(emulator: DataverseEmulatorHandle) -> DataverseEmulatorHandle:
    emulator.reset()
    return emulator


@pytest.fixture
def seeded(dv: DataverseEmulatorHandle) -> dict[str, Any]:
    return dv.seed()

"""The Dataverse emulator as pytest fixtures: one per module, reset per test, and its sample data.
Imported by the conftests of the emulator's own tests and of the adapter's integration tests."""

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

"""Fixtures: one Dataverse emulator per module, reset per test; an adapter client; a provisioned schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.client import DataverseClient
from connector.setup.provision import SchemaProvisioner
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


@pytest.fixture
async def client(dv: DataverseEmulatorHandle) -> AsyncIterator[DataverseClient]:
    async with DataverseClient(dv.base_url, StaticTokenCredential(dv.token), backoff=0.01) as instance:
        yield instance


@pytest.fixture
async def provisioned(client: DataverseClient, seeded: dict[str, Any]) -> dict[str, Any]:
    """Schema provisioned and sample data seeded; call counters reset."""
    await SchemaProvisioner(client, "XeroConnector").run()
    client.calls.clear()
    return seeded

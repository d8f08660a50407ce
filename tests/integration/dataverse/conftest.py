"""Fixtures: one Dataverse emulator per module, reset per test; an adapter client; a provisioned schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.client import DataverseClient
from connector.setup.provision import SchemaProvisioner
from devstack.dataverse.testing import DataverseEmulatorHandle
from tests.dataverse_emulator import dv, emulator, seeded

__all__ = ["dv", "emulator", "seeded"]  # fixtures, shared with the other Dataverse tests


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

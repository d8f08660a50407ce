"""`python -m connector sync-reference-data` (C4, O4) against both emulators and Azurite: the tables fill
in order, a second run writes nothing to Dataverse, and an unknown connection is an error."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.storage.token_store import TokenSet, token_store_from_settings
from connector.domain.dynamics import ConnectionSettings
from connector.settings import get_settings
from connector.setup.cli import app
from connector.setup.provision import SchemaProvisioner
from devstack.azurite import Azurite
from devstack.dataverse.testing import DataverseEmulatorHandle, running_dataverse_emulator
from devstack.xero.testing import XeroEmulatorHandle, running_xero_emulator

pytestmark = pytest.mark.integration
runner = CliRunner(env={"COLUMNS": "200"})
WRITES = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture
def connected(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[XeroEmulatorHandle, DataverseEmulatorHandle, ConnectionSettings]]:
    with running_xero_emulator() as xero, running_dataverse_emulator() as dataverse:
        monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
        monkeypatch.setenv("TOKEN_CONTAINER", f"tokens-{uuid.uuid4().hex[:8]}")
        monkeypatch.setenv("DATAVERSE_URL", dataverse.base_url)
        monkeypatch.setenv("DATAVERSE_STATIC_TOKEN", dataverse.token)
        monkeypatch.setenv("XERO_API_BASE_URL", xero.base_url + "/api.xro/2.0")
        for name in ("XERO_IDENTITY_BASE_URL", "XERO_CONNECTIONS_BASE_URL", "XERO_LOGIN_BASE_URL"):
            monkeypatch.setenv(name, xero.base_url)
        org = xero.seed_organisation(name="Kiwi Ltd", client_id="cli-client", client_secret="cli-secret")
        monkeypatch.setenv("XERO_CLIENT_ID", org.client_id)
        monkeypatch.setenv("XERO_CLIENT_SECRET", org.client_secret)
        get_settings.cache_clear()

        async def set_up() -> ConnectionSettings:
            async with DataverseClient(dataverse.base_url, StaticTokenCredential(dataverse.token)) as client:
                await SchemaProvisioner(client, "XeroConnector").run()
                return await client.create_connection("Kiwi", org.tenant_id, make_default=True)

        connection = asyncio.run(set_up())
        tokens = TokenSet.from_token_response(org.token, time.time(), "authorization_code")
        token_store_from_settings(get_settings()).save(str(connection.id), tokens)
        yield xero, dataverse, connection
        get_settings.cache_clear()


def test_c4_sync_reference_data_fills_the_tables_then_writes_nothing_the_second_time(
    connected: tuple[XeroEmulatorHandle, DataverseEmulatorHandle, ConnectionSettings],
) -> None:
    _, dataverse, connection = connected
    first = runner.invoke(app, ["sync-reference-data", "--connection", "kiwi"])
    assert first.exit_code == 0, first.output
    for label in (
        "Tax rates",
        "Chart of accounts",
        "Branding themes",
        "Tracking categories",
        "Tracking options",
    ):
        assert label in first.output
    rows = dataverse.state.rows
    accounts = {row["xc_code"]: row for row in rows["xc_xeroaccount"].values()}
    assert accounts["999"]["statecode"] == 1 and accounts["200"]["statecode"] == 0
    options = {row["xc_name"]: row["statecode"] for row in rows["xc_xerotrackingoption"].values()}
    assert options == {
        "Region: North": 0,
        "Region: South": 0,
        "Region: East": 1,
        "Department: Sales": 0,
        "Department: Operations": 0,
    }
    dataverse.clear_requests()
    second = runner.invoke(app, ["sync-reference-data", "--connection", str(connection.id)])
    assert second.exit_code == 0, second.output
    requests = dataverse.requests()
    assert any(r["method"] == "GET" for r in requests)  # it did read every table to compare
    assert [r for r in requests if r["method"] in WRITES] == []
    assert "changed" in second.output  # the chart of accounts was read for changes only


def test_c4_an_unknown_connection_is_an_error(
    connected: tuple[XeroEmulatorHandle, DataverseEmulatorHandle, ConnectionSettings],
) -> None:
    result = runner.invoke(app, ["sync-reference-data", "--connection", "nobody"])
    assert result.exit_code == 1
    assert "no connection is called 'nobody'" in result.output

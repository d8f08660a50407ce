"""Operator commands (O4) against the emulators and Azurite: connect (C1, C2), poison list/replay (O2)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy
from typer.testing import CliRunner

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.client import DataverseClient, client_from_settings
from connector.adapters.storage.token_store import token_store_from_settings
from connector.domain.dynamics import ConnectionSettings
from connector.settings import get_settings
from connector.setup.cli import app
from connector.setup.provision import SchemaProvisioner
from devstack.azurite import Azurite
from devstack.dataverse.testing import DataverseEmulatorHandle, running_dataverse_emulator
from devstack.xero.testing import XeroEmulatorHandle, running_xero_emulator

pytestmark = pytest.mark.integration
runner = CliRunner(env={"COLUMNS": "300"})


@pytest.fixture
def platform(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[XeroEmulatorHandle, DataverseEmulatorHandle]]:
    with running_xero_emulator() as xero, running_dataverse_emulator() as dataverse:
        monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
        monkeypatch.setenv("TOKEN_CONTAINER", f"tokens-{uuid.uuid4().hex[:8]}")
        monkeypatch.setenv("DATAVERSE_URL", dataverse.base_url)
        monkeypatch.setenv("DATAVERSE_STATIC_TOKEN", dataverse.token)
        for name in ("XERO_IDENTITY_BASE_URL", "XERO_CONNECTIONS_BASE_URL", "XERO_LOGIN_BASE_URL"):
            monkeypatch.setenv(name, xero.base_url)
        get_settings.cache_clear()

        async def provision() -> None:
            async with DataverseClient(dataverse.base_url, StaticTokenCredential(dataverse.token)) as client:
                await SchemaProvisioner(client, "XeroConnector").run()

        asyncio.run(provision())
        yield xero, dataverse


def consent(xero: XeroEmulatorHandle, tenant_id: str, redirect_uri: str) -> str:
    """What an admin does in the browser: allow access to one organisation; returns the code."""
    response = httpx.post(
        f"{xero.base_url}/identity/connect/authorize",
        data={
            "client_id": "test-client-id",
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "offline_access accounting.transactions",
            "tenant_id": tenant_id,
        },
    )
    assert response.status_code == 302
    return parse_qs(urlparse(response.headers["location"]).query)["code"][0]


def test_c2_connect_with_an_authorization_code_stores_tokens_and_a_default_connection(
    platform: tuple[XeroEmulatorHandle, DataverseEmulatorHandle],
) -> None:
    xero, _ = platform
    org = xero.seed_organisation(
        name="Kiwi Ltd", client_id="test-client-id", client_secret="test-client-secret"
    )
    code = consent(xero, org.tenant_id, "https://admin.example/callback")

    result = runner.invoke(
        app, ["connect", "--name", "Kiwi", "--code", code, "--redirect-uri", "https://admin.example/callback"]
    )
    assert result.exit_code == 0, result.output
    assert f"Xero organisation Kiwi Ltd ({org.tenant_id}) as the default" in result.output

    async def connections() -> list[ConnectionSettings]:
        async with client_from_settings(get_settings()) as client:
            return await client.list_connections()

    [connection] = asyncio.run(connections())
    assert (connection.tenant_id, connection.is_default) == (org.tenant_id, True)
    tokens = token_store_from_settings(get_settings()).get(str(connection.id))
    assert tokens is not None and tokens.refresh_token is not None

    replayed_code = runner.invoke(
        app,
        ["connect", "--name", "Again", "--code", code, "--redirect-uri", "https://admin.example/callback"],
    )
    assert replayed_code.exit_code == 1
    assert "Xero refused the token request: invalid_grant" in replayed_code.output


def test_o2_poison_list_shows_reasons_and_replay_puts_messages_back(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"sync-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("INVOICE_SYNC_QUEUE", queue)
    get_settings.cache_clear()
    poison = QueueClient.from_connection_string(
        azurite.connection_string, f"{queue}-poison", message_encode_policy=TextBase64EncodePolicy()
    )
    poison.create_queue()
    ours = json.dumps(
        {"reason": "malformed message: invoice_id: Field required", "queue": queue, "body": '{"type": "x"}'}
    )
    poison.send_message(ours)
    poison.send_message('{"type": "invoice.sync", "version": 1}')  # poisoned by the runtime: the bare body

    listed = runner.invoke(app, ["poison", "list", "--queue", queue])
    assert listed.exit_code == 0, listed.output
    assert "malformed message: invoice_id: Field required" in listed.output
    assert "retries used up" in listed.output

    replayed = runner.invoke(app, ["poison", "replay", "--queue", queue])
    assert replayed.exit_code == 0, replayed.output
    assert "Replayed 2 message(s)" in replayed.output
    back = QueueClient.from_connection_string(
        azurite.connection_string, queue, message_decode_policy=TextBase64DecodePolicy()
    )
    bodies = sorted(m.content for m in back.receive_messages(max_messages=10))
    assert bodies == ['{"type": "invoice.sync", "version": 1}', '{"type": "x"}']
    assert poison.get_queue_properties().approximate_message_count == 0

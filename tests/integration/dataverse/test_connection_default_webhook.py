"""C1 against the Dataverse emulator: the registered step on the connection table fires when someone
ticks "Is default" in Dynamics, not for other columns, and the connector's own writes route to nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from connector.adapters.dataverse.client import DataverseClient
from connector.bootstrap import connection_table, xero_details_table
from connector.domain.messages import ConnectionDefaultMessage
from connector.domain.routing import IgnoredEvent, RoutedEvent, route_change
from connector.entrypoints.dataverse_context import read_change
from connector.setup.webhooks import WebhookRegistrar
from devstack.asgi_server import serve_in_thread
from devstack.dataverse.seed import SALES_USER_ID
from devstack.dataverse.testing import DataverseEmulatorHandle
from tests.integration.dataverse.test_webhooks import Capture


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Capture, str]]:
    capture = Capture()
    app = Starlette(routes=[Route("/api/dataverse/invoices", capture.hook, methods=["POST"])])
    with serve_in_thread(app) as server:
        yield capture, f"{server.base_url}/api/dataverse/invoices"


@pytest.fixture
async def hooked(
    dv: DataverseEmulatorHandle,
    client: DataverseClient,
    provisioned: dict[str, Any],
    receiver: tuple[Capture, str],
) -> Capture:
    capture, url = receiver
    await WebhookRegistrar(client).run(url, "function-key-1")
    capture.received.clear()
    return capture


def sales_user_patch(
    dv: DataverseEmulatorHandle, entity_set: str, row_id: UUID, body: dict[str, Any]
) -> None:
    """What the Dynamics form does when a Sales user (here a System Administrator) saves the record."""
    token = dv.issue_token(SALES_USER_ID)
    response = httpx.patch(
        f"{dv.api_url}{entity_set}({row_id})",
        json=body,
        headers={"Authorization": f"Bearer {token}", "If-Match": "*"},
        timeout=10,
    )
    assert response.status_code == 204, response.text


async def routed(
    dv: DataverseEmulatorHandle, capture: Capture, own_user: UUID
) -> list[RoutedEvent | IgnoredEvent]:
    assert await asyncio.to_thread(dv.wait_for_deliveries, 10)
    return [
        route_change(
            read_change(item["body"], item["headers"], datetime.now(UTC)),
            xero_details_table("xc"),
            own_user,
            connection_table("xc"),
        )
        for item in capture.received
    ]


async def test_c1_is_default_ticked_by_a_person_is_delivered_and_routed_and_the_connectors_own_is_not(
    dv: DataverseEmulatorHandle, client: DataverseClient, hooked: Capture
) -> None:
    own_user = await client.who_am_i()
    first = await client.create_connection("Kiwi NZ", "tenant-nz", make_default=True)
    second = await client.create_connection("Kiwi AU", "tenant-au", make_default=False)
    assert await asyncio.to_thread(dv.wait_for_deliveries, 10)
    hooked.received.clear()
    table = client.schema.table("connection")

    sales_user_patch(dv, table.entity_set, second.id, {"xc_isdefault": True})
    [event] = await routed(dv, hooked, own_user)
    assert isinstance(event, RoutedEvent) and isinstance(event.message, ConnectionDefaultMessage)
    assert event.message.connection_id == second.id
    assert hooked.received[0]["headers"]["x-ms-dynamics-entity-name"] == table.logical_name

    hooked.received.clear()
    sales_user_patch(dv, table.entity_set, second.id, {"xc_timezone": "Australia/Sydney"})
    assert await routed(dv, hooked, own_user) == []  # not the step's column: no webhook at all

    hooked.received.clear()
    # The console's way: first is still marked (no handler runs here), so one write clears second.
    await client.set_default_connection(first.id)
    assert await routed(dv, hooked, own_user) == [IgnoredEvent("the connector's own change")]

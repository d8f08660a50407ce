"""C6 registration, then Sales-UI actions in the emulator → webhook deliveries the connector can route."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.adapters.dataverse.client import DataverseClient
from connector.domain.routing import IgnoredEvent, RoutedEvent
from connector.entrypoints.dataverse_context import parse_context
from connector.setup.webhooks import WebhookRegistrar
from devstack.asgi_server import serve_in_thread
from devstack.dataverse.testing import DataverseEmulatorHandle
from tests.factories import route_webhook


class Capture:
    """A tiny webhook receiver that records what Dataverse sends; can answer with a chosen status."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []

    async def hook(self, request: Request) -> Response:
        self.received.append(
            {
                "query": dict(request.query_params),
                "headers": dict(request.headers),
                "body": await request.body(),
            }
        )
        return Response(status_code=self.statuses.pop(0) if self.statuses else 202)


@pytest.fixture(scope="module")
def capture() -> Iterator[tuple[Capture, str]]:
    receiver = Capture()
    with serve_in_thread(
        Starlette(routes=[Route("/api/dataverse-webhook", receiver.hook, methods=["POST"])])
    ) as server:
        yield receiver, f"{server.base_url}/api/dataverse-webhook"


@pytest.fixture
async def registered(
    dv: DataverseEmulatorHandle,
    client: DataverseClient,
    provisioned: dict[str, Any],
    capture: tuple[Capture, str],
) -> Capture:
    receiver, url = capture
    receiver.received.clear()
    receiver.statuses.clear()
    await WebhookRegistrar(client).run(url, "function-key-1")
    return receiver


def _route(item: dict[str, Any]) -> RoutedEvent | IgnoredEvent:
    return route_webhook(item["body"], item["headers"], datetime.now(UTC))


async def _act(dv: DataverseEmulatorHandle, action: Any, *args: Any, **kwargs: Any) -> Any:
    result = await asyncio.to_thread(action, *args, **kwargs)
    assert dv.wait_for_deliveries(10)
    return result


async def test_c6_registration_is_idempotent(
    dv: DataverseEmulatorHandle, client: DataverseClient, registered: Capture, capture: tuple[Capture, str]
) -> None:
    steps_before = len(dv.state.rows["sdkmessageprocessingstep"])
    report = await WebhookRegistrar(client).run(capture[1], "function-key-2")
    # Eight steps (five on invoice, one on Xero details for I10, two on connections for C1) and their
    # four images.
    assert report.created == [] and len(report.unchanged) == 12
    assert (
        len(dv.state.rows["serviceendpoint"]) == 1
        and len(dv.state.rows["sdkmessageprocessingstep"]) == steps_before == 8
    )
    images = {row["entityalias"]: row for row in dv.state.rows["sdkmessageprocessingstepimage"].values()}
    assert len(dv.state.rows["sdkmessageprocessingstepimage"]) == 4 and set(images) == {
        "PreImage",
        "PostImage",
    }
    properties = {
        (row["messagepropertyname"], row["attributes"])
        for row in dv.state.rows["sdkmessageprocessingstepimage"].values()
    }
    assert {("Target", "xc_isdefault"), ("Id", "xc_isdefault")} <= properties  # Id: Create's property
    endpoint = next(iter(dv.state.rows["serviceendpoint"].values()))
    assert (endpoint["contract"], endpoint["authtype"], endpoint["authvalue"]) == (8, 4, "function-key-2")


async def test_i2_create_and_update_route_to_sync(
    dv: DataverseEmulatorHandle, registered: Capture, provisioned: dict[str, Any]
) -> None:
    created = await _act(
        dv,
        dv.ui_create_invoice,
        account_id=provisioned["accounts"]["Contoso Ltd"],
        name="Hooked",
        lines=[{"product_number": "GAD-002", "quantity": 1}],
    )
    await _act(dv, dv.ui_set_date_delivered, created["id"])
    messages = [item["headers"]["x-ms-dynamics-request-name"] for item in registered.received]
    assert messages[0] == "Create" and set(messages[1:]) == {"Update"}  # line re-pricing and Date Delivered
    for item in registered.received:
        assert item["query"] == {"code": "function-key-1"}
        assert item["headers"]["x-ms-dynamics-entity-name"] == "invoice"
        routed = _route(item)
        assert isinstance(routed, RoutedEvent) and routed.queue == "sync"
        assert routed.subject == ("invoice", UUID(created["id"]))
    context = parse_context(registered.received[0]["body"])
    assert context.message_name == "Create" and context.depth == 1
    assert b"\\/Date(" in registered.received[0]["body"]  # WCF dates, escaped as Dataverse writes them
    body = json.loads(registered.received[0]["body"])
    assert body["OwningExtension"]["LogicalName"] == "sdkmessageprocessingstep"
    assert body["OutputParameters"] == [{"key": "id", "value": created["id"]}]


async def test_x1_cancel_routes_to_cancel(
    dv: DataverseEmulatorHandle, registered: Capture, provisioned: dict[str, Any]
) -> None:
    created = await _act(
        dv, dv.ui_create_invoice, contact_id=provisioned["contacts"]["Jane Doe"], name="To cancel"
    )
    registered.received.clear()
    await _act(dv, dv.ui_cancel, created["id"])
    by_message = {item["headers"]["x-ms-dynamics-request-name"]: item for item in registered.received}
    assert set(by_message) == {"Update", "SetStateDynamicEntity"}
    for item in by_message.values():
        routed = _route(item)
        assert isinstance(routed, RoutedEvent) and routed.queue == "cancel"
        assert routed.message.reason == "canceled"  # type: ignore[union-attr]
    state_inputs = {
        p["key"] for p in json.loads(by_message["SetStateDynamicEntity"]["body"])["InputParameters"]
    }
    assert state_inputs == {"EntityMoniker", "State", "Status"}


async def test_x2_delete_routes_to_cancel_deleted_with_pre_image(
    dv: DataverseEmulatorHandle, registered: Capture, provisioned: dict[str, Any]
) -> None:
    created = await _act(
        dv, dv.ui_create_invoice, account_id=provisioned["accounts"]["Fabrikam Inc"], name="Gone"
    )
    registered.received.clear()
    await _act(dv, dv.ui_delete, created["id"])
    deletes = [
        item for item in registered.received if item["headers"]["x-ms-dynamics-request-name"] == "Delete"
    ]
    assert len(deletes) == 1
    routed = _route(deletes[0])
    assert isinstance(routed, RoutedEvent) and routed.queue == "cancel"
    assert routed.message.reason == "deleted" and routed.message.pre_image["name"] == "Gone"  # type: ignore[union-attr,index]
    target = json.loads(deletes[0]["body"])["InputParameters"][0]["value"]
    assert target["__type"].startswith("EntityReference:") and target["Id"] == created["id"]


async def test_update_outside_filtering_attributes_sends_nothing(
    dv: DataverseEmulatorHandle, registered: Capture, provisioned: dict[str, Any]
) -> None:
    created = await _act(
        dv, dv.ui_create_invoice, account_id=provisioned["accounts"]["Contoso Ltd"], name="Quiet"
    )
    registered.received.clear()
    await _act(dv, dv.ui_edit_invoice, created["id"], emailaddress="billing@example.com")
    assert registered.received == []


async def test_retry_once_on_503_then_failure_is_recorded(
    dv: DataverseEmulatorHandle, registered: Capture, provisioned: dict[str, Any]
) -> None:
    registered.statuses[:] = [503, 503]
    await _act(dv, dv.ui_create_invoice, account_id=provisioned["accounts"]["Contoso Ltd"], name="Flaky")
    failed = [d for d in dv.deliveries if not d.ok]
    assert len(failed) == 1 and failed[0].attempts == 2 and failed[0].status_code == 503
    operations = await asyncio.to_thread(dv.async_operations)
    assert [op["statuscode"] for op in operations] == [31]


async def test_payload_over_256kb_drops_parameters_and_sets_header(
    dv: DataverseEmulatorHandle, registered: Capture, provisioned: dict[str, Any]
) -> None:
    await _act(
        dv,
        dv.ui_create_invoice,
        account_id=provisioned["accounts"]["Contoso Ltd"],
        name="Big",
        description="x" * 300_000,
    )
    item = registered.received[0]
    assert item["headers"]["x-ms-dynamics-msg-size-exceeded"]
    body = json.loads(item["body"])
    assert "InputParameters" not in body and "ParentContext" not in body and "PostEntityImages" not in body
    routed = _route(item)
    assert isinstance(routed, RoutedEvent) and routed.queue == "sync"


async def test_o5_header_auth_keeps_the_secret_out_of_every_webhook_url(
    dv: DataverseEmulatorHandle,
    client: DataverseClient,
    provisioned: dict[str, Any],
    capture: tuple[Capture, str],
) -> None:
    receiver, url = capture
    receiver.received.clear()
    await WebhookRegistrar(client).run(url, "header-secret-1", header="x-connector-webhook-secret")
    endpoint = next(iter(dv.state.rows["serviceendpoint"].values()))
    assert endpoint["authtype"] == 5  # HttpHeader
    await _act(
        dv, dv.ui_create_invoice, account_id=provisioned["accounts"]["Contoso Ltd"], name="Header auth"
    )
    assert receiver.received
    for item in receiver.received:
        assert item["query"] == {}  # nothing in the URL
        assert item["headers"]["x-connector-webhook-secret"] == "header-secret-1"

"""C1 through the blueprints: "Is default" ticked in Dynamics → the Dataverse webhook → a message on
sync-poll → the sync_poll trigger hands it to the handler of its type, beside the sweeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage

from connector.bootstrap import App, MessageHandler, use_app
from connector.domain.messages import ConnectionDefaultMessage, SweepMessage, parse_message
from connector.entrypoints.queue_triggers import sync_poll_type
from connector.settings import get_settings
from tests.fakes.queues import FakeQueueSender
from tests.fixtures import dataverse_payloads as payloads
from tests.functions import user_function

CONNECTOR_USER = UUID("0c0ec70e-0000-4000-8000-000000000001")
DV_URL = "http://localhost:7071/api/dataverse/invoices"
SECRET = {"code": "test-dataverse-secret"}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def handler(self, name: str) -> MessageHandler:
        async def handle(message: object) -> None:
            self.calls.append((name, message))

        return handle


@pytest.fixture
def queues() -> FakeQueueSender:
    return FakeQueueSender()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(autouse=True)
def app(queues: FakeQueueSender, recorder: Recorder) -> Iterator[App]:
    async def own_user() -> UUID:
        return CONNECTOR_USER

    handlers: dict[type, MessageHandler] = {
        SweepMessage: recorder.handler("sweep"),
        ConnectionDefaultMessage: recorder.handler("default"),
    }
    app = App(settings=get_settings(), queues=queues, handlers=handlers, own_user_id=own_user)
    use_app(app)
    yield app
    use_app(None)


def webhook(body: dict[str, object]) -> func.HttpRequest:
    return func.HttpRequest("POST", DV_URL, body=payloads.encode(body), params=SECRET)


async def call(name: str, *args: object) -> func.HttpResponse:
    return await user_function(name)(*args)  # type: ignore[no-any-return]


async def test_c1_is_default_ticked_in_dynamics_is_queued_on_sync_poll(queues: FakeQueueSender) -> None:
    response = await call("dataverse_invoice_webhook", webhook(payloads.connection_update()))
    assert response.status_code == 202
    assert json.loads(response.get_body()) == {"queued": "sync-poll", "connectionId": payloads.CONNECTION_ID}
    assert [m.queue for m in queues.sent] == ["sync-poll"]
    message = parse_message(queues.sent[0].body)
    assert isinstance(message, ConnectionDefaultMessage)
    assert message.connection_id == UUID(payloads.CONNECTION_ID)


async def test_c1_the_connectors_own_default_change_is_answered_200_and_not_queued(
    queues: FakeQueueSender,
) -> None:
    body = {**payloads.connection_update(), "InitiatingUserId": str(CONNECTOR_USER)}
    response = await call("dataverse_invoice_webhook", webhook(body))
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"ignored": "the connector's own change"}
    assert queues.sent == []


async def test_c1_a_connection_change_without_an_id_is_a_400_and_nothing_is_queued(
    queues: FakeQueueSender,
) -> None:
    body = {**payloads.connection_update(), "PrimaryEntityId": "", "InputParameters": []}
    response = await call("dataverse_invoice_webhook", webhook(body))
    assert response.status_code == 400
    assert "no connection id" in json.loads(response.get_body())["error"]
    assert queues.sent == []


async def test_an_invoice_is_still_acknowledged_by_its_id(queues: FakeQueueSender) -> None:
    response = await call("dataverse_invoice_webhook", webhook(payloads.invoice_update_with_images()))
    assert response.status_code == 202
    assert json.loads(response.get_body()) == {"queued": "invoice-sync", "invoiceId": payloads.INVOICE_ID}


def queue_message(body: str) -> QueueMessage:
    return QueueMessage(
        id="m-1", body=body.encode(), dequeue_count=1, pop_receipt="pr", insertion_time=datetime.now(UTC)
    )


def default_body() -> str:
    return ConnectionDefaultMessage(
        connection_id=UUID(payloads.CONNECTION_ID),
        organization="contoso",
        message_name="Update",
        correlation_id="c-1",
        event_time=datetime.now(UTC),
    ).model_dump_json()


def sweep_body() -> str:
    return SweepMessage(scheduled_for=datetime.now(UTC), correlation_id="s-1").model_dump_json()


async def test_c1_sync_poll_hands_each_message_to_the_handler_of_its_type(
    recorder: Recorder, queues: FakeQueueSender
) -> None:
    await user_function("sync_poll")(queue_message(default_body()))
    await user_function("sync_poll")(queue_message(sweep_body()))
    assert [(name, type(message)) for name, message in recorder.calls] == [
        ("default", ConnectionDefaultMessage),
        ("sweep", SweepMessage),
    ]
    assert queues.sent == []


@pytest.mark.parametrize(
    "body",
    ["not json", "[1]", '{"type": 7}', '{"type": "invoice.sync"}', '{"type": "connection.default"}'],
    ids=["not-json", "not-an-object", "odd-type", "wrong-queue", "incomplete"],
)
async def test_a_sync_poll_body_of_no_type_it_carries_is_poisoned(
    recorder: Recorder, queues: FakeQueueSender, body: str
) -> None:
    await user_function("sync_poll")(queue_message(body))
    assert recorder.calls == []
    assert [m.queue for m in queues.sent] == ["sync-poll-poison"]
    assert json.loads(queues.sent[0].body)["reason"].startswith("malformed message")


def test_sync_poll_reads_the_declared_type_and_defaults_to_a_sweep() -> None:
    assert sync_poll_type(default_body().encode()) is ConnectionDefaultMessage
    assert sync_poll_type(sweep_body().encode()) is SweepMessage
    assert sync_poll_type(b'{"type": "xero.event"}') is SweepMessage

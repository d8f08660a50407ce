"""The blueprints, called as the Functions host would, with fakes of our ports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from connector.bootstrap import App, use_app
from connector.domain.messages import (
    InvoiceCancelMessage,
    InvoiceSyncMessage,
    SweepMessage,
    XeroEventMessage,
    parse_message,
)
from connector.entrypoints.admin import ROUTES as CONSOLE_ROUTES
from connector.entrypoints.xero_signature import sign
from connector.errors import RateLimitedError, RetryableError
from connector.settings import get_settings
from tests.fakes.queues import FakeQueueSender
from tests.fixtures import dataverse_payloads as payloads
from tests.functions import app_functions, user_function
from tests.unit.entrypoints.test_xero_webhook_signature import BODY as XERO_BODY


class RecordingHandlers:
    def __init__(self) -> None:
        self.calls: list[object] = []
        self.fail_with: Exception | None = None

    async def handle(self, message: object) -> None:
        self.calls.append(message)
        if self.fail_with is not None:
            raise self.fail_with

    def handlers(self) -> dict[type, object]:
        types = (InvoiceSyncMessage, InvoiceCancelMessage, XeroEventMessage, SweepMessage)
        return dict.fromkeys(types, self.handle)


@pytest.fixture
def queues() -> FakeQueueSender:
    return FakeQueueSender()


@pytest.fixture
def recorder() -> RecordingHandlers:
    return RecordingHandlers()


@pytest.fixture(autouse=True)
def app(queues: FakeQueueSender, recorder: RecordingHandlers) -> Iterator[App]:
    app = App(settings=get_settings(), queues=queues, handlers=recorder.handlers())  # type: ignore[arg-type]
    use_app(app)
    yield app
    use_app(None)


def http(url: str, body: bytes, params: dict[str, str] | None = None, headers: dict[str, str] | None = None):
    return func.HttpRequest("POST", url, body=body, params=params or {}, headers=headers or {})


async def call(name: str, *args: object) -> object:
    return await user_function(name)(*args)


def test_functions_registered_as_the_host_sees_them() -> None:
    functions = app_functions()
    console = {name for name, *_ in CONSOLE_ROUTES}
    assert set(functions) == {
        "dataverse_invoice_webhook",
        "xero_webhook",
        "health",
        "invoice_sync",
        "invoice_cancel",
        "xero_events",
        "sync_poll",
        "sweep_timer",
        "reference_data_timer",
        *console,
    }
    assert all(name.startswith("console_") for name in console)
    bindings = {name: fn.get_trigger().get_dict_repr() for name, fn in functions.items()}
    assert bindings["dataverse_invoice_webhook"]["route"] == "dataverse/invoices"
    assert bindings["invoice_sync"]["queueName"] == "%INVOICE_SYNC_QUEUE%"
    assert bindings["sweep_timer"]["schedule"] == "%SWEEP_SCHEDULE%"


# --- Dataverse webhook ---------------------------------------------------------------------------


DV_URL = "http://localhost:7071/api/dataverse/invoices"


async def test_dataverse_create_with_function_code_is_enqueued_on_invoice_sync(
    queues: FakeQueueSender,
) -> None:
    response = await call(
        "dataverse_invoice_webhook",
        http(DV_URL, payloads.encode(payloads.invoice_create()), params={"code": "test-dataverse-secret"}),
    )
    assert response.status_code == 202
    assert [m.queue for m in queues.sent] == ["invoice-sync"]
    assert queues.sent[0].visibility_timeout == 2  # the new invoice's line events go first
    message = parse_message(queues.sent[0].body)
    assert isinstance(message, InvoiceSyncMessage)
    assert str(message.invoice_id) == payloads.INVOICE_ID


async def test_dataverse_shared_secret_header_is_accepted(queues: FakeQueueSender) -> None:
    response = await call(
        "dataverse_invoice_webhook",
        http(
            DV_URL,
            payloads.encode(payloads.invoice_update_cancel()),
            headers={"x-connector-webhook-secret": "test-dataverse-secret"},
        ),
    )
    assert response.status_code == 202
    assert [(m.queue, m.visibility_timeout) for m in queues.sent] == [("invoice-cancel", None)]
    assert isinstance(parse_message(queues.sent[0].body), InvoiceCancelMessage)


@pytest.mark.parametrize(
    ("params", "headers"),
    [({}, {}), ({"code": "wrong"}, {}), ({}, {"x-connector-webhook-secret": "test-dataverse-secret-"})],
)
async def test_dataverse_bad_auth_is_401_and_nothing_enqueued(
    queues: FakeQueueSender, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = await call(
        "dataverse_invoice_webhook",
        http(DV_URL, payloads.encode(payloads.invoice_create()), params=params, headers=headers),
    )
    assert response.status_code == 401
    assert queues.sent == []


async def test_dataverse_malformed_is_400_with_reason_and_nothing_enqueued(queues: FakeQueueSender) -> None:
    response = await call(
        "dataverse_invoice_webhook", http(DV_URL, b"{", params={"code": "test-dataverse-secret"})
    )
    assert response.status_code == 400
    assert "not JSON" in json.loads(response.get_body())["error"]
    assert queues.sent == []


async def test_dataverse_other_entity_is_200_ignored(queues: FakeQueueSender) -> None:
    body = payloads.encode(payloads.context("Create", {}, entity_name="contact"))
    response = await call(
        "dataverse_invoice_webhook", http(DV_URL, body, params={"code": "test-dataverse-secret"})
    )
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"ignored": "entity 'contact' is not handled"}
    assert queues.sent == []


# --- Xero webhook ----------------------------------------------------------------------------------


XERO_URL = "http://localhost:7071/api/xero/webhook"


async def test_b1_signed_xero_webhook_is_200_empty_with_one_message_per_event(
    queues: FakeQueueSender,
) -> None:
    signature = sign(XERO_BODY, "test-xero-webhook-key")
    response = await call("xero_webhook", http(XERO_URL, XERO_BODY, headers={"x-xero-signature": signature}))
    assert response.status_code == 200
    assert response.get_body() == b""
    assert [m.queue for m in queues.sent] == ["xero-events"]
    assert isinstance(parse_message(queues.sent[0].body), XeroEventMessage)


async def test_b1_intent_to_receive_is_200_empty_and_enqueues_nothing(queues: FakeQueueSender) -> None:
    body = b'{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"XYZ"}'
    response = await call(
        "xero_webhook",
        http(XERO_URL, body, headers={"x-xero-signature": sign(body, "test-xero-webhook-key")}),
    )
    assert (response.status_code, response.get_body()) == (200, b"")
    assert queues.sent == []


@pytest.mark.parametrize("headers", [{}, {"x-xero-signature": "AAAA"}])
async def test_b1_badly_signed_xero_webhook_is_401_empty(
    queues: FakeQueueSender, headers: dict[str, str]
) -> None:
    response = await call("xero_webhook", http(XERO_URL, XERO_BODY, headers=headers))
    assert (response.status_code, response.get_body()) == (401, b"")
    assert queues.sent == []


# --- health and timer ---------------------------------------------------------------------------------


async def test_health_reports_version_and_queues(queues: FakeQueueSender) -> None:
    request = func.HttpRequest("GET", "http://localhost:7071/api/health", body=b"")
    response = await call("health", request)
    assert response.status_code == 200
    payload = json.loads(response.get_body())
    assert payload["version"] == "0.1.0"
    assert payload["queues"] == {
        "invoice-sync": True,
        "invoice-cancel": True,
        "xero-events": True,
        "sync-poll": True,
    }
    queues.unreachable.add("xero-events")
    degraded = await call("health", request)
    assert degraded.status_code == 503


async def test_timer_enqueues_a_sweep_message(queues: FakeQueueSender) -> None:
    await call("sweep_timer", TimerRequest(past_due=False))
    assert [m.queue for m in queues.sent] == ["sync-poll"]
    assert isinstance(parse_message(queues.sent[0].body), SweepMessage)


# --- queue triggers -----------------------------------------------------------------------------------


def queue_message(body: str, dequeue_count: int = 1) -> QueueMessage:
    return QueueMessage(
        id="m-1",
        body=body.encode(),
        dequeue_count=dequeue_count,
        pop_receipt="pr",
        insertion_time=datetime.now(UTC),
    )


def sync_body() -> str:
    return InvoiceSyncMessage(
        invoice_id=payloads.INVOICE_ID,
        organization="contoso",
        message_name="Create",
        correlation_id="c-1",
        event_time=datetime.now(UTC),
    ).model_dump_json()


async def test_queue_trigger_calls_the_service_with_the_parsed_message(
    recorder: RecordingHandlers, queues: FakeQueueSender
) -> None:
    await call("invoice_sync", queue_message(sync_body()))
    assert len(recorder.calls) == 1
    assert isinstance(recorder.calls[0], InvoiceSyncMessage)
    assert queues.sent == []


@pytest.mark.parametrize("body", ["not json", '{"type": "invoice.sync"}', '{"type": "nope"}'])
async def test_malformed_queue_message_goes_straight_to_poison_with_reason(
    recorder: RecordingHandlers, queues: FakeQueueSender, body: str
) -> None:
    await call("invoice_sync", queue_message(body))
    assert recorder.calls == []
    assert [m.queue for m in queues.sent] == ["invoice-sync-poison"]
    poisoned = json.loads(queues.sent[0].body)
    assert poisoned["body"] == body
    assert poisoned["queue"] == "invoice-sync"
    assert poisoned["reason"].startswith("malformed message")


async def test_message_of_the_wrong_type_for_its_queue_is_poisoned(queues: FakeQueueSender) -> None:
    await call("invoice_cancel", queue_message(sync_body()))
    assert [m.queue for m in queues.sent] == ["invoice-cancel-poison"]
    assert "expected a InvoiceCancelMessage" in json.loads(queues.sent[0].body)["reason"]


async def test_o3_rate_limited_message_is_requeued_with_retry_after_visibility(
    recorder: RecordingHandlers, queues: FakeQueueSender
) -> None:
    recorder.fail_with = RateLimitedError("minute limit", retry_after=37.2, problem="minute")
    body = sync_body()
    await call("invoice_sync", queue_message(body))  # returns normally: the runtime deletes the original
    assert [(m.queue, m.body, m.visibility_timeout) for m in queues.sent] == [("invoice-sync", body, 38)]


async def test_retryable_error_raises_so_the_runtime_retries(
    recorder: RecordingHandlers, queues: FakeQueueSender
) -> None:
    recorder.fail_with = RetryableError("Xero 503")
    with pytest.raises(RetryableError):
        await call("invoice_sync", queue_message(sync_body()))
    assert queues.sent == []


async def test_o2_last_failed_attempt_tells_the_user_before_the_runtime_poisons(
    app: App, recorder: RecordingHandlers
) -> None:
    gave_up: list[tuple[object, str]] = []

    async def sync_gave_up(message: InvoiceSyncMessage, reason: str) -> None:
        gave_up.append((message.invoice_id, reason))

    app.gave_up = {InvoiceSyncMessage: sync_gave_up}
    recorder.fail_with = RetryableError("Xero 503")
    for attempt in (1, 4):
        with pytest.raises(RetryableError):
            await call("invoice_sync", queue_message(sync_body(), dequeue_count=attempt))
    assert gave_up == []  # retries left: nothing to tell yet
    with pytest.raises(RetryableError):  # still raises, so the runtime moves it to the poison queue
        await call("invoice_sync", queue_message(sync_body(), dequeue_count=5))
    assert [(str(invoice_id), reason) for invoice_id, reason in gave_up] == [
        (payloads.INVOICE_ID, "RetryableError: Xero 503")
    ]

"""The local Functions host on Azurite: HTTP → queue → trigger, poison, timers (issue 2)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from azure.storage.queue import QueueClient

from connector.adapters.storage.queues import StorageQueueSender, queue_service_from_settings
from connector.bootstrap import App, use_app
from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage, SweepMessage, XeroEventMessage
from connector.entrypoints.xero_signature import sign
from connector.settings import get_settings
from devstack.asgi_server import BackgroundServer
from devstack.azurite import Azurite
from devstack.host.app import LocalFunctionsHost
from devstack.host.config import QueueOptions
from tests.fixtures import dataverse_payloads as payloads
from tests.unit.entrypoints.test_xero_webhook_signature import BODY as XERO_BODY

pytestmark = pytest.mark.integration

FAST_QUEUES = QueueOptions(
    batch_size=4,
    new_batch_threshold=2,
    max_polling_interval=timedelta(milliseconds=200),
    visibility_timeout=timedelta(0),
    max_dequeue_count=3,
)


@dataclass
class Recorder:
    calls: list[object] = field(default_factory=list)
    fail: bool = False

    async def handle(self, message: object) -> None:
        self.calls.append(message)
        if self.fail:
            raise RuntimeError("handler failure injected by the test")


@dataclass
class Stack:
    url: str
    recorder: Recorder
    connection_string: str
    queue: Callable[[str], QueueClient]


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def _configure(azurite: Azurite, monkeypatch: pytest.MonkeyPatch, sweep_schedule: str) -> None:
    """Queues of its own for each test, so tests never see each other's messages."""
    suffix = uuid.uuid4().hex[:8]
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    for name, base in [
        ("INVOICE_SYNC_QUEUE", "invoice-sync"),
        ("INVOICE_CANCEL_QUEUE", "invoice-cancel"),
        ("XERO_EVENTS_QUEUE", "xero-events"),
        ("SYNC_POLL_QUEUE", "sync-poll"),
    ]:
        monkeypatch.setenv(name, f"{base}-{suffix}")
    monkeypatch.setenv("SWEEP_SCHEDULE", sweep_schedule)
    monkeypatch.setenv("REFERENCE_DATA_SCHEDULE", "0 0 3 * * *")


@pytest.fixture
def stack(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    _configure(azurite, monkeypatch, sweep_schedule="0 0 0 1 1 *")  # once a year: out of the way
    yield from _run(azurite)


def _run(azurite: Azurite) -> Iterator[Stack]:
    get_settings.cache_clear()
    settings = get_settings()
    recorder = Recorder()
    types = (InvoiceSyncMessage, InvoiceCancelMessage, XeroEventMessage, SweepMessage)
    handlers = dict.fromkeys(types, recorder.handle)
    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    use_app(App(settings=settings, queues=queues, handlers=handlers))
    host = LocalFunctionsHost(load_settings_file=False, queue_options=FAST_QUEUES)
    server = BackgroundServer(host.asgi_app()).start()
    try:
        yield Stack(
            url=server.base_url,
            recorder=recorder,
            connection_string=azurite.connection_string,
            queue=lambda name: QueueClient.from_connection_string(azurite.connection_string, name),
        )
    finally:
        server.stop()
        use_app(None)


def test_dataverse_create_lands_on_invoice_sync_and_reaches_the_handler(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.url}/api/dataverse/invoices",
        params={"code": "test-dataverse-secret"},
        content=payloads.encode(payloads.invoice_create()),
    )
    assert response.status_code == 202
    assert response.json()["queued"] == get_settings().invoice_sync_queue
    wait_until(lambda: len(stack.recorder.calls) == 1)
    message = stack.recorder.calls[0]
    assert isinstance(message, InvoiceSyncMessage)
    assert str(message.invoice_id) == payloads.INVOICE_ID


def test_b1_signed_xero_webhook_gives_one_message_per_event_and_bad_signature_nothing(stack: Stack) -> None:
    bad = httpx.post(
        f"{stack.url}/api/xero/webhook", content=XERO_BODY, headers={"x-xero-signature": "bm9wZQ=="}
    )
    assert (bad.status_code, bad.content) == (401, b"")
    good = httpx.post(
        f"{stack.url}/api/xero/webhook",
        content=XERO_BODY,
        headers={"x-xero-signature": sign(XERO_BODY, "test-xero-webhook-key")},
    )
    assert (good.status_code, good.content) == (200, b"")
    wait_until(lambda: len(stack.recorder.calls) == 1)
    time.sleep(0.5)  # nothing else arrives: the bad request enqueued nothing
    assert len(stack.recorder.calls) == 1
    assert isinstance(stack.recorder.calls[0], XeroEventMessage)


def test_o2_failing_handler_ends_in_poison_after_max_dequeue_count(stack: Stack) -> None:
    stack.recorder.fail = True
    response = httpx.post(
        f"{stack.url}/api/dataverse/invoices",
        headers={"x-connector-webhook-secret": "test-dataverse-secret"},
        content=payloads.encode(payloads.invoice_create()),
    )
    assert response.status_code == 202
    poison = stack.queue(f"{get_settings().invoice_sync_queue}-poison")
    wait_until(lambda: poison.get_queue_properties().approximate_message_count == 1, timeout=20)
    assert len(stack.recorder.calls) == FAST_QUEUES.max_dequeue_count
    [poisoned] = list(poison.receive_messages())
    import base64

    body = json.loads(base64.b64decode(poisoned.content))
    assert body["invoice_id"] == payloads.INVOICE_ID


def test_malformed_queue_message_is_poisoned_at_once_with_reason(stack: Stack) -> None:
    import base64

    queue_name = get_settings().invoice_sync_queue
    stack.queue(queue_name).send_message(base64.b64encode(b'{"type": "invoice.sync"}').decode())
    poison = stack.queue(f"{queue_name}-poison")
    wait_until(lambda: poison.get_queue_properties().approximate_message_count == 1)
    [poisoned] = list(poison.receive_messages())
    body = json.loads(base64.b64decode(poisoned.content))
    assert body["reason"].startswith("malformed message")
    assert body["body"] == '{"type": "invoice.sync"}'
    assert stack.recorder.calls == []


def test_timer_fires_on_its_schedule(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(azurite, monkeypatch, sweep_schedule="* * * * * *")  # every second
    running = _run(azurite)
    stack = next(running)
    try:
        wait_until(lambda: any(isinstance(call, SweepMessage) for call in stack.recorder.calls), timeout=10)
    finally:
        running.close()


def test_admin_invocation_needs_the_master_key(stack: Stack) -> None:
    refused = httpx.post(f"{stack.url}/admin/functions/sweep_timer", json={})
    assert refused.status_code == 401
    accepted = httpx.post(
        f"{stack.url}/admin/functions/sweep_timer", json={}, headers={"x-functions-key": "local-master-key"}
    )
    assert accepted.status_code == 202
    wait_until(lambda: any(isinstance(call, SweepMessage) for call in stack.recorder.calls))

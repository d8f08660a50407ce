"""log_step as span events and metrics, the handler span, the traceparent on messages (O1)."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from uuid import UUID, uuid4

import pytest

from connector.domain.messages import InvoiceSyncMessage, SweepMessage, parse_message
from connector.telemetry import (
    current_traceparent,
    get_logger,
    handler_span,
    log_step,
    record_dataverse_retry,
    record_xero_call,
    with_trace,
    with_traceparent,
)
from connector.telemetry import metrics as m
from tests.unit.telemetry.capture import Captured, captured_telemetry, event_names

logger = get_logger("tests.telemetry")
INVOICE = UUID("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def telemetry() -> Iterator[Captured]:
    with captured_telemetry() as captured:
        yield captured


def sync_message(**overrides: object) -> InvoiceSyncMessage:
    values: dict[str, object] = {
        "invoice_id": INVOICE,
        "organization": "contoso",
        "message_name": "Create",
        "correlation_id": "corr-1",
        "event_time": datetime.now(UTC) - timedelta(seconds=3),
    }
    values.update(overrides)
    return InvoiceSyncMessage.model_validate(values)


def test_o1_log_step_without_telemetry_still_logs_the_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="connector")
    log_step(logger, "sync.created", invoice_id=INVOICE, xero_number="INV-0001", skipped=None)
    assert caplog.records[-1].getMessage() == f"sync.created invoice_id={INVOICE} xero_number=INV-0001"


def test_o1_a_field_named_like_a_log_record_attribute_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="connector")
    log_step(logger, "reference_data.synced", name="Sales", message="ok", module="items")
    record = caplog.records[-1]
    assert record.getMessage() == "reference_data.synced name=Sales message=ok module=items"
    assert record.__dict__["field_name"] == "Sales"
    assert record.name == logger.name


def test_o1_a_step_is_an_event_on_the_current_span_and_names_the_span(telemetry: Captured) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("work"):
        log_step(logger, "sync.created", invoice_id=INVOICE, connection="Contoso UK", xero_number="INV-7")
    span = telemetry.span("work")
    assert event_names(span) == ["sync.created"]
    assert span.events[0].attributes is not None
    assert span.events[0].attributes["xero_number"] == "INV-7"
    assert span.attributes is not None
    assert span.attributes["connector.invoice_id"] == str(INVOICE)
    assert span.attributes["connector.connection"] == "Contoso UK"


def test_o1_steps_feed_their_counters(telemetry: Captured) -> None:
    log_step(logger, "sync.created", connection="A")
    log_step(logger, "sync.updated", connection="A")
    log_step(logger, "sync.adopted", connection="B")
    log_step(logger, "sync.failed", logging.WARNING)
    log_step(logger, "delete.needs_attention", logging.ERROR, connection="A", reason="paid")
    log_step(logger, "connection.needs_reconnect", logging.ERROR, connection="B")
    log_step(logger, "queue.rate_limited", logging.WARNING, queue="invoice-sync", retry_after=37)
    log_step(logger, "queue.poisoned", logging.ERROR, queue="invoice-sync", reason="malformed message")

    assert telemetry.total(m.SYNCED, connection="A") == 2
    assert telemetry.total(m.SYNCED, outcome="adopted") == 1
    assert telemetry.total(m.ADOPTED, connection="B") == 1
    assert telemetry.total(m.FAILED, operation="sync", connection="unknown") == 1
    assert telemetry.total(m.NEEDS_ATTENTION, operation="delete") == 1
    assert telemetry.total(m.NEEDS_RECONNECT, connection="B") == 1
    assert telemetry.total(m.RATE_LIMIT_WAITS, queue="invoice-sync") == 1
    assert telemetry.total(m.POISONED, reason="malformed") == 1
    [(dims, histogram)] = telemetry.points(m.RATE_LIMIT_WAIT_SECONDS)
    assert dims == {"where": "requeued", "queue": "invoice-sync"}
    assert (histogram.count, histogram.sum) == (1, 37)
    assert telemetry.total(m.STEPS, step="sync.created", level="INFO") == 1


def test_o1_the_handler_span_continues_the_messages_trace_and_links_the_invocation(
    telemetry: Captured,
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("host")
    message = sync_message(traceparent=TRACEPARENT)
    with (
        tracer.start_as_current_span("host invocation"),
        handler_span(message, queue="q", message_id="m1", attempt=2) as handler,
    ):
        log_step(logger, "sync.created", connection="Contoso UK")
        handler.set_outcome("ok", "created")
    span, host = telemetry.span("process invoice.sync"), telemetry.span("host invocation")
    assert span.context is not None and host.context is not None
    assert f"{span.context.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert span.parent is not None and f"{span.parent.span_id:016x}" == TRACEPARENT.split("-")[2]
    assert [link.context.span_id for link in span.links] == [host.context.span_id]
    assert span.attributes is not None
    assert span.attributes["connector.attempt"] == 2
    assert span.attributes["connector.outcome"] == "ok"
    assert span.attributes["connector.result"] == "created"
    assert span.attributes["connector.message_name"] == "Create"
    assert telemetry.total(m.SYNCED, connection="Contoso UK") == 1  # the step told the journey
    [(dims, latency)] = telemetry.points(m.SYNC_LATENCY)
    assert dims == {"direction": "dynamics_to_xero", "connection": "Contoso UK"}
    assert 3 <= latency.sum < 60
    [(dims, duration)] = telemetry.points(m.HANDLER_DURATION)
    assert dims == {"queue": "q", "outcome": "ok"} and duration.count == 1
    [(dims, attempts)] = telemetry.points(m.DEQUEUE_COUNT)
    assert dims == {"queue": "q"} and attempts.sum == 2


def test_o1_a_message_without_traceparent_starts_a_trace(telemetry: Captured) -> None:
    with handler_span(sync_message(), queue="q", message_id=None, attempt=None):
        inner = current_traceparent()
    span = telemetry.span("process invoice.sync")
    assert span.parent is None
    assert span.context is not None and inner is not None
    assert inner.split("-")[1] == f"{span.context.trace_id:032x}"


def test_o1_old_messages_without_traceparent_parse_and_junk_traceparents_are_dropped() -> None:
    old = '{"type":"sync.sweep","scheduled_for":"2026-11-21T12:00:00Z","correlation_id":"c"}'
    assert parse_message(old).traceparent is None
    junk = old[:-1] + ',"traceparent":"not-a-traceparent"}'
    assert parse_message(junk).traceparent is None
    kept = old[:-1] + f',"traceparent":"{TRACEPARENT}"}}'
    assert parse_message(kept).traceparent == TRACEPARENT


def test_o1_messages_and_bodies_carry_the_current_trace(telemetry: Captured) -> None:
    sweep = SweepMessage(scheduled_for=datetime.now(UTC), correlation_id="c")
    assert with_trace(sweep) is sweep  # nothing to carry outside a span
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("webhook"):
        carried = with_trace(sweep)
        body = with_traceparent(sweep.model_dump_json())
        poison = with_traceparent('{"reason": "malformed", "body": "x"}')
    traceparent = carried.traceparent
    assert traceparent is not None and parse_message(body).traceparent == traceparent
    assert poison == '{"reason": "malformed", "body": "x"}'  # not a message: left as it is


class FakeHTTPStatusException(Exception):
    """The shape of xero-python's HTTPStatusException that the metric reads."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        super().__init__(f"HTTP {status}")
        self.http_resp = SimpleNamespace(status=status)
        self.headers = headers


def test_o1_xero_calls_are_counted_by_operation_and_status(telemetry: Captured) -> None:
    record_xero_call("get_invoice", "conn-1", {"X-DayLimit-Remaining": "4000"}, 4000)
    headers = {"Retry-After": "5"}
    try:
        raise FakeHTTPStatusException(429, headers)
    except FakeHTTPStatusException:
        record_xero_call("create_invoices", "conn-1", headers, None)
    try:
        raise ValueError("a caller further up is handling this")
    except ValueError:
        record_xero_call("get_invoice", "conn-1", {"other": "headers"}, 3999)

    assert telemetry.total(m.XERO_CALLS, operation="get_invoice", status="ok") == 2
    assert telemetry.total(m.XERO_CALLS, operation="create_invoices", status="429") == 1
    assert telemetry.total(m.XERO_RATE_LIMITED, connection_id="conn-1") == 1
    [(dims, used)] = telemetry.points(m.XERO_DAY_BUDGET)
    assert dims == {"connection_id": "conn-1"}
    assert used == pytest.approx(1 - 3999 / 5000)


def test_o1_dataverse_429s_are_throttling_and_5xx_are_not(telemetry: Captured) -> None:
    record_dataverse_retry("GET", 429, 2.0)
    record_dataverse_retry("PATCH", 503, 1.0)
    assert telemetry.total(m.DATAVERSE_THROTTLED) == 1
    assert telemetry.total(m.DATAVERSE_THROTTLED, operation="GET") == 1


def test_o1_a_sweep_span_keeps_each_invoice_on_its_events_not_on_the_span(telemetry: Captured) -> None:
    sweep = SweepMessage(scheduled_for=datetime.now(UTC), correlation_id="c")
    with handler_span(sweep, queue="sync-poll", message_id="m", attempt=1):
        log_step(logger, "xero_event.paid", invoice_id=INVOICE, connection="A")
        log_step(logger, "xero_event.updated", invoice_id=uuid4(), connection="A")
    span = telemetry.span("process sync.sweep")
    assert span.attributes is not None and "connector.invoice_id" not in span.attributes
    invoices = [event.attributes["invoice_id"] for event in span.events if event.attributes]
    assert len(set(invoices)) == 2 and invoices[0] == str(INVOICE)


def test_o1_a_new_meter_provider_never_inherits_a_collected_ones_instruments() -> None:
    # CPython reuses a collected object's id at once; instruments cached by id() went to a dead provider.
    for attempt in range(50):
        with captured_telemetry() as captured:
            m.count(m.POISONED, queue="sync", reason="malformed")
            assert captured.total(m.POISONED, queue="sync") == 1, f"provider {attempt} counted nothing"
        del captured
        gc.collect()

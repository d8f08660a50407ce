"""One invoice is one trace, webhook → queue → handler → write-back; retries continue it; metrics (O1).

Driven in-process with OpenTelemetry's in-memory exporters: the Dataverse webhook function is called,
then the message it enqueued is handed to the queue trigger's processing, as the runtime would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from connector.bootstrap import use_app
from connector.domain.dynamics import ExportStatus
from connector.domain.messages import SweepMessage, parse_message
from connector.errors import RateLimitedError, RetryableError
from connector.telemetry import metrics as m
from tests.fixtures import dataverse_payloads as payloads
from tests.integration.telemetry.journey import Journey, add_invoice, make_journey
from tests.unit.telemetry.capture import Captured, captured_telemetry, event_names

INVOICE = uuid.UUID(payloads.INVOICE_ID)


@pytest.fixture
def telemetry() -> Iterator[Captured]:
    with captured_telemetry() as captured:
        yield captured


@pytest.fixture
def journey() -> Iterator[Journey]:
    made = make_journey()
    use_app(made.app)
    yield made
    use_app(None)


def trace_ids(telemetry: Captured) -> set[int]:
    return {span.context.trace_id for span in telemetry.spans() if span.context is not None}


async def test_o1_one_invoice_is_one_trace_from_webhook_to_write_back(
    telemetry: Captured, journey: Journey
) -> None:
    add_invoice(journey, INVOICE)

    assert await journey.dynamics_event(INVOICE) == 202
    sent = journey.take()
    assert parse_message(sent.body).traceparent is not None  # the trace crosses the queue in the body
    await journey.deliver(sent)

    written = journey.dataverse.details[INVOICE]
    assert written.export_status == ExportStatus.YES  # the write-back happened
    webhook, handler = telemetry.span("dataverse_webhook"), telemetry.span("process invoice.sync")
    assert len(trace_ids(telemetry)) == 1
    assert webhook.context is not None and handler.parent is not None
    assert handler.parent.span_id == webhook.context.span_id
    assert webhook.attributes is not None and handler.attributes is not None
    assert webhook.attributes["http.response.status_code"] == 202
    assert webhook.attributes["connector.invoice_id"] == str(INVOICE)
    assert webhook.attributes["connector.correlation_id"] == payloads.CORRELATION_ID
    assert "dataverse_webhook.enqueued" in event_names(webhook)
    expected = {
        "connector.invoice_id": str(INVOICE),
        "connector.connection": "Contoso UK",
        "connector.xero_invoice_id": written.xero_invoice_id,
        "connector.xero_number": written.xero_invoice_number,
        "connector.message_name": "Create",
        "connector.correlation_id": payloads.CORRELATION_ID,
        "connector.attempt": 1,
        "connector.outcome": "ok",
        "connector.result": "created",
        "messaging.destination.name": "invoice-sync",
    }
    assert {key: handler.attributes.get(key) for key in expected} == expected
    assert event_names(handler)[-2:] == ["sync.created", "queue.done"]


async def test_o1_a_retried_message_continues_the_same_trace(telemetry: Captured, journey: Journey) -> None:
    add_invoice(journey, INVOICE)
    journey.xero.fail_calls["create_invoice"] = [RetryableError("Xero 503")]
    journey.xero.fail_calls["create_invoices"] = [RetryableError("Xero 503")]

    await journey.dynamics_event(INVOICE)
    await journey.deliver_until_done(journey.take())

    handlers = [span for span in telemetry.spans() if span.name == "process invoice.sync"]
    assert [span.attributes["connector.attempt"] for span in handlers if span.attributes] == [1, 2]
    assert [span.attributes["connector.outcome"] for span in handlers if span.attributes] == [
        "retrying",
        "ok",
    ]
    assert not handlers[0].status.is_ok and event_names(handlers[0])[-1] == "exception"
    assert len(trace_ids(telemetry)) == 1
    webhook = telemetry.span("dataverse_webhook")
    assert webhook.context is not None
    assert {span.parent.span_id for span in handlers if span.parent} == {webhook.context.span_id}


async def test_o1_a_rate_limited_message_waits_on_its_queue_in_the_same_trace(
    telemetry: Captured, journey: Journey
) -> None:
    add_invoice(journey, INVOICE)
    journey.xero.fail_calls["create_invoice"] = [RateLimitedError("Xero 429", 7)]
    journey.xero.fail_calls["create_invoices"] = [RateLimitedError("Xero 429", 7)]

    await journey.dynamics_event(INVOICE)
    await journey.deliver(journey.take())
    again = journey.take()  # the same body, back on the queue, hidden for Retry-After
    assert again.visibility_timeout == 7
    await journey.deliver(again)

    handlers = [span for span in telemetry.spans() if span.name == "process invoice.sync"]
    assert [span.attributes["connector.outcome"] for span in handlers if span.attributes] == [
        "rate_limited",
        "ok",
    ]
    assert len(trace_ids(telemetry)) == 1


async def test_o1_a_create_left_to_the_sweep_is_sent_by_it_in_the_same_trace(
    telemetry: Captured, journey: Journey
) -> None:
    add_invoice(journey, INVOICE)
    journey.xero.fail_calls["create_invoice"] = [RateLimitedError("Xero call budget is used up for now", 40)]

    await journey.dynamics_event(INVOICE)
    await journey.deliver(journey.take())
    assert journey.queues.on("invoice-sync") == []  # not retried one by one
    sweep = journey.take("sync-poll")  # asked for once the budget is back
    assert sweep.visibility_timeout == 40
    await journey.deliver(sweep, message_type=SweepMessage)

    assert telemetry.total(m.SYNCED, connection="Contoso UK", outcome="created") == 1
    assert len(trace_ids(telemetry)) == 1


async def test_o1_metrics_after_a_small_scenario(telemetry: Captured, journey: Journey) -> None:
    synced = [uuid.uuid5(INVOICE, str(n)) for n in range(3)]
    refused = uuid.uuid5(INVOICE, "refused")
    for invoice_id in [*synced, refused]:
        add_invoice(journey, invoice_id)
    journey.xero.fail_calls["create_invoice"] = [RateLimitedError("Xero 429", 7)]
    journey.xero.fail_calls["create_invoices"] = [RateLimitedError("Xero 429", 7)]

    for invoice_id in synced:
        await journey.dynamics_event(invoice_id)
        first = journey.take()
        await journey.deliver(first)
        if journey.queues.on("invoice-sync"):  # the one that waited out the 429
            await journey.deliver(journey.take())
    journey.xero.reject_with = ["Currency GBP is not enabled for this organisation."]
    await journey.dynamics_event(refused)
    await journey.deliver(journey.take())

    assert telemetry.total(m.SYNCED, connection="Contoso UK", outcome="created") == 3
    assert telemetry.total(m.FAILED, operation="sync") == 1
    assert telemetry.total(m.RATE_LIMIT_WAITS, queue="invoice-sync") == 1
    [(_, waited)] = telemetry.points(m.RATE_LIMIT_WAIT_SECONDS)
    assert (waited.count, waited.sum) == (1, 7)
    outcomes = {dims["outcome"]: point.count for dims, point in telemetry.points(m.HANDLER_DURATION)}
    assert outcomes == {"ok": 4, "rate_limited": 1}
    [(_, latency)] = [
        (d, p) for d, p in telemetry.points(m.SYNC_LATENCY) if d["direction"] == "dynamics_to_xero"
    ]
    assert latency.count == 3

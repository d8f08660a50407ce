"""Spans: one per HTTP webhook and per queue handler, joined across the queue hop by a W3C traceparent.

Storage queues carry no trace context, so every message carries its own `traceparent`; the handler
continues it (the host's invocation span, when there is one, becomes a link).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from connector.telemetry.metrics import record_handler
from connector.telemetry.redaction import redact_value
from connector.telemetry.state import JOURNEY, STATE, Journey

TRACER_NAME = "connector"
P = ParamSpec("P")
R = TypeVar("R")

# Fields of a step that also describe the span it happens in (the invoice journey's identity).
SPAN_FIELDS = {
    "invoice_id": "connector.invoice_id",
    "connection": "connector.connection",
    "xero_invoice_id": "connector.xero_invoice_id",
    "xero_number": "connector.xero_number",
    "correlation_id": "connector.correlation_id",
    "message_name": "connector.message_name",
}
# Messages whose handler works on many invoices.
BATCH_MESSAGES = frozenset({"sync.sweep", "reference.sync"})


def _tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer(TRACER_NAME, tracer_provider=STATE.tracer_provider)


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to carry across a queue; None when not tracing."""
    if not STATE.enabled:
        return None
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def with_trace(message: Any) -> Any:
    """The queue message (a pydantic model with a `traceparent` field) carrying the current trace."""
    traceparent = current_traceparent()
    if traceparent is None or getattr(message, "traceparent", None) is not None:
        return message
    return message.model_copy(update={"traceparent": traceparent})


def traced_invocation(name: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """A span around an HTTP or timer function (under the host's own span in Azure), with the HTTP
    status code of the response, if any."""

    def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(function)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if not STATE.enabled:
                return await function(*args, **kwargs)
            with _tracer().start_as_current_span(name) as span:
                result = await function(*args, **kwargs)
                status = getattr(result, "status_code", None)
                if isinstance(status, int):
                    span.set_attribute("http.response.status_code", status)
                return result

        return wrapper

    return decorate


class HandlerSpan:
    """What queue processing tells the span about the run: its outcome and the handler's result."""

    def __init__(self, span: Any) -> None:
        self.span = span
        self.outcome = "ok"

    def set_outcome(self, outcome: str, result: object = None) -> None:
        self.outcome = outcome
        if result is not None:
            self.span.set_attribute("connector.result", str(redact_value(result)))


@contextmanager
def handler_span(
    message: Any, *, queue: str, message_id: str | None, attempt: int | None
) -> Iterator[HandlerSpan]:
    """The span of one queue handler run, continuing the message's trace; metrics on the way out."""
    journey = Journey(
        queue=queue, message_type=getattr(message, "type", "unknown"), event_time=_event_time(message)
    )
    token = JOURNEY.set(journey)
    started = time.monotonic()
    handle = HandlerSpan(None)
    try:
        if not STATE.enabled:
            handle.span = _NoSpan()
            yield handle
            return
        parent, links = _parent_and_links(getattr(message, "traceparent", None))
        name = f"process {journey.message_type}"
        with _tracer().start_as_current_span(
            name, context=parent, links=links, kind=_consumer(), attributes=_message_attributes(message)
        ) as span:
            span.set_attribute("messaging.destination.name", queue)
            span.set_attribute("messaging.operation.type", "process")
            if message_id:
                span.set_attribute("messaging.message.id", message_id)
            if attempt is not None:
                span.set_attribute("connector.attempt", attempt)
            handle.span = span
            try:
                yield handle
            finally:
                span.set_attribute("connector.outcome", handle.outcome)
    finally:
        JOURNEY.reset(token)
        if STATE.enabled:
            record_handler(queue, handle.outcome, time.monotonic() - started, attempt)


class _NoSpan:
    def set_attribute(self, key: str, value: object) -> None:
        return None


def _consumer() -> Any:
    from opentelemetry.trace import SpanKind

    return SpanKind.CONSUMER


def _parent_and_links(traceparent: str | None) -> tuple[Any, list[Any]]:
    """The message's trace as parent; the current span (the host's invocation) as a link, if any."""
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    current = trace.get_current_span().get_span_context()
    if not traceparent:
        return None, []
    parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    if not trace.get_current_span(parent).get_span_context().is_valid:
        return None, []  # an unreadable traceparent: start afresh rather than fail the message
    links = [trace.Link(current)] if current.is_valid else []
    return parent, links


def _message_attributes(message: Any) -> dict[str, Any]:
    attributes = {"connector.message_type": getattr(message, "type", "unknown")}
    for field, attribute in SPAN_FIELDS.items():
        value = getattr(message, field, None)
        if value is not None:
            attributes[attribute] = str(redact_value(value))
    for field in ("tenant_id", "event_category", "event_type", "resource_id", "reason"):
        value = getattr(message, field, None)
        if value is not None:
            attributes[f"connector.{field}"] = str(redact_value(value))
    return attributes


def _event_time(message: Any) -> datetime | None:
    value = getattr(message, "event_time", None)
    if isinstance(value, datetime):
        return value
    text = getattr(message, "event_date_utc", None)  # Xero events: ISO 8601 text
    if isinstance(text, str):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def add_step(step: str, fields: dict[str, Any], level: int) -> None:
    """The step as an event on the current span; its identity fields also as the span's attributes."""
    if not STATE.enabled:
        return
    journey = JOURNEY.get()
    if journey is not None and fields.get("connection"):
        journey.connection = str(fields["connection"])
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes = {key: _attribute(value) for key, value in fields.items() if value is not None}
    span.add_event(step, {"step": step, "level": level, **attributes})
    if journey is not None and journey.message_type in BATCH_MESSAGES:
        return  # one span, many invoices: their ids stay on the events
    for field, attribute in SPAN_FIELDS.items():
        if fields.get(field) is not None:
            span.set_attribute(attribute, _attribute(fields[field]))


def _attribute(value: Any) -> Any:
    return value if isinstance(value, bool | int | float | str) else str(value)

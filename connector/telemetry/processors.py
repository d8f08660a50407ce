"""OpenTelemetry SDK processors: the scrubber in front of every exporter, and what dependency spans tell.

Imported only when telemetry is on (the SDK costs import time).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status

from connector.telemetry.metrics import record_token_request
from connector.telemetry.redaction import redact_attributes, redact_text

TOKEN_PATH = "/connect/token"  # noqa: S105 - a URL path


class ScrubbingSpanProcessor(SpanProcessor):
    """Scrubs name, attributes, events (exception messages and stack traces too), links and status.

    `_on_ending` runs on every processor before any `on_end`, so the batch exporter only ever queues
    the scrubbed span, whatever order the processors were added in.
    """

    def _on_ending(self, span: Span) -> None:
        try:
            _scrub_span(span)
        except Exception:  # never break the caller's span end; the export then has what it has
            return

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            _observe(span)
        except Exception:
            return


def _scrub_span(span: Span) -> None:
    # The span is ending: its attributes are frozen, so the scrubbed ones replace them whole.
    span._name = redact_text(span._name)
    clean = redact_attributes(span._attributes)
    if clean is not None:
        span._attributes = BoundedAttributes(attributes=clean, immutable=True, maxlen=None)
    events: Any = span._events  # a BoundedList: its deque is where the events are kept
    for index, event in enumerate(list(events)):
        cleaned = redact_attributes(event.attributes)
        name = redact_text(event.name)
        if cleaned is not None or name != event.name:
            events._dq[index] = Event(name, cleaned or event.attributes, event.timestamp)
    for link in span._links:
        cleaned = redact_attributes(link.attributes)
        if cleaned is not None:
            link._attributes = BoundedAttributes(attributes=cleaned, immutable=True, maxlen=None)
    status = span._status
    if status.description:
        span._status = Status(status.status_code, redact_text(status.description))


def _observe(span: ReadableSpan) -> None:
    """Xero token requests seen as HTTP dependency spans: the adapter does not report them itself."""
    attributes: Any = span.attributes or {}
    url = str(attributes.get("url.full") or attributes.get("http.url") or "")
    if url.split("?", 1)[0].endswith(TOKEN_PATH):
        status = attributes.get("http.response.status_code") or attributes.get("http.status_code")
        record_token_request(int(status) if status else None)


class ScrubbingLogRecordProcessor(LogRecordProcessor):
    """Scrubs the body and every attribute (exception.message and exception.stacktrace too).

    Must run before the exporting processor: `prepend_log_processor` puts it first.
    """

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        try:
            record = log_record.log_record
            if isinstance(record.body, str):
                record.body = redact_text(record.body)
            clean = redact_attributes(record.attributes)
            if clean is not None:
                record.attributes = BoundedAttributes(attributes=clean, immutable=False, maxlen=None)
        except Exception:
            return

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def prepend_log_processor(provider: Any, processor: LogRecordProcessor) -> bool:
    """Put `processor` in front of those already on an SDK LoggerProvider (the exporter's included).

    The SDK only appends, and a provider configured by the Functions worker already has its exporter:
    reorder its (private) tuple. False when that structure is not there; the processor is then appended.
    """
    multi = getattr(provider, "_multi_log_record_processor", None)
    existing = getattr(multi, "_log_record_processors", None)
    if isinstance(existing, tuple):
        if not any(isinstance(p, type(processor)) for p in existing):
            multi._log_record_processors = (processor, *existing)  # type: ignore[union-attr]
        return True
    provider.add_log_record_processor(processor)
    return False

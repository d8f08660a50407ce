"""OpenTelemetry's in-memory exporters behind the connector's scrubbers, as production wires them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from connector.telemetry import use_providers
from connector.telemetry.processors import (
    ScrubbingLogRecordProcessor,
    ScrubbingSpanProcessor,
    prepend_log_processor,
)
from connector.telemetry.redaction import RedactingFilter


@dataclass
class Captured:
    tracer_provider: TracerProvider
    spans_exporter: InMemorySpanExporter
    metrics_reader: InMemoryMetricReader
    logs_exporter: InMemoryLogExporter

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        [found] = [span for span in self.spans() if span.name == name]
        return found

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(dimensions, value) of every data point of a metric: a sum, a gauge value or a histogram."""
        data = self.metrics_reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            value = getattr(point, "value", None)
                            dims = dict(point.attributes or {})
                            found.append((dims, value if value is not None else point))
        return found

    def total(self, name: str, **dims: str) -> float:
        """The sum of a counter over the points whose dimensions include `dims`."""
        values = [value for attributes, value in self.points(name) if dims.items() <= attributes.items()]
        return float(sum(values))

    def exported_text(self) -> str:
        """Everything the exporters hold, as one text: what would have left the process."""
        parts = [span.to_json() for span in self.spans()]
        parts += [record.to_json() for record in self.logs_exporter.get_finished_logs()]
        data = self.metrics_reader.get_metrics_data()
        parts.append(data.to_json() if data else "")
        return "\n".join(parts)


@contextmanager
def captured_telemetry(logger_name: str = "connector") -> Iterator[Captured]:
    """Telemetry on, into in-memory exporters, with the scrubbers in front as configure_telemetry puts
    them; the connector's log records reach the log exporter through OpenTelemetry's LoggingHandler."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))  # before the scrubber, on purpose
    tracer_provider.add_span_processor(ScrubbingSpanProcessor())
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logs = InMemoryLogExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    assert prepend_log_processor(logger_provider, ScrubbingLogRecordProcessor())
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=logger_provider)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(logger_name)
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    use_providers(tracer_provider, meter_provider)
    try:
        yield Captured(tracer_provider, spans, reader, logs)
    finally:
        use_providers(None, None)
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        tracer_provider.shutdown()
        meter_provider.shutdown()
        logger_provider.shutdown()


def event_names(span: ReadableSpan) -> list[str]:
    return [event.name for event in span.events]


def as_json(value: Any) -> str:
    return json.dumps(value, default=str)

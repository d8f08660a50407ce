"""`make demo ARGS=--traces`: the connector's telemetry, seen without Azure.

In-memory OpenTelemetry providers are installed before the platform starts, exactly where the
Functions worker puts Azure Monitor's, so the connector attaches to them as it would in Azure
(scrubbers in front, httpx/urllib3/Azure SDK instrumented). At the end each invoice's traces are
printed as trees, and the custom metrics as a table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.table import Table
from rich.tree import Tree

from connector.telemetry.processors import ScrubbingSpanProcessor

INVOICE_ATTRIBUTE = "connector.invoice_id"
# What is worth a glance on a span line, in this order.
SHOWN = (
    "connector.outcome",
    "connector.attempt",
    "connector.result",
    "connector.xero_number",
    "http.response.status_code",
    "http.status_code",
)


@dataclass
class TraceRecorder:
    spans: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)

    def install(self) -> TraceRecorder:
        resource = Resource.create({"service.name": "dynamics-xero-connector (demo)"})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(ScrubbingSpanProcessor())
        provider.add_span_processor(SimpleSpanProcessor(self.spans))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[self.reader], resource=resource))
        return self

    def trees(self, invoice_id: str, title: str) -> Tree:
        """Every trace one of whose spans is about this invoice, oldest first."""
        by_trace: dict[int, list[ReadableSpan]] = defaultdict(list)
        for span in self.spans.get_finished_spans():
            if span.context is not None:
                by_trace[span.context.trace_id].append(span)
        ours = [
            spans
            for spans in by_trace.values()
            if any((s.attributes or {}).get(INVOICE_ATTRIBUTE) == invoice_id for s in spans)
        ]
        ours.sort(key=lambda spans: min(s.start_time or 0 for s in spans))
        top = Tree(f"[bold]{title}[/bold]  [dim]invoice {invoice_id}[/dim]")
        for spans in ours:
            _add_trace(top, spans)
        if not ours:
            top.add("[dim](no trace recorded)[/dim]")
        return top

    def metrics_table(self) -> Table:
        table = Table(title="Custom metrics (what the workbook and alerts read)", show_lines=False)
        for column in ("Metric", "Dimensions", "Value"):
            table.add_column(column, overflow="fold")
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                if scope.scope.name != "connector":
                    continue
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        dims = ", ".join(f"{k}={v!s}" for k, v in sorted((point.attributes or {}).items()))
                        table.add_row(metric.name, dims, _value(point))
        return table


def _value(point: Any) -> str:
    if hasattr(point, "value"):
        value = point.value
        return f"{value:.3f}" if isinstance(value, float) and not value.is_integer() else str(int(value))
    mean = point.sum / point.count if point.count else 0
    return f"n={point.count}, mean {mean:.2f}, max {point.max:.2f}"


def _add_trace(top: Tree, spans: list[ReadableSpan]) -> None:
    ids = {s.context.span_id for s in spans if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        parent = span.parent.span_id if span.parent is not None and span.parent.span_id in ids else None
        children[parent].append(span)
    trace_id = spans[0].context.trace_id if spans[0].context is not None else 0
    branch = top.add(f"[cyan]trace {trace_id:032x}[/cyan]")
    for root in sorted(children[None], key=lambda s: s.start_time or 0):
        _add_span(branch, root, children)


def _add_span(node: Tree, span: ReadableSpan, children: dict[int | None, list[ReadableSpan]]) -> None:
    here = node.add(_label(span))
    for event in span.events:
        if event.name != "exception":
            here.add(f"[dim]· {event.name}[/dim]")
        else:
            message = (event.attributes or {}).get("exception.message", "")
            here.add(f"[red]! {(event.attributes or {}).get('exception.type', '')}: {message}[/red]")
    kids = sorted(children.get(span.context.span_id if span.context else None, []), key=_start)
    for group in _grouped(kids):
        if len(group) == 1:
            _add_span(here, group[0], children)
        else:
            total = sum(_millis(s) for s in group)
            here.add(f"{group[0].name} ×{len(group)}  [dim]{total:.0f} ms in all[/dim]")


def _grouped(spans: list[ReadableSpan]) -> list[list[ReadableSpan]]:
    """Runs of leaf dependency calls with the same name become one line."""
    groups: list[list[ReadableSpan]] = []
    for span in spans:
        leaf = span.kind == trace.SpanKind.CLIENT
        if (
            groups
            and leaf
            and groups[-1][0].kind == trace.SpanKind.CLIENT
            and groups[-1][0].name == span.name
        ):
            groups[-1].append(span)
        else:
            groups.append([span])
    return groups


def _start(span: ReadableSpan) -> int:
    return span.start_time or 0


def _millis(span: ReadableSpan) -> float:
    return ((span.end_time or 0) - (span.start_time or 0)) / 1e6


def _label(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    shown = " ".join(f"{key.split('.')[-1]}={attributes[key]!s}" for key in SHOWN if key in attributes)
    url = attributes.get("url.full") or attributes.get("http.url")
    where = f" {str(url).split('?')[0]}" if url else ""
    style = "red" if not span.status.is_ok and span.status.status_code.name == "ERROR" else "green"
    return f"[{style}]{span.name}[/{style}]{where}  [dim]{_millis(span):.0f} ms[/dim]  {shown}".rstrip()

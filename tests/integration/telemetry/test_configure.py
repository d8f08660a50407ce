"""configure_telemetry at start-up, in fresh interpreters (global providers can be set once per process).

- off unless asked: no OpenTelemetry imported at all, nothing recorded;
- attached to providers made before function_app is imported (as the Functions worker does): the
  scrubbers go in front of the exporters, and what is exported is scrubbed;
- with the Azure Monitor distro itself: the log scrubber is first, the span scrubber present, and the
  dependencies (httpx, urllib3, the Azure SDK) are instrumented.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.integration.telemetry.coldstart import CONNECTION_STRING, ENV, REPO


def run(program: str, **extra: str) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CONNECTOR_", "PYTHON_"))}
    env.update(ENV, **extra)
    done = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", program], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


OFF = """
import json, sys, logging
import function_app
from connector.telemetry import get_logger, log_step
from connector.telemetry.state import STATE
log_step(get_logger("t"), "sync.created", connection="x")
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print("RESULT", json.dumps({"mode": STATE.mode, "otel": loaded}))
"""


def test_o1_telemetry_is_off_locally_unless_asked_and_costs_no_import() -> None:
    assert run(OFF) == {"mode": "off", "otel": []}
    assert run(OFF, CONNECTOR_TELEMETRY="console")["mode"] == "console"
    # A connection string alone does not export: the worker does, when told to.
    assert run(OFF, APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION_STRING)["mode"] == "off"


ATTACHED = """
import json, logging
from opentelemetry import _logs, trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# What the worker does before it imports function_app: providers with their exporters, a log handler.
spans, logs = InMemorySpanExporter(), InMemoryLogExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(tracer_provider)
logger_provider = LoggerProvider()
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
_logs.set_logger_provider(logger_provider)
logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
logging.getLogger().setLevel(logging.INFO)

import function_app
from connector.telemetry import get_logger, log_step
from connector.telemetry.state import STATE

secret = "configure-dataverse-secret"
with trace.get_tracer("t").start_as_current_span("work", attributes={"note": f"?code={secret}"}) as span:
    log_step(get_logger("t"), "sync.created", connection="x", reason=f"Bearer {secret}")
    logging.getLogger("azure.core").warning("sent %s", secret)
    span.record_exception(RuntimeError(f"failed with {secret}"))
exported = "".join(s.to_json() for s in spans.get_finished_spans())
exported += "".join(r.to_json() for r in logs.get_finished_logs())
result = {"mode": STATE.mode, "leaked": secret in exported, "steps": "sync.created" in exported}
print("RESULT", json.dumps({**result, "logs": len(logs.get_finished_logs())}))
"""


def test_o1_attached_to_the_workers_providers_everything_exported_is_scrubbed() -> None:
    result = run(ATTACHED, DATAVERSE_WEBHOOK_SECRET="configure-dataverse-secret")
    assert result == {"mode": "attached", "leaked": False, "steps": True, "logs": 2}


DISTRO = """
import json
from azure.monitor.opentelemetry import configure_azure_monitor
configure_azure_monitor(enable_live_metrics=False)
import function_app
from opentelemetry import _logs, trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
from azure.core.settings import settings
from connector.telemetry.state import STATE
logs = _logs.get_logger_provider()._multi_log_record_processor._log_record_processors
spans = trace.get_tracer_provider()._active_span_processor._span_processors
print("RESULT", json.dumps({
    "mode": STATE.mode,
    "first_log_processor": type(logs[0]).__name__,
    "span_processors": [type(p).__name__ for p in spans],
    "instrumented": [HTTPXClientInstrumentor().is_instrumented_by_opentelemetry,
                     URLLib3Instrumentor().is_instrumented_by_opentelemetry],
    "azure_sdk": getattr(settings.tracing_implementation(), "__name__", None),
}))
"""


def test_o1_with_the_azure_monitor_distro_the_scrubbers_sit_before_its_exporters() -> None:
    result = run(
        DISTRO,
        APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION_STRING,
        PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY="true",
    )
    assert result["mode"] == "attached"
    assert result["first_log_processor"] == "ScrubbingLogRecordProcessor"
    assert "ScrubbingSpanProcessor" in result["span_processors"]
    assert "BatchSpanProcessor" in result["span_processors"]
    assert result["instrumented"] == [True, True]
    assert result["azure_sdk"] == "OpenTelemetrySpan"

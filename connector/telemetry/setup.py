"""`configure_telemetry`: the one place telemetry is set up, called once at start-up by function_app.

Modes (`CONNECTOR_TELEMETRY` picks one; unset means "auto"):

- attached: OpenTelemetry SDK providers are already there. In Azure the Functions worker made them
  (`PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true` makes it call `configure_azure_monitor()` with
  `APPLICATIONINSIGHTS_CONNECTION_STRING` before it imports function_app, and the Azure docs say not
  to call it a second time); `make demo ARGS=--traces` and the tests make in-memory ones. The connector
  adds its scrubbers in front of the exporters and the dependency instrumentations that are missing.
- console (`CONNECTOR_TELEMETRY=console`): spans and metrics printed to stdout, for `func start`.
- off: nothing is recorded (locally, unless asked; or `CONNECTOR_TELEMETRY=off` anywhere).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from connector.telemetry.redaction import install_log_redaction, register_secrets_from
from connector.telemetry.state import STATE
from connector.telemetry.steps import LOGGER_NAME

MODE_SETTING = "CONNECTOR_TELEMETRY"
WORKER_SETTING = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"

logger = logging.getLogger(f"{LOGGER_NAME}.telemetry")


def configure_telemetry(settings: object | None = None) -> str:
    """Register the app's secrets with the scrubber, then pick and set up a mode; returns its name.

    Safe to call more than once: later calls only register secrets and scrub new log handlers.
    """
    register_secrets_from(settings)
    install_log_redaction([logging.getLogger(LOGGER_NAME)])
    if STATE.mode != "off":
        return STATE.mode
    requested = os.environ.get(MODE_SETTING, "").strip().lower()
    if requested == "off":
        return "off"
    if _sdk_tracer_provider() is not None:
        _attach()
    elif requested == "console":
        _console()
    else:
        if os.environ.get(CONNECTION_STRING) and os.environ.get(WORKER_SETTING, "").lower() != "true":
            logger.warning(
                "%s is set but %s is not 'true': no telemetry is exported (the worker exports it)",
                CONNECTION_STRING,
                WORKER_SETTING,
            )
        return "off"
    return STATE.mode


def _sdk_tracer_provider() -> Any:
    """The global SDK TracerProvider, if someone set one; without importing OpenTelemetry otherwise."""
    if STATE.tracer_provider is not None:
        return STATE.tracer_provider
    if "opentelemetry.trace" not in sys.modules:
        return None  # nobody configured OpenTelemetry in this process
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return provider if hasattr(provider, "add_span_processor") else None


def _attach() -> None:
    from opentelemetry import _logs

    from connector.telemetry.processors import (
        ScrubbingLogRecordProcessor,
        ScrubbingSpanProcessor,
        prepend_log_processor,
    )

    provider = _sdk_tracer_provider()
    provider.add_span_processor(ScrubbingSpanProcessor())
    log_provider = _logs.get_logger_provider()
    scrubbable = hasattr(log_provider, "add_log_record_processor")
    if scrubbable and not prepend_log_processor(log_provider, ScrubbingLogRecordProcessor()):
        logger.warning("log records could not be scrubbed before export: the SDK changed shape")
    _instrument_dependencies(provider)
    STATE.enabled, STATE.mode = True, "attached"


def _console() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    from connector.telemetry.processors import ScrubbingSpanProcessor

    resource = Resource.create({"service.name": "dynamics-xero-connector"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(ScrubbingSpanProcessor())
    tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader], resource=resource))
    _instrument_dependencies(tracer_provider)
    STATE.enabled, STATE.mode = True, "console"


def _instrument_dependencies(tracer_provider: Any) -> None:
    """Dependency spans: httpx (Dataverse), urllib3 (xero-python), the Azure SDK (storage queues and
    blobs). The Azure Monitor distro instruments these itself; only what is missing is added."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    for instrumentor in (HTTPXClientInstrumentor(), URLLib3Instrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=tracer_provider)
    # azure-core reads this when it next makes a span; the distro sets the same thing in code.
    os.environ.setdefault("AZURE_SDK_TRACING_IMPLEMENTATION", "opentelemetry")

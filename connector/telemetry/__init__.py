"""Telemetry (O1): structured steps, OpenTelemetry traces and metrics, and secrets redacted everywhere.

Importing this costs no OpenTelemetry import: that happens once telemetry is on.
"""

from __future__ import annotations

from connector.telemetry.metrics import record_dataverse_retry, record_xero_call
from connector.telemetry.queues import TraceContextQueues, with_traceparent
from connector.telemetry.redaction import (
    RedactingFilter,
    redact_fields,
    redact_text,
    register_secret,
    register_secrets_from,
)
from connector.telemetry.setup import configure_telemetry
from connector.telemetry.state import use_providers
from connector.telemetry.steps import LOGGER_NAME, get_logger, log_step
from connector.telemetry.tracing import (
    current_traceparent,
    handler_span,
    traced_invocation,
    with_trace,
)

__all__ = [
    "LOGGER_NAME",
    "RedactingFilter",
    "TraceContextQueues",
    "configure_telemetry",
    "current_traceparent",
    "get_logger",
    "handler_span",
    "log_step",
    "record_dataverse_retry",
    "record_xero_call",
    "redact_fields",
    "redact_text",
    "register_secret",
    "register_secrets_from",
    "traced_invocation",
    "use_providers",
    "with_trace",
    "with_traceparent",
]

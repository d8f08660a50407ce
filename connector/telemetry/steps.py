"""`log_step`: one structured event per step, as a log line, a span event and metrics."""

from __future__ import annotations

import logging
from typing import Any

from connector.telemetry.metrics import record_step
from connector.telemetry.redaction import RedactingFilter, redact_fields, redact_text
from connector.telemetry.state import JOURNEY
from connector.telemetry.tracing import add_step

LOGGER_NAME = "connector"
# `extra` keys that would overwrite a LogRecord attribute make `logger.log` raise KeyError.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def get_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(f"{LOGGER_NAME}.{name}")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


def log_step(logger: logging.Logger, step: str, level: int = logging.INFO, **fields: Any) -> None:
    """One structured event per step. Fields go in the text too: the Functions host drops `extra`.

    Every value is scrubbed first, so nothing below (log handlers, span, metric dimensions) sees a
    secret. Telemetry never breaks the step it describes.
    """
    safe = redact_fields(fields)
    text = redact_text(" ".join(f"{key}={value}" for key, value in safe.items() if value is not None))
    extra = {
        f"field_{key}" if key in _RECORD_ATTRIBUTES else key: value
        for key, value in safe.items()
        if value is not None
    }
    logger.log(level, "%s %s", step, text, extra={"step": step, **extra})
    try:
        add_step(step, safe, level)
        record_step(step, safe, logging.getLevelName(level), JOURNEY.get())
    except Exception:
        logger.debug("telemetry for step %s failed", step, exc_info=True)

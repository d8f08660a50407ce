"""Structured step logging with secrets redacted (O1)."""

from __future__ import annotations

import logging
import re
from typing import Any

LOGGER_NAME = "connector"

_SECRET_KEYS = re.compile(
    r"^(.*_)?(token|secret|password|authorization|signature|api_key|webhook_key|function_key)$", re.IGNORECASE
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+", re.IGNORECASE)
_QUERY_SECRET = re.compile(r"([?&](?:code|client_secret|refresh_token|access_token)=)[^&\s]+", re.IGNORECASE)


def redact_text(text: str) -> str:
    return _QUERY_SECRET.sub(r"\1***", _BEARER.sub(r"\1***", text))


def redact_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        key: "***" if _SECRET_KEYS.match(key) and value not in (None, "") else value
        for key, value in fields.items()
    }


class RedactingFilter(logging.Filter):
    """Last line of defence: scrub bearer tokens and secret query parameters from any record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        return True


def get_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(f"{LOGGER_NAME}.{name}")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


def log_step(logger: logging.Logger, step: str, level: int = logging.INFO, **fields: Any) -> None:
    """One structured event per step. Fields go in the text too: the Functions host drops `extra`."""
    safe = redact_fields(fields)
    text = " ".join(f"{key}={value}" for key, value in safe.items() if value is not None)
    logger.log(level, "%s %s", step, text, extra={"step": step, **safe})

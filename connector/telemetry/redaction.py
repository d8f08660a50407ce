"""Secrets never leave the process: one scrubber for log text and fields, span attributes and events.

Patterns catch what has a shape (bearer and basic credentials, JWTs, secret query and form parameters,
token fields in JSON, storage account keys); `register_secret` adds the exact values the app holds
(webhook secrets, client secret, keys), so even a secret with no recognisable shape is replaced.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"

_SECRET_KEYS = re.compile(
    r"^(.*[_.-])?(token|secret|password|authorization|signature|api_key|webhook_key|function_key|"
    r"access_token|refresh_token|id_token|client_secret|account_key|connection_string|cookie)$",
    re.IGNORECASE,
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/\-]+=*", re.IGNORECASE), rf"\1\2{MASK}"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"), MASK),
    (
        re.compile(
            r"(^|[?&;,\s\"'(])((?:code|client_secret|refresh_token|access_token|id_token|password|sig)=)"
            r"[^&\s;,\"')]+",
            re.IGNORECASE,
        ),
        rf"\1\2{MASK}",
    ),
    (
        re.compile(
            r"(\"(?:access_token|refresh_token|id_token|client_secret|password)\"\s*:\s*\")[^\"]*\"",
            re.IGNORECASE,
        ),
        rf'\1{MASK}"',
    ),
    (
        re.compile(r"\b((?:AccountKey|SharedAccessKey|SharedAccessSignature)=)[^;\s]+", re.IGNORECASE),
        rf"\1{MASK}",
    ),
)
# Values shorter than this are too likely to match ordinary text to be replaced wherever they appear.
MIN_SECRET_LENGTH = 6
# Secrets that reach the process as environment variables without passing through Settings.
SECRET_ENVIRONMENT = ("AZURE_CLIENT_SECRET", "DEVSTACK_FUNCTION_KEY", "DEVSTACK_MASTER_KEY")

_lock = threading.Lock()
_secrets: set[str] = set()
_known: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Replace this exact value wherever it appears from now on."""
    global _known
    if not value or len(value) < MIN_SECRET_LENGTH or value in _secrets:
        return
    with _lock:
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)  # the longest first: one secret may contain another
        _known = re.compile("|".join(re.escape(secret) for secret in ordered))


def register_secrets_from(settings: object | None) -> None:
    """Every SecretStr of a settings object (duck-typed: anything with get_secret_value), and the
    secret environment variables."""
    if settings is not None:
        for value in vars(settings).values():
            reveal = getattr(value, "get_secret_value", None)
            if callable(reveal):
                secret = reveal()
                register_secret(secret if isinstance(secret, str) else None)
    for name in SECRET_ENVIRONMENT:
        register_secret(os.environ.get(name))


def forget_secrets() -> None:
    """For tests: start again with no registered values."""
    global _known
    with _lock:
        _secrets.clear()
        _known = None


def redact_text(text: str) -> str:
    known = _known
    if known is not None:
        text = known.sub(MASK, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEYS.match(key))


def redact_value(value: Any) -> Any:
    """Strings (and sequences of them) scrubbed; numbers and booleans as they are."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return redact_text(str(value))


def redact_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A secret-named field is masked whole; every other value is scrubbed (non-strings become text)."""
    return {
        key: MASK if is_secret_key(key) and value not in (None, "") else redact_value(value)
        for key, value in fields.items()
    }


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The scrubbed copy of OpenTelemetry attributes, or None when nothing needed changing."""
    if not attributes:
        return None
    clean = redact_fields(attributes)
    return clean if any(clean[key] != value for key, value in attributes.items()) else None


_STANDARD_RECORD_KEYS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    """Scrubs a whole log record: the formatted message, every extra field and the exception text.

    On the connector's loggers and on the root logger's handlers, so other libraries' records are
    scrubbed too before any handler (the Functions host's or OpenTelemetry's) sees them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string is the caller's bug; leave the record as it is
            return True
        record.msg, record.args = redact_text(message), ()
        for key, value in list(vars(record).items()):
            if key in _STANDARD_RECORD_KEYS or value is None:
                continue
            record.__dict__[key] = MASK if is_secret_key(key) else redact_value(value)
        if record.exc_info and record.exc_info[1] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(text)
        return True


def install_log_redaction(loggers: Iterable[logging.Logger] = ()) -> None:
    """Put the filter on these loggers and on every handler of the root logger (once each)."""
    targets: list[logging.Logger | logging.Handler] = [*loggers, *logging.getLogger().handlers]
    for target in targets:
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())

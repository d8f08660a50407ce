"""Xero's answers read the connector's way: rate-limit headroom, validation messages, error classes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import urllib3
from xero_python.exceptions import AccessTokenExpiredError, ApiException, HTTPStatusException

from connector.adapters.xero import convert
from connector.domain.xero_records import RateLimitHeadroom
from connector.errors import (
    AuthorisationError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    RetryableError,
    XeroValidationError,
)

DEFAULT_RETRY_AFTER_SECONDS = 60.0


class XeroApiError(ConnectorError):
    """Xero answered with a status we have no rule for (e.g. 405, 409). A bug: not retried."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _header_int(headers: Mapping[str, Any] | None, name: str) -> int | None:
    if not headers:
        return None
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def headroom_from_headers(headers: Mapping[str, Any] | None) -> RateLimitHeadroom | None:
    """Xero's X-*Limit-Remaining headers, or None when the response carried none."""
    headroom = RateLimitHeadroom(
        minute_remaining=_header_int(headers, "X-MinLimit-Remaining"),
        day_remaining=_header_int(headers, "X-DayLimit-Remaining"),
        app_minute_remaining=_header_int(headers, "X-AppMinLimit-Remaining"),
    )
    if headroom == RateLimitHeadroom():
        return None
    return headroom


def validation_messages_from_body(body: bytes | str | None) -> list[str]:
    """Elements[].ValidationErrors[].Message from a 400 body, word for word, in order."""
    if not body:
        return []
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return []
    if not isinstance(data, dict):
        return []
    messages: list[str] = []
    for element in data.get("Elements") or []:
        for error in (element or {}).get("ValidationErrors") or []:
            message = (error or {}).get("Message")
            if message:
                messages.append(str(message))
    if not messages and data.get("Message"):
        messages.append(str(data["Message"]))
    return messages


def http_status(exc: HTTPStatusException) -> int:
    """The HTTP status. Not `exc.status`: on a 400 that property parses the body and fails on plain text."""
    return int(getattr(exc.http_resp, "status", 0) or 0)


def map_sdk_error(exc: Exception, operation: str) -> ConnectorError:
    """Classify an SDK or transport failure. Messages never include request headers (tokens)."""
    if isinstance(exc, HTTPStatusException):
        status = http_status(exc)
        headers = exc.headers or {}
        if status == 429:
            problem = headers.get("X-Rate-Limit-Problem")
            retry_after = headers.get("Retry-After")
            try:
                seconds = float(retry_after) if retry_after is not None else DEFAULT_RETRY_AFTER_SECONDS
            except ValueError:
                seconds = DEFAULT_RETRY_AFTER_SECONDS
            return RateLimitedError(
                f"Xero {operation}: rate limited ({problem or 'unknown'} limit)",
                retry_after=seconds,
                problem=problem,
            )
        if status == 400:
            messages = validation_messages_from_body(exc.body)
            return XeroValidationError(messages or [f"Xero rejected {operation} (HTTP 400)"])
        if status in (401, 403):
            return AuthorisationError(
                f"Xero {operation}: not authorised (HTTP {status}); reconnect the organisation"
            )
        if status == 404:
            return NotFoundError(f"Xero {operation}: not found")
        if status >= 500:
            return RetryableError(f"Xero {operation}: server error HTTP {status}")
        return XeroApiError(f"Xero {operation}: unexpected HTTP {status}", status)
    if isinstance(exc, AccessTokenExpiredError):
        return RetryableError(f"Xero {operation}: access token expired before the call")
    if isinstance(exc, urllib3.exceptions.HTTPError | ApiException | ConnectionError | TimeoutError):
        return RetryableError(f"Xero {operation}: transport failure ({type(exc).__name__})")
    return XeroApiError(f"Xero {operation}: unexpected {type(exc).__name__}", 0)


def raise_if_invalid(models: list[Any]) -> None:
    messages = [message for model in models for message in convert.validation_messages(model)]
    if messages:
        raise XeroValidationError(messages)

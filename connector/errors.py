"""Error classes shared by services and adapters. Each maps to one handling rule."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class for every error the connector raises on purpose."""


class RetryableError(ConnectorError):
    """Transient: network, 5xx. The queue runtime retries the message."""


class DeferredError(RetryableError):
    """Come back in `retry_after` seconds: the message is re-enqueued with that visibility timeout,
    which does not use up its dequeue count."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(DeferredError):
    """429 from Xero or Dataverse (or our own limiter): wait `retry_after` seconds before trying again."""

    def __init__(self, message: str, retry_after: float, problem: str | None = None) -> None:
        super().__init__(message, retry_after)
        self.problem = problem


class ClaimedElsewhereError(DeferredError):
    """Another worker holds the claim on this invoice; try again when the claim ends."""


class ConcurrencyConflictError(ConnectorError):
    """An ETag (If-Match) write lost the race: someone else changed the record."""


class NotFoundError(ConnectorError):
    """The record does not exist (any more)."""


class XeroValidationError(ConnectorError):
    """Xero refused the data; the user can fix it. `messages` are Xero's words, unchanged."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages) or "Xero validation failed")
        self.messages = messages


class AuthorisationError(ConnectorError):
    """Xero or Dataverse refused our credentials; an admin must reconnect."""


class MalformedMessageError(ConnectorError):
    """A queue message we cannot parse: goes straight to poison, never retried."""

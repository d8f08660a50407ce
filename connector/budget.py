"""How long the work in hand may wait for a slot of a Xero organisation's budget: what matters less waits
less, so under contention the budget goes to what cannot wait. Shared by services (which decide) and the
Xero adapter (whose limiter obeys)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Seconds a call made in this context may wait before RateLimitedError; None: the client's own default.
XERO_SLOT_WAIT: ContextVar[float | None] = ContextVar("xero_slot_wait", default=None)


@contextmanager
def waiting_for_xero_at_most(seconds: float) -> Iterator[None]:
    token = XERO_SLOT_WAIT.set(seconds)
    try:
        yield
    finally:
        XERO_SLOT_WAIT.reset(token)

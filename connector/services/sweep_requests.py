"""Sweeps asked for by handlers that left their work to one: a create to the sweep's batches, a Xero
event to reconcile's pages, once the budget is back. One call per 50 or per 500 invoices keeps up with a
burst that one call per invoice cannot."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from connector.domain.messages import SweepMessage
from connector.errors import RateLimitedError
from connector.ports import Clock, QueueSender
from connector.telemetry import get_logger, log_step

logger = get_logger("services.sweep_requests")

# A create must wait at least this long for the budget before it leaves its work to a sweep.
HAND_OFF_SECONDS = 10.0
# A Xero event leaves its work to reconcile at any wait: reconcile applies 500 changes a call, and an
# event retried on its own competes for the contended budget with the work that cannot wait.
EVENT_HAND_OFF_SECONDS = 0.0
# One sweep at a time runs per connection: asking more often than this only queues empty ones.
ASK_EVERY = timedelta(minutes=1)


@dataclass
class SweepRequests:
    queues: QueueSender
    queue: str
    clock: Clock
    asked: dict[tuple[UUID | None, bool], datetime] = field(default_factory=dict)  # this process's asks

    async def hand_off(
        self,
        exc: RateLimitedError,
        connection_id: UUID,
        *,
        reconcile: bool = False,
        correlation_id: str,
        threshold: float = HAND_OFF_SECONDS,
    ) -> bool:
        """Whether the work stopped by `exc` is left to a sweep (asked for when the budget is back); a
        wait shorter than `threshold` (the concurrency cap, say) is not: the handler's message retries it."""
        if exc.retry_after < threshold:
            return False
        await self.ask(connection_id, exc.retry_after, reconcile=reconcile, correlation_id=correlation_id)
        return True

    async def ask(
        self,
        connection_id: UUID | None,
        wait: float,
        *,
        reconcile: bool,
        correlation_id: str,
        again: bool = False,
    ) -> None:
        """A sweep of every connection in `wait` seconds; with `reconcile`, one that pulls Xero's changes
        whatever the reconcile interval. `again`: a sweep stopped by the budget asks for its successor,
        whenever it last asked. Never raises: the timer's sweep finds the work anyway."""
        now = self.clock()
        last = self.asked.get((connection_id, reconcile))
        if not again and last is not None and now - last < ASK_EVERY:
            return
        self.asked[(connection_id, reconcile)] = now
        message = SweepMessage(scheduled_for=now, correlation_id=correlation_id, reconcile_now=reconcile)
        try:
            await asyncio.to_thread(
                self.queues.send, self.queue, message.model_dump_json(), visibility_timeout=math.ceil(wait)
            )
        except Exception as exc:
            log_step(logger, "sweep.request_failed", logging.WARNING, error=type(exc).__name__)

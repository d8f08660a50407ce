"""A call budget shared by every instance: Xero's per organisation, Dataverse's per user (SPEC O3).

Each budget's state lives in one place every process sees (a blob under an ETag condition; a dict in
tests). An instance does not write it for every call: one write leases a few calls (see
rate_limit_state), spent locally, and carries what the instance has to say (the real start of the calls
it made, leased calls it will not make, the server's remaining counts). A 429, or the server saying
the budget is nearly gone with calls we did not count, is written at once; everything else waits for
the next write, or for a flush once the instance has been idle for `linger_seconds` if what it holds
matters to others (see LocalBudget.worth_flushing); otherwise its hold and spare calls just expire.

The limiter never sleeps longer than the caller allows: past that it says "come back in N s", so a
queue handler can re-enqueue the message with that visibility timeout instead of holding a worker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

from azure.storage.blob import BlobServiceClient

from connector.adapters.storage.blob import blob_service_from_settings
from connector.adapters.storage.rate_limit_blob import BlobLimiterBackend, LimiterBackend
from connector.adapters.storage.rate_limit_local import Decision, LocalBudget, Permit
from connector.adapters.storage.rate_limit_state import (
    CONCURRENCY_POLL_SECONDS,
    Grant,
    Headroom,
    LimiterState,
    RateLimits,
    Report,
    exchange,
)
from connector.domain.xero_records import RateLimitHeadroom
from connector.errors import RateLimitedError
from connector.settings import Settings

__all__ = [
    "BlobLimiterBackend",
    "Decision",
    "Headroom",
    "LimiterBackend",
    "LimiterState",
    "Permit",
    "RateLimiter",
    "RateLimits",
    "Slot",
    "blob_rate_limiter",
    "rate_limiter_from_settings",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Timer = Callable[[float, Callable[[], None]], object]

DEFAULT_CONTAINER = "xero-rate-limits"
LINGER_SECONDS = 1.0
# How often an async caller looks again while this instance's own calls fill its concurrency.
LOCAL_POLL_SECONDS = 0.02
log = logging.getLogger(__name__)


def _daemon_timer(delay: float, callback: Callable[[], None]) -> object:
    timer = threading.Timer(delay, callback)
    timer.daemon = True
    timer.start()
    return timer


def as_headroom(headroom: RateLimitHeadroom | Headroom | None) -> Headroom | None:
    if headroom is None or isinstance(headroom, Headroom):
        return headroom
    return Headroom(window_remaining=headroom.minute_remaining, day_remaining=headroom.day_remaining)


class RateLimiter:
    """One instance's view of a family of budgets (one per tenant or user), all with the same limits."""

    def __init__(
        self,
        backend: LimiterBackend,
        limits: RateLimits | None = None,
        *,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        linger_seconds: float | None = LINGER_SECONDS,
        timer: Timer = _daemon_timer,
        service: str = "Xero",
        instance_id: str | None = None,
    ) -> None:
        self._backend = backend
        self.limits = limits or RateLimits()
        self._clock = clock
        self._sleep = sleep
        self._linger = linger_seconds
        self._timer = timer
        self._service = service
        self.instance_id = instance_id or uuid.uuid4().hex[:16]
        self._budgets: dict[str, LocalBudget] = {}
        self._guard = threading.Lock()

    def _budget(self, key: str) -> LocalBudget:
        with self._guard:
            budget = self._budgets.get(key)
            if budget is None:
                budget = self._budgets[key] = LocalBudget(self.limits)
            return budget

    # --- writes --------------------------------------------------------------------------------

    def _write(self, key: str, budget: LocalBudget, report: Report) -> Grant:
        """Send one report (the caller holds `budget.io`); the fast path pauses while it is in flight."""
        try:
            grant = self._backend.update(key, lambda state: exchange(state, report, self.limits))
        except BaseException:
            with budget.mutex:
                budget.writing = False  # what the report carried is lost: the shared view stays cautious
                budget.changed.notify_all()
            raise
        with budget.mutex:
            budget.apply(report, grant)
            budget.writing = False
            budget.changed.notify_all()
        return grant

    def _refill(self, key: str, budget: LocalBudget) -> Decision:
        """Ask the shared state for a new lease, unless another thread just got one."""
        with budget.io:
            with budget.mutex:
                decision = budget.take(key, self._clock())
                if decision is not None:
                    return decision
                now = self._clock()
                # A usable lease stays: then this write only asks for a bigger hold.
                want = 0 if budget.lease_usable(now) else self.limits.lease_calls
                report = budget.report(self.instance_id, now, want=want, close=want > 0, asking=True)
                budget.writing = True
            grant = self._write(key, budget, report)
            with budget.mutex:
                decision = budget.take(key, self._clock())
            if decision is not None:
                return decision
            if grant.wait <= 0:  # granted, but not usable yet (say, our own calls fill the hold)
                return Decision(None, CONCURRENCY_POLL_SECONDS, "local")
            return Decision(None, grant.wait, grant.reason)

    def _sync(self, key: str, budget: LocalBudget, *, close: bool, block_for: float = 0.0) -> None:
        """A write that asks for nothing: deliver what is pending, resize the hold, maybe block."""
        with budget.io:
            with budget.mutex:
                report = budget.report(
                    self.instance_id, self._clock(), want=0, close=close, block_for=block_for
                )
                budget.writing = True
            self._write(key, budget, report)

    def _sync_quietly(self, key: str, budget: LocalBudget, *, close: bool, block_for: float = 0.0) -> None:
        """`_sync` after a call went out: a storage failure must not replace the call's own outcome."""
        try:
            self._sync(key, budget, close=close, block_for=block_for)
        except Exception:  # the shared view stays cautious; holds and leases expire by themselves
            log.warning("could not update the shared %s call budget", self._service, exc_info=True)

    # --- one-shot operations -------------------------------------------------------------------

    def try_acquire(self, tenant_id: str) -> Decision:
        """A permit now, or how long to wait: local when the lease allows, else one write."""
        budget = self._budget(tenant_id)
        with budget.mutex:
            decision = budget.take(tenant_id, self._clock())
        return decision if decision is not None else self._refill(tenant_id, budget)

    def release(self, permit: Permit, headroom: RateLimitHeadroom | Headroom | None = None) -> None:
        budget = self._budget(permit.tenant_id)
        write_now, generation = budget.release_local(permit.slot_id, self._clock(), as_headroom(headroom))
        if write_now:
            self._sync_quietly(permit.tenant_id, budget, close=False)
        if generation is not None:
            self._schedule_flush(permit.tenant_id, budget, generation)

    def observe(self, tenant_id: str, headroom: RateLimitHeadroom | Headroom) -> None:
        budget = self._budget(tenant_id)
        with budget.mutex:
            urgent = budget.note_headroom(self._clock(), as_headroom(headroom))
        if urgent:
            self._sync_quietly(tenant_id, budget, close=False)

    def rate_limited(self, tenant_id: str, retry_after: float) -> None:
        """The server said 429: nobody, in any instance, calls before Retry-After has passed."""
        budget = self._budget(tenant_id)
        with budget.mutex:
            budget.blocked_until = max(budget.blocked_until, self._clock() + retry_after)
        self._sync_quietly(tenant_id, budget, close=True, block_for=retry_after)

    # --- idle flush ----------------------------------------------------------------------------

    def _schedule_flush(self, key: str, budget: LocalBudget, generation: int) -> None:
        with budget.mutex:
            pending = budget.worth_flushing()
        if pending and self._linger is not None:
            self._timer(self._linger, lambda: self._flush_if_idle(key, budget, generation))

    def _flush_if_idle(self, key: str, budget: LocalBudget, generation: int) -> None:
        with budget.mutex:
            if generation != budget.generation or budget.running or budget.waiters:
                return  # busy again: the next write carries it all
        self._sync_quietly(key, budget, close=True)

    def flush(self) -> None:
        """Hand back every unused lease and idle hold now (tests, shutdown)."""
        with self._guard:
            budgets = list(self._budgets.items())
        for key, budget in budgets:
            self._sync(key, budget, close=True)

    # --- waiting -------------------------------------------------------------------------------

    @contextmanager
    def waiting(self, tenant_id: str) -> Iterator[LocalBudget]:
        """Count a caller that means to call soon, so this instance asks for enough concurrency."""
        budget = self._budget(tenant_id)
        with budget.mutex:
            budget.waiters += 1
        try:
            yield budget
        finally:
            with budget.mutex:
                budget.waiters -= 1
                generation = budget.idle_generation()
            if generation is not None:
                self._schedule_flush(tenant_id, budget, generation)

    def _limited(self, decision: Decision) -> RateLimitedError:
        return RateLimitedError(
            f"{self._service} call budget is used up for now",
            retry_after=decision.wait_seconds,
            problem="local",
        )

    def acquire_blocking(
        self, tenant_id: str, max_wait: float = 5.0, sleep: Callable[[float], None] = time.sleep
    ) -> Permit:
        """A permit, waiting at most `max_wait` s in all; else RateLimitedError(retry_after=N)."""
        waited = 0.0
        with self.waiting(tenant_id) as budget:
            while True:
                decision = self.try_acquire(tenant_id)
                if decision.permit is not None:
                    return decision.permit
                if waited + decision.wait_seconds > max_wait:
                    raise self._limited(decision)
                if decision.reason == "local":  # our own calls: woken as soon as one ends
                    started = time.monotonic()
                    with budget.mutex:
                        budget.changed.wait(decision.wait_seconds)
                    waited += time.monotonic() - started
                    continue
                sleep(decision.wait_seconds)
                waited += decision.wait_seconds

    async def acquire(self, tenant_id: str, max_wait: float = 5.0) -> Permit:
        """`acquire_blocking` for async callers: storage writes run in a worker thread."""
        waited = 0.0
        with self.waiting(tenant_id) as budget:
            while True:
                with budget.mutex:
                    decision = budget.take(tenant_id, self._clock())
                if decision is None:
                    decision = await asyncio.to_thread(self._refill, tenant_id, budget)
                if decision.permit is not None:
                    return decision.permit
                if waited + decision.wait_seconds > max_wait:
                    raise self._limited(decision)
                wait = LOCAL_POLL_SECONDS if decision.reason == "local" else decision.wait_seconds
                await self._sleep(wait)
                waited += wait

    async def arelease(self, permit: Permit, headroom: RateLimitHeadroom | Headroom | None = None) -> None:
        """`release` for async callers: only a write that cannot wait leaves the event loop."""
        budget = self._budget(permit.tenant_id)
        write_now, generation = budget.release_local(permit.slot_id, self._clock(), as_headroom(headroom))
        if write_now:
            await asyncio.to_thread(self._sync_quietly, permit.tenant_id, budget, close=False)
        if generation is not None:
            self._schedule_flush(permit.tenant_id, budget, generation)

    async def arate_limited(self, tenant_id: str, retry_after: float) -> None:
        await asyncio.to_thread(self.rate_limited, tenant_id, retry_after)

    @asynccontextmanager
    async def slot(self, tenant_id: str, max_wait: float = 5.0) -> AsyncIterator[Slot]:
        """`async with limiter.slot(tenant): ...` — released on exit; a 429 inside blocks the tenant."""
        slot = Slot(await self.acquire(tenant_id, max_wait))
        try:
            yield slot
        except RateLimitedError as exc:
            if exc.problem != "local":
                await self.arate_limited(tenant_id, exc.retry_after)
            raise
        finally:
            await self.arelease(slot.permit, slot.headroom)


@dataclass
class Slot:
    """What `slot()` yields. Set `headroom` from the response so the shared view tightens."""

    permit: Permit
    headroom: RateLimitHeadroom | Headroom | None = field(default=None)


def blob_rate_limiter(
    service: BlobServiceClient, container: str = DEFAULT_CONTAINER, limits: RateLimits | None = None
) -> RateLimiter:
    """The production Xero limiter: state in `container`, one blob per tenant."""
    return RateLimiter(BlobLimiterBackend(service, container), limits)


def rate_limiter_from_settings(settings: Settings, limits: RateLimits | None = None) -> RateLimiter:
    """The production Xero limiter, in the connector's storage account."""
    return blob_rate_limiter(blob_service_from_settings(settings), DEFAULT_CONTAINER, limits)

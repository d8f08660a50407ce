"""Per-organisation Xero call budget shared by every instance (SPEC O3).

Xero allows, per tenant, 60 calls a minute, 5 at once and a daily budget. Each tenant's state lives in
one place every process sees (a blob updated with ETag conditions; a dict in tests). The limiter never
sleeps longer than the caller allows: past that it says "come back in N s", so a queue handler can
re-enqueue the message with that visibility timeout instead of holding a worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from pydantic import BaseModel, Field

from connector.adapters.storage.blob import blob_service_from_settings, ensure_container
from connector.domain.xero_records import RateLimitHeadroom
from connector.errors import RateLimitedError, RetryableError
from connector.settings import Settings

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

WINDOW_SECONDS = 60.0
DEFAULT_CONTAINER = "xero-rate-limits"
# How long to wait before looking again when only the concurrency cap is in the way.
CONCURRENCY_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class RateLimits:
    per_minute: int = 60
    concurrent: int = 5
    per_day: int = 5000
    # A slot whose holder crashed frees itself after this long.
    slot_ttl_seconds: float = 120.0


class LimiterState(BaseModel):
    """One tenant's view of its budget, stored as JSON."""

    recent: list[float] = Field(default_factory=list, description="Start times of calls in the last minute.")
    day: str = ""
    day_count: int = 0
    in_flight: dict[str, float] = Field(default_factory=dict, description="Slot id → when it expires.")
    blocked_until: float = 0.0


@dataclass(frozen=True)
class Permit:
    """Permission for one call; give it back with `release`."""

    tenant_id: str
    slot_id: str


@dataclass(frozen=True)
class Decision:
    """Either a permit, or how many seconds to wait before asking again."""

    permit: Permit | None
    wait_seconds: float


def _utc_day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()


def _seconds_to_next_utc_day(now: float) -> float:
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return max(0.0, midnight.timestamp() - now)


def _tidy(state: LimiterState, now: float) -> LimiterState:
    """Forget what no longer counts: calls older than a minute, expired slots, yesterday."""
    day = _utc_day(now)
    return LimiterState(
        recent=sorted(t for t in state.recent if t > now - WINDOW_SECONDS),
        day=day,
        day_count=state.day_count if state.day == day else 0,
        in_flight={slot: until for slot, until in state.in_flight.items() if until > now},
        blocked_until=state.blocked_until if state.blocked_until > now else 0.0,
    )


def decide(state: LimiterState, now: float, limits: RateLimits, slot_id: str) -> tuple[LimiterState, float]:
    """Take a slot if every limit allows it (wait 0), else say how long until one might."""
    state = _tidy(state, now)
    if state.blocked_until > now:
        return state, state.blocked_until - now
    if state.day_count >= limits.per_day:
        return state, _seconds_to_next_utc_day(now)
    if len(state.recent) >= limits.per_minute:
        return state, state.recent[len(state.recent) - limits.per_minute] + WINDOW_SECONDS - now
    if len(state.in_flight) >= limits.concurrent:
        return state, min(CONCURRENCY_POLL_SECONDS, min(state.in_flight.values()) - now)
    state.recent.append(now)
    state.day_count += 1
    state.in_flight[slot_id] = now + limits.slot_ttl_seconds
    return state, 0.0


def observe(state: LimiterState, now: float, limits: RateLimits, headroom: RateLimitHeadroom) -> LimiterState:
    """Tighten our view with Xero's own remaining counts (other apps' calls are invisible to us)."""
    state = _tidy(state, now)
    if headroom.minute_remaining is not None:
        used = limits.per_minute - max(0, headroom.minute_remaining)
        missing = used - len(state.recent)
        if missing > 0:
            state.recent.extend([now] * missing)  # unseen calls: assume they just happened
    if headroom.day_remaining is not None:
        state.day_count = max(state.day_count, limits.per_day - max(0, headroom.day_remaining))
    return state


def block(state: LimiterState, now: float, retry_after: float) -> LimiterState:
    """Xero said 429: nobody calls this tenant before Retry-After has passed."""
    state = _tidy(state, now)
    state.blocked_until = max(state.blocked_until, now + retry_after)
    return state


class LimiterBackend(Protocol):
    """Atomic read-modify-write of one tenant's state."""

    def update(self, tenant_id: str, change: Callable[[LimiterState], tuple[LimiterState, T]]) -> T: ...


class BlobLimiterBackend:
    """One blob per tenant, written only if its ETag is unchanged: no process loses another's calls."""

    def __init__(self, service: BlobServiceClient, container: str, *, max_attempts: int = 30) -> None:
        self._container = ensure_container(service, container)
        self._max_attempts = max_attempts

    def update(self, tenant_id: str, change: Callable[[LimiterState], tuple[LimiterState, T]]) -> T:
        blob = self._container.get_blob_client(f"{tenant_id}.json")
        for attempt in range(self._max_attempts):
            try:
                download = blob.download_blob()
                state = LimiterState.model_validate(json.loads(download.readall()))
                etag: str | None = download.properties.etag
            except ResourceNotFoundError:
                state, etag = LimiterState(), None
            new_state, result = change(state)
            data = new_state.model_dump_json().encode()
            try:
                if etag is None:
                    blob.upload_blob(data, overwrite=False)  # create only if nobody else did
                else:
                    blob.upload_blob(
                        data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified
                    )
                return result
            except HttpResponseError as exc:
                if exc.status_code not in (409, 412):
                    raise
                time.sleep(0.01 * (attempt + 1))  # lost the race: re-read and try again
        raise RetryableError("rate-limit state is too contended; try again")


def _stop_if_beyond(decision: Decision, waited: float, max_wait: float) -> None:
    """Never wait past `max_wait` in all: say how long instead, so the caller can come back then."""
    if waited + decision.wait_seconds > max_wait:
        raise RateLimitedError(
            "Xero call budget for this organisation is used up for now",
            retry_after=decision.wait_seconds,
            problem="local",
        )


@dataclass
class Slot:
    """What `slot()` yields. Set `headroom` from the Xero response so the shared view tightens."""

    permit: Permit
    headroom: RateLimitHeadroom | None = field(default=None)


class RateLimiter:
    """The per-tenant limiter. Sync methods do one state update each; async ones wait (bounded)."""

    def __init__(
        self,
        backend: LimiterBackend,
        limits: RateLimits | None = None,
        *,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._backend = backend
        self.limits = limits or RateLimits()
        self._clock = clock
        self._sleep = sleep

    # --- one-shot operations ------------------------------------------------------------------

    def try_acquire(self, tenant_id: str) -> Decision:
        slot_id = uuid.uuid4().hex
        now = self._clock()
        wait = self._backend.update(tenant_id, lambda s: decide(s, now, self.limits, slot_id))
        return Decision(Permit(tenant_id, slot_id) if wait <= 0 else None, max(0.0, wait))

    def release(self, permit: Permit, headroom: RateLimitHeadroom | None = None) -> None:
        now = self._clock()

        def change(state: LimiterState) -> tuple[LimiterState, None]:
            state = _tidy(state, now)
            state.in_flight.pop(permit.slot_id, None)
            if headroom is not None:
                state = observe(state, now, self.limits, headroom)
            return state, None

        self._backend.update(permit.tenant_id, change)

    def observe(self, tenant_id: str, headroom: RateLimitHeadroom) -> None:
        now = self._clock()
        self._backend.update(tenant_id, lambda s: (observe(s, now, self.limits, headroom), None))

    def rate_limited(self, tenant_id: str, retry_after: float) -> None:
        now = self._clock()
        self._backend.update(tenant_id, lambda s: (block(s, now, retry_after), None))

    # --- waiting ------------------------------------------------------------------------------

    def acquire_blocking(
        self, tenant_id: str, max_wait: float = 5.0, sleep: Callable[[float], None] = time.sleep
    ) -> Permit:
        """`acquire` for synchronous callers (the Xero SDK runs in worker threads)."""
        waited = 0.0
        while True:
            decision = self.try_acquire(tenant_id)
            if decision.permit is not None:
                return decision.permit
            _stop_if_beyond(decision, waited, max_wait)
            sleep(decision.wait_seconds)
            waited += decision.wait_seconds

    async def acquire(self, tenant_id: str, max_wait: float = 5.0) -> Permit:
        """A permit, waiting at most `max_wait` s in all; else RateLimitedError(retry_after=N)."""
        waited = 0.0
        while True:
            decision = await asyncio.to_thread(self.try_acquire, tenant_id)
            if decision.permit is not None:
                return decision.permit
            _stop_if_beyond(decision, waited, max_wait)
            await self._sleep(decision.wait_seconds)
            waited += decision.wait_seconds

    @asynccontextmanager
    async def slot(self, tenant_id: str, max_wait: float = 5.0) -> AsyncIterator[Slot]:
        """`async with limiter.slot(tenant): ...` — released on exit; a 429 inside blocks the tenant."""
        slot = Slot(await self.acquire(tenant_id, max_wait))
        try:
            yield slot
        except RateLimitedError as exc:
            if exc.problem != "local":
                await asyncio.to_thread(self.rate_limited, tenant_id, exc.retry_after)
            raise
        finally:
            await asyncio.to_thread(self.release, slot.permit, slot.headroom)


def blob_rate_limiter(
    service: BlobServiceClient, container: str = DEFAULT_CONTAINER, limits: RateLimits | None = None
) -> RateLimiter:
    """The production limiter: state in `container`, one blob per tenant."""
    return RateLimiter(BlobLimiterBackend(service, container), limits)


def rate_limiter_from_settings(settings: Settings, limits: RateLimits | None = None) -> RateLimiter:
    """The production limiter, in the connector's storage account."""
    return blob_rate_limiter(blob_service_from_settings(settings), DEFAULT_CONTAINER, limits)

"""O3: several instances share one Xero budget.

Checked on what the calls really did (their start and end times), not on the limiter's bookkeeping:
never more than 60 in any 60 s nor 5 at once across instances; a 429 and Xero's remaining counts reach
every instance; and the storage cost stays under one round trip per call on average. Each test runs on
the in-memory backend and on real blobs in Azurite, each instance with its own client as separate
processes would have. The clock is injected; Azurite only stores.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from azure.storage.blob import BlobServiceClient

from connector.adapters.storage.rate_limit import BlobLimiterBackend, LimiterBackend, RateLimiter, RateLimits
from connector.domain.xero_records import RateLimitHeadroom
from tests.fakes.storage import MemoryLimiterBackend
from tests.integration.storage.limiter_sim import FakeClock, PretendServer, Timers, limiter_on, run

TENANT = "tenant"
XERO = RateLimits()


@dataclass
class Storage:
    """Where the instances keep the budget: one shared dict, or one blob client per instance."""

    kind: str
    new_backend: Callable[[], LimiterBackend]
    backends: list[LimiterBackend] = field(default_factory=list)

    def backend(self) -> LimiterBackend:
        backend = self.new_backend()
        self.backends.append(backend)
        return backend

    @property
    def round_trips(self) -> int:
        unique = {id(backend): backend for backend in self.backends}.values()
        return sum(backend.round_trips for backend in unique)  # type: ignore[attr-defined]


@pytest.fixture(params=["memory", pytest.param("azurite", marks=pytest.mark.integration)])
def storage(request: pytest.FixtureRequest) -> Storage:
    if request.param == "memory":
        shared = MemoryLimiterBackend()
        return Storage("memory", lambda: shared)
    connection_string = request.getfixturevalue("azurite").connection_string
    container = f"rl-{uuid.uuid4().hex[:12]}"
    return Storage(
        "azurite",
        lambda: BlobLimiterBackend(BlobServiceClient.from_connection_string(connection_string), container),
    )


def instances(storage: Storage, clock: FakeClock, timers: Timers, count: int) -> list[RateLimiter]:
    return [limiter_on(storage.backend(), clock, timers, XERO, f"instance-{n}") for n in range(count)]


def test_o3_two_instances_never_exceed_60_a_minute_or_5_at_once(storage: Storage) -> None:
    clock = FakeClock()
    timers = Timers(clock)
    both = instances(storage, clock, timers, 2)
    outcome = run(both, 4, 300, clock, timers, server=PretendServer(XERO, clock))
    assert outcome.most_in_any_window(60.0) == 60  # the whole budget used, never more
    assert outcome.most_at_once() == 5  # 8 workers want more; 5 is all they get
    assert min(outcome.by_instance.values()) >= 300 * 0.3  # both instances had their share
    # Five minutes' worth of calls: the leases' margin costs a few seconds a minute, not minutes.
    assert outcome.elapsed < 5 * 61 + 25
    trips = storage.round_trips
    print(f"\n[{storage.kind}] 2 instances, 300 calls in {outcome.elapsed:.0f} s: {trips} round trips")


@pytest.mark.parametrize(("count", "workers"), [(1, 1), (1, 16), (2, 4)])
def test_o3_storage_round_trips_per_xero_call_at_most_one(storage: Storage, count: int, workers: int) -> None:
    clock = FakeClock()
    timers = Timers(clock)
    outcome = run(
        instances(storage, clock, timers, count),
        workers,
        300,
        clock,
        timers,
        server=PretendServer(XERO, clock),
    )
    per_call = storage.round_trips / len(outcome.starts)
    print(f"\n[{storage.kind}] {count} instance(s) x {workers} workers: {per_call:.2f} round trips per call")
    assert per_call <= 1.0  # the old limiter: 4 (read + write to take a slot, read + write to give it back)


def test_o3_a_429_blocks_every_instance_until_retry_after(storage: Storage) -> None:
    clock = FakeClock()
    timers = Timers(clock)
    hit, busy, fresh = instances(storage, clock, timers, 3)
    busy_permit = busy.try_acquire(TENANT).permit  # holds a lease it has barely started
    hit_permit = hit.try_acquire(TENANT).permit
    assert busy_permit is not None and hit_permit is not None
    hit.rate_limited(TENANT, 30.0)  # Xero answered 429 with Retry-After: 30
    hit.release(hit_permit)
    busy.release(busy_permit)
    for limiter in (hit, fresh):
        decision = limiter.try_acquire(TENANT)
        assert decision.permit is None and decision.reason == "blocked"
        assert decision.wait_seconds == pytest.approx(30.0)
    # The busy instance hears of it at its next write: at most what is left of its lease goes first.
    spent = 0
    while (permit := busy.try_acquire(TENANT).permit) is not None:
        spent += 1
        busy.release(permit)
        assert spent < XERO.lease_calls
    decision = busy.try_acquire(TENANT)
    assert decision.reason == "blocked" and decision.wait_seconds == pytest.approx(30.0)
    clock.now += 30.1
    for limiter in (hit, busy, fresh):
        assert limiter.try_acquire(TENANT).permit is not None


def test_o3_xero_minute_headroom_tightens_every_instance(storage: Storage) -> None:
    clock = FakeClock()
    timers = Timers(clock)
    told, other = instances(storage, clock, timers, 2)
    permit = told.try_acquire(TENANT).permit
    assert permit is not None
    # Another app spent this organisation's minute: Xero's answer says none left.
    told.release(permit, RateLimitHeadroom(minute_remaining=0, day_remaining=4000))
    for limiter in (told, other):
        decision = limiter.try_acquire(TENANT)
        assert decision.permit is None and decision.reason == "window"
        assert decision.wait_seconds == pytest.approx(61.0, abs=0.2)


def test_o3_xero_day_headroom_tightens_every_instance(storage: Storage) -> None:
    clock = FakeClock()
    timers = Timers(clock)
    told, other = instances(storage, clock, timers, 2)
    permit = told.try_acquire(TENANT).permit
    assert permit is not None
    told.release(permit, RateLimitHeadroom(minute_remaining=50, day_remaining=0))
    for limiter in (told, other):
        decision = limiter.try_acquire(TENANT)
        assert decision.permit is None and decision.reason == "day"
        assert decision.wait_seconds > 3600


def test_o3_a_busy_instance_leaves_others_a_fair_share_of_concurrency(storage: Storage) -> None:
    clock = FakeClock()
    timers = Timers(clock)
    limits = RateLimits(per_window=1000, concurrent=5)  # concurrency is what binds here
    pair = [limiter_on(storage.backend(), clock, timers, limits, name) for name in ("greedy", "late")]
    outcome = run(pair, 8, 400, clock, timers, duration=(0.5, 1.0))
    assert outcome.most_at_once() <= 5
    assert min(outcome.by_instance.values()) >= 400 * 0.35

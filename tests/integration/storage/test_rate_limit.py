"""O3: the shared per-organisation Xero budget, one instance at a time (fake clock; blob on Azurite).

Several instances sharing one budget: test_rate_limit_shared.py.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest
from azure.storage.blob import BlobServiceClient

from connector.adapters.storage.rate_limit import (
    BlobLimiterBackend,
    Permit,
    RateLimiter,
    RateLimits,
)
from connector.adapters.storage.rate_limit_state import round_up, seconds_to_next_utc_day
from connector.domain.xero_records import RateLimitHeadroom
from connector.errors import RateLimitedError, RetryableError
from tests.fakes.storage import MemoryLimiterBackend
from tests.integration.storage.limiter_sim import START, FakeClock, Timers, limiter_on

TENANT = "t1"


def limiter(clock: FakeClock, **limits: float) -> RateLimiter:
    return limiter_on(MemoryLimiterBackend(), clock, Timers(clock), RateLimits(**limits))  # type: ignore[arg-type]


def take(rl: RateLimiter, tenant: str = TENANT) -> Permit:
    decision = rl.try_acquire(tenant)
    assert decision.permit is not None, f"expected a permit, was told to wait {decision.wait_seconds}"
    return decision.permit


def test_o3_sixty_calls_a_minute_then_wait_until_a_lease_worth_leaves_the_window() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(60):
        rl.release(take(rl))
        clock.now += 0.5
    decision = rl.try_acquire(TENANT)
    assert decision.permit is None
    assert decision.reason == "window"
    # Calls at START, START+0.5, ... each count for 60 s plus the 1 s margin. Now is START+30: the
    # first frees at +61; a whole lease (6) only at +63.5, so it waits the most it may: 2 s more.
    assert decision.wait_seconds == pytest.approx(33.0)
    clock.now += 32.0
    assert rl.try_acquire(TENANT).permit is None  # asking early gets nothing, and costs no storage trip
    clock.now += 1.0
    assert rl.try_acquire(TENANT).permit is not None


def test_o3_five_concurrent_callers_then_a_release_frees_a_slot() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    with ExitStack() as callers:
        for _ in range(6):
            callers.enter_context(rl.waiting(TENANT))
        held = [take(rl) for _ in range(5)]
        blocked = rl.try_acquire(TENANT)
        assert blocked.permit is None
        assert blocked.reason == "local" and 0 < blocked.wait_seconds <= 0.25
        rl.release(held[0])
        assert rl.try_acquire(TENANT).permit is not None


def test_o3_callers_arriving_mid_lease_get_more_concurrency_at_once() -> None:
    clock = FakeClock()
    backend = MemoryLimiterBackend()
    rl = limiter_on(backend, clock, Timers(clock), RateLimits())
    first = take(rl)  # alone: a hold of 1 and a lease of several calls
    with ExitStack() as callers:
        for _ in range(3):
            callers.enter_context(rl.waiting(TENANT))
        more = [take(rl) for _ in range(3)]  # not queued behind the first until its lease runs out
    assert backend.round_trips == 2  # one write to grow the hold; the calls came from the lease
    assert backend.state(TENANT).holds[rl.instance_id].count == 4
    for permit in [first, *more]:
        rl.release(permit)


def test_o3_a_crashed_instances_hold_frees_itself_after_the_slot_ttl() -> None:
    clock = FakeClock()
    backend = MemoryLimiterBackend()
    timers = Timers(clock)
    limits = RateLimits(concurrent=1, slot_ttl_seconds=30)
    crashed, other = (limiter_on(backend, clock, timers, limits, name) for name in ("crashed", "other"))
    take(crashed)  # never released, never flushed: the process died
    refused = other.try_acquire(TENANT)
    assert refused.permit is None and refused.reason == "concurrency"
    clock.now += 31
    assert other.try_acquire(TENANT).permit is not None


def test_o3_daily_budget_waits_until_next_utc_midnight() -> None:
    clock = FakeClock()
    timers = Timers(clock)
    rl = limiter_on(MemoryLimiterBackend(), clock, timers, RateLimits(per_day=3))
    for _ in range(3):
        rl.release(take(rl))
    clock.now += 1.5
    timers.fire_due()  # idle: the lease is settled, nothing is out any more
    decision = rl.try_acquire(TENANT)
    assert decision.permit is None and decision.reason == "day"
    assert decision.wait_seconds == pytest.approx(seconds_to_next_utc_day(clock.now))
    assert decision.wait_seconds == pytest.approx(14 * 3600 - 1.5)  # 10:00 → 24:00 UTC
    clock.now += decision.wait_seconds + 1
    assert rl.try_acquire(TENANT).permit is not None


def test_o3_tenants_have_separate_budgets() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=2)
    rl.release(take(rl, "a"))
    rl.release(take(rl, "a"))
    assert rl.try_acquire("a").permit is None
    assert rl.try_acquire("b").permit is not None


def test_o3_xero_headroom_tightens_the_minute_and_day_view() -> None:
    clock = FakeClock()
    backend = MemoryLimiterBackend()
    rl = limiter_on(backend, clock, Timers(clock), RateLimits(per_day=100))
    permit = take(rl)
    # Other apps used this organisation: Xero says none left this minute and 50 today.
    rl.release(permit, RateLimitHeadroom(minute_remaining=0, day_remaining=50))
    assert backend.state(TENANT).day_count == 50  # written at once: other instances must know
    decision = rl.try_acquire(TENANT)
    assert decision.permit is None and decision.reason == "window"
    assert decision.wait_seconds == pytest.approx(61.0, abs=0.1)
    clock.now += 62
    for _ in range(50):  # Xero's "50 left" already counts the call whose response carried it
        rl.release(take(rl))
        clock.now += 1.1
    decision = rl.try_acquire(TENANT)
    assert decision.permit is None and decision.reason == "day"


async def test_o3_acquire_sleeps_when_the_wait_fits_in_max_wait() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=1)
    await rl.arelease(await rl.acquire(TENANT))
    clock.now += 58
    permit = await rl.acquire(TENANT, max_wait=5)
    assert permit.tenant_id == TENANT
    assert clock.slept == [pytest.approx(3.0)]  # 60 s window + 1 s margin


async def test_o3_acquire_never_sleeps_past_max_wait_and_says_come_back_later() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=1)
    await rl.arelease(await rl.acquire(TENANT))
    with pytest.raises(RateLimitedError) as caught:
        await rl.acquire(TENANT, max_wait=5)
    assert caught.value.problem == "local"
    assert caught.value.retry_after == pytest.approx(61.0)
    assert clock.slept == []


async def test_o3_a_429_inside_a_slot_blocks_the_tenant_for_retry_after() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    with pytest.raises(RateLimitedError):
        async with rl.slot(TENANT):
            raise RateLimitedError("Xero said 429", retry_after=42, problem="minute")
    decision = rl.try_acquire(TENANT)
    assert decision.permit is None and decision.reason == "blocked"
    assert decision.wait_seconds == pytest.approx(42.0)


async def test_o3_slot_releases_and_records_headroom() -> None:
    clock = FakeClock()
    rl = limiter(clock, concurrent=1)
    async with rl.slot(TENANT) as slot:
        assert rl.try_acquire(TENANT).permit is None  # the one concurrent slot is ours
        slot.headroom = RateLimitHeadroom(minute_remaining=0)
    assert rl.try_acquire(TENANT).wait_seconds == pytest.approx(61.0, abs=0.1)


def test_o3_an_idle_instance_hands_back_its_lease_and_hold_after_the_linger() -> None:
    clock = FakeClock()
    backend = MemoryLimiterBackend()
    timers = Timers(clock)
    limits = RateLimits(concurrent=1)
    first, second = (limiter_on(backend, clock, timers, limits, name) for name in ("first", "second"))
    first.release(take(first))  # leased a few, used 1, still holds the one concurrent slot
    assert backend.state(TENANT).day_count == limits.lease_calls > 1
    assert second.try_acquire(TENANT).permit is None
    clock.now += 1.0  # the linger
    timers.fire_due()
    state = backend.state(TENANT)
    assert state.day_count == 1 and state.holds == {}
    assert sum(calls for _, calls in state.window) == 1
    assert state.window[0][0] == round_up(START, limits.resolution_seconds)  # the real start, settled
    clock.now += 2.0  # past the second's back-off
    assert second.try_acquire(TENANT).permit is not None


def test_o3_a_small_idle_hold_expires_without_a_write_of_its_own() -> None:
    clock = FakeClock()
    backend = MemoryLimiterBackend()
    timers = Timers(clock)
    first, second = (limiter_on(backend, clock, timers, RateLimits(), name) for name in ("first", "second"))
    first.release(take(first))  # one call, then idle: a hold of 1 of 5 and a few spare calls
    clock.now += 1.0
    timers.fire_due()
    assert backend.round_trips == 1  # nothing worth a write: the lease write was all it cost
    with ExitStack() as callers:
        for _ in range(5):
            callers.enter_context(second.waiting(TENANT))
        assert second.try_acquire(TENANT).permit is not None
        assert backend.state(TENANT).holds["second"].count == 4  # the 5th is still the idle one's
        clock.now += RateLimits().slot_ttl_seconds  # the idle hold has lapsed; so has second's lease
        second.release(take(second))  # its next write finds all 5 free
        assert backend.state(TENANT).holds["second"].count == 5


@pytest.mark.integration
def test_o3_two_blob_limiters_share_one_budget(azurite: object) -> None:
    """Two instances (separate clients, as two processes would have) never exceed the shared minute budget."""
    connection_string = azurite.connection_string  # type: ignore[attr-defined]
    limits = RateLimits(per_minute=10, concurrent=20)
    limiters = [
        RateLimiter(
            BlobLimiterBackend(BlobServiceClient.from_connection_string(connection_string), "rl-share"),
            limits,
            linger_seconds=None,
        )
        for _ in range(2)
    ]
    granted: list[Permit] = []
    refused = 0
    guard = threading.Lock()

    def worker(rl: RateLimiter) -> None:
        nonlocal refused
        with ExitStack() as callers:
            for _ in range(8):
                callers.enter_context(rl.waiting("tenant-shared"))
            for _ in range(8):
                decision = rl.try_acquire("tenant-shared")
                with guard:
                    if decision.permit is not None:
                        granted.append(decision.permit)
                    else:
                        refused += 1

    threads = [threading.Thread(target=worker, args=(rl,)) for rl in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(granted) == 10
    assert refused == 6
    for rl in limiters:
        for permit in granted:
            rl.release(permit)
        rl.flush()


class FailingAfterFirstWrite(MemoryLimiterBackend):
    """Storage that goes away after the first write."""

    def update(self, key, change):  # type: ignore[no-untyped-def]
        if self.round_trips >= 1:
            raise RetryableError("storage unreachable")
        return super().update(key, change)


def test_o3_storage_failing_after_a_call_never_hides_the_calls_outcome() -> None:
    clock = FakeClock()
    rl = limiter_on(FailingAfterFirstWrite(), clock, Timers(clock), RateLimits())
    permit = take(rl)
    # The call went out; neither the headroom nor the 429 may turn its result into a storage error.
    rl.release(permit, RateLimitHeadroom(minute_remaining=0))
    rl.rate_limited(TENANT, 10.0)
    decision = rl.try_acquire(TENANT)
    assert decision.reason == "blocked" and decision.wait_seconds == pytest.approx(
        10.0
    )  # still honoured here
    clock.now += 11
    with pytest.raises(RetryableError):  # before a call, though, the caller must know
        rl.try_acquire(TENANT)

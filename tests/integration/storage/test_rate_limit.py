"""O3: the shared per-organisation Xero budget (in-memory with a fake clock; blob variant on Azurite)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from azure.storage.blob import BlobServiceClient

from connector.adapters.storage.rate_limit import (
    BlobLimiterBackend,
    Permit,
    RateLimiter,
    RateLimits,
)
from connector.domain.xero_records import RateLimitHeadroom
from connector.errors import RateLimitedError
from tests.fakes.storage import MemoryLimiterBackend

# 2026-11-21 10:00:00 UTC: far from midnight, so day rollover only happens where a test wants it.
START = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(clock: FakeClock, **limits: float) -> RateLimiter:
    return RateLimiter(MemoryLimiterBackend(), RateLimits(**limits), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def take(rl: RateLimiter, tenant: str = "t1") -> Permit:
    decision = rl.try_acquire(tenant)
    assert decision.permit is not None, f"expected a permit, was told to wait {decision.wait_seconds}"
    return decision.permit


def test_o3_sixty_calls_a_minute_then_wait_until_the_oldest_leaves_the_window() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(60):
        rl.release(take(rl))
        clock.now += 0.5
    decision = rl.try_acquire("t1")
    assert decision.permit is None
    # The first call was at START; now is START + 30; it leaves the window at START + 60.
    assert decision.wait_seconds == pytest.approx(30.0)
    clock.now += 30.0
    assert rl.try_acquire("t1").permit is not None


def test_o3_five_concurrent_calls_then_a_release_frees_a_slot() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    held = [take(rl) for _ in range(5)]
    blocked = rl.try_acquire("t1")
    assert blocked.permit is None
    assert 0 < blocked.wait_seconds <= 0.25
    rl.release(held[0])
    assert rl.try_acquire("t1").permit is not None


def test_o3_a_crashed_holders_slot_expires() -> None:
    clock = FakeClock()
    rl = limiter(clock, concurrent=1, slot_ttl_seconds=30)
    take(rl)  # never released
    assert rl.try_acquire("t1").permit is None
    clock.now += 31
    assert rl.try_acquire("t1").permit is not None


def test_o3_daily_budget_waits_until_next_utc_midnight() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_day=3)
    for _ in range(3):
        rl.release(take(rl))
    decision = rl.try_acquire("t1")
    assert decision.permit is None
    assert decision.wait_seconds == pytest.approx(14 * 3600)  # 10:00 → 24:00 UTC
    clock.now += decision.wait_seconds + 1
    assert rl.try_acquire("t1").permit is not None


def test_o3_tenants_have_separate_budgets() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=2)
    rl.release(take(rl, "a"))
    rl.release(take(rl, "a"))
    assert rl.try_acquire("a").permit is None
    assert rl.try_acquire("b").permit is not None


def test_o3_xero_headroom_tightens_the_minute_and_day_view() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_day=100)
    permit = take(rl)
    # Other apps used this organisation: Xero says none left this minute.
    rl.release(permit, RateLimitHeadroom(minute_remaining=0, day_remaining=50))
    decision = rl.try_acquire("t1")
    assert decision.permit is None
    assert decision.wait_seconds == pytest.approx(60.0)
    clock.now += 61
    for _ in range(50):  # Xero's "50 left" already counts the call whose response carried it
        rl.release(take(rl))
        clock.now += 1.1
    assert rl.try_acquire("t1").wait_seconds > 3600


async def test_o3_acquire_sleeps_when_the_wait_fits_in_max_wait() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=1)
    rl.release(await rl.acquire("t1"))
    clock.now += 58
    permit = await rl.acquire("t1", max_wait=5)
    assert permit.tenant_id == "t1"
    assert clock.slept == [pytest.approx(2.0)]


async def test_o3_acquire_never_sleeps_past_max_wait_and_says_come_back_later() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_minute=1)
    rl.release(await rl.acquire("t1"))
    with pytest.raises(RateLimitedError) as caught:
        await rl.acquire("t1", max_wait=5)
    assert caught.value.retry_after == pytest.approx(60.0)
    assert clock.slept == []


async def test_o3_a_429_inside_a_slot_blocks_the_tenant_for_retry_after() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    with pytest.raises(RateLimitedError):
        async with rl.slot("t1"):
            raise RateLimitedError("Xero said 429", retry_after=42, problem="minute")
    decision = rl.try_acquire("t1")
    assert decision.permit is None
    assert decision.wait_seconds == pytest.approx(42.0)


async def test_o3_slot_releases_and_records_headroom() -> None:
    clock = FakeClock()
    rl = limiter(clock, concurrent=1)
    async with rl.slot("t1") as slot:
        assert rl.try_acquire("t1").permit is None  # the one concurrent slot is ours
        slot.headroom = RateLimitHeadroom(minute_remaining=0)
    assert rl.try_acquire("t1").wait_seconds == pytest.approx(60.0)


@pytest.mark.integration
def test_o3_two_blob_limiters_share_one_budget(azurite: object) -> None:
    """Two instances (separate clients, as two processes would have) never exceed the shared minute budget."""
    connection_string = azurite.connection_string  # type: ignore[attr-defined]
    limits = RateLimits(per_minute=10, concurrent=10)
    limiters = [
        RateLimiter(
            BlobLimiterBackend(BlobServiceClient.from_connection_string(connection_string), "rl-share"),
            limits,
        )
        for _ in range(2)
    ]
    granted: list[Permit] = []
    refused = 0
    guard = threading.Lock()

    def worker(rl: RateLimiter) -> None:
        nonlocal refused
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
    for permit in granted:
        limiters[0].release(permit)

"""A deterministic run of several limiters ("instances") sharing one budget, on an injected clock.

Workers in each instance call a pretend server as fast as their limiter lets them. Every call's real
start and end are recorded, so a test can check the limits on what actually happened rather than on
the limiter's own bookkeeping. The pretend server answers with its remaining counts, as Xero does.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from connector.adapters.storage.rate_limit import LimiterBackend, Permit, RateLimiter, RateLimits
from connector.adapters.storage.rate_limit_state import Headroom

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


class Timers:
    """`RateLimiter(timer=...)` on the fake clock: callbacks run when the test says time has come."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._count = 0

    def __call__(self, delay: float, callback: Callable[[], None]) -> object:
        self._count += 1
        self._due.append((self._clock.now + delay, self._count, callback))
        return None

    def fire_due(self) -> None:
        due = sorted(item for item in self._due if item[0] <= self._clock.now)
        self._due = [item for item in self._due if item[0] > self._clock.now]
        for _, _, callback in due:
            callback()


def limiter_on(
    backend: LimiterBackend, clock: FakeClock, timers: Timers, limits: RateLimits, name: str = ""
) -> RateLimiter:
    return RateLimiter(
        backend, limits, clock=clock, sleep=clock.sleep, timer=timers, instance_id=name or None
    )


@dataclass
class Worker:
    """One caller: waits (counted as a waiter, as `acquire` does), calls, releases."""

    limiter: RateLimiter
    tenant: str
    permit: Permit | None = None
    ends_at: float = 0.0
    next_try: float = 0.0
    _waiting: AbstractContextManager[object] | None = None

    def wait(self) -> None:
        if self._waiting is None:
            self._waiting = self.limiter.waiting(self.tenant)
            self._waiting.__enter__()

    def stop_waiting(self) -> None:
        if self._waiting is not None:
            self._waiting.__exit__(None, None, None)
            self._waiting = None


@dataclass
class Outcome:
    starts: list[float] = field(default_factory=list)
    intervals: list[tuple[float, float]] = field(default_factory=list)
    by_instance: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    def most_in_any_window(self, seconds: float) -> int:
        starts = sorted(self.starts)
        return max(
            (bisect.bisect_left(starts, s + seconds) - i for i, s in enumerate(starts)),
            default=0,
        )

    def most_at_once(self) -> int:
        events = sorted([(s, 1) for s, _ in self.intervals] + [(e, -1) for _, e in self.intervals])
        running = peak = 0
        for _, delta in events:  # at equal times an end (-1) sorts first: it frees the slot
            running += delta
            peak = max(peak, running)
        return peak


class PretendServer:
    """Counts calls in a sliding window like the real limit, and says what is left."""

    def __init__(self, limits: RateLimits, clock: FakeClock, used_elsewhere: int = 0) -> None:
        self._limits = limits
        self._clock = clock
        self.starts: list[float] = []
        self.used_elsewhere = used_elsewhere

    def call(self) -> None:
        self.starts.append(self._clock.now)

    def headroom(self) -> Headroom:
        now = self._clock.now
        recent = sum(1 for s in self.starts if s > now - self._limits.window_seconds)
        day = self._limits.per_day
        return Headroom(
            window_remaining=max(0, self._limits.per_window - recent - self.used_elsewhere),
            day_remaining=None if day is None else max(0, day - len(self.starts)),
        )


def run(
    limiters: list[RateLimiter],
    workers_each: int,
    calls: int,
    clock: FakeClock,
    timers: Timers,
    *,
    seed: int = 1,
    step: float = 0.05,
    duration: tuple[float, float] = (0.1, 1.5),
    tenant: str = "tenant",
    server: PretendServer | None = None,
    time_limit: float = 3600.0,
) -> Outcome:
    """Make `calls` calls through the limiters; returns what really happened."""
    rng = random.Random(seed)
    workers = [Worker(limiter, tenant) for limiter in limiters for _ in range(workers_each)]
    outcome = Outcome()
    begun = clock.now
    open_calls: dict[int, float] = {}
    while len(outcome.intervals) < calls:
        assert clock.now - begun < time_limit, "the run made no progress"
        timers.fire_due()
        for index, worker in enumerate(workers):
            if worker.permit is not None and clock.now >= worker.ends_at:
                outcome.intervals.append((open_calls.pop(index), clock.now))
                worker.limiter.release(worker.permit, server.headroom() if server else None)
                worker.permit = None
            if worker.permit is None and len(outcome.starts) < calls and clock.now >= worker.next_try:
                worker.wait()
                decision = worker.limiter.try_acquire(tenant)
                if decision.permit is None:
                    worker.next_try = clock.now + min(decision.wait_seconds, 5.0)
                    continue
                worker.stop_waiting()
                worker.permit = decision.permit
                worker.ends_at = clock.now + rng.uniform(*duration)
                outcome.starts.append(clock.now)
                outcome.by_instance[worker.limiter.instance_id] += 1
                open_calls[index] = clock.now
                if server is not None:
                    server.call()
        clock.now += step
    for worker in workers:
        worker.stop_waiting()
    outcome.elapsed = clock.now - begun
    return outcome

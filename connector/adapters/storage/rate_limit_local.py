"""One instance's share of one budget: its lease, its running calls and what its next write must say."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from connector.adapters.storage.rate_limit_state import (
    CONCURRENCY_POLL_SECONDS,
    Grant,
    Headroom,
    Observed,
    RateLimits,
    Report,
    round_up,
)

MAX_CONCURRENCY_POLL_SECONDS = 2.0


def _backoff(misses: int) -> float:
    return min(MAX_CONCURRENCY_POLL_SECONDS, CONCURRENCY_POLL_SECONDS * 2.0 ** min(misses - 1, 8))


@dataclass(frozen=True)
class Permit:
    """Permission for one call; give it back with `release`."""

    tenant_id: str
    slot_id: str


@dataclass(frozen=True)
class Decision:
    """Either a permit, or how many seconds to wait before asking again (and why)."""

    permit: Permit | None
    wait_seconds: float
    reason: str = ""


@dataclass
class LocalBudget:
    """`mutex` guards every field and is never held across I/O; `io` lets one write run at a time.

    Methods other than `release_local` expect the caller to hold `mutex`.
    """

    limits: RateLimits
    mutex: threading.Lock = field(default_factory=threading.Lock)
    io: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)
    writing: bool = False
    lease_left: int = 0
    lease_value: float = 0.0
    lease_until: float = 0.0
    lease_day: str = ""
    settle: list[float] = field(default_factory=list)
    drop: int = 0
    running: dict[str, float] = field(default_factory=dict)  # permit → when a leaked permit stops counting
    hold: int = 0
    blocked_until: float = 0.0
    retry_at: float = 0.0  # the shared state has no call for us before this
    reason: str = ""
    others_waiting: bool = False
    fair_share: int = 1
    seen_count: int = 0
    seen_day_count: int = 0
    concurrency_polls: int = 0
    grow_at: float = 0.0  # asking for a bigger hold again is pointless before this
    grow_misses: int = 0
    waiters: int = 0
    headroom: Observed | None = None
    generation: int = 0

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.mutex)

    def take(self, key: str, now: float) -> Decision | None:
        """A permit or a wait decided locally; None when only a write can tell."""
        self.running = {slot: until for slot, until in self.running.items() if until > now}
        if self.blocked_until > now:
            return Decision(None, self.blocked_until - now, "blocked")
        if self.writing:
            return None
        if self.lease_usable(now):
            if len(self.running) < self.hold:
                slot = uuid.uuid4().hex
                self.lease_left -= 1
                self.running[slot] = now + self.limits.slot_ttl_seconds
                self.settle.append(round_up(now, self.limits.resolution_seconds))
                return Decision(Permit(key, slot), 0.0)
            # Our own calls fill our hold: ask for a bigger one, unless others held the rest last time.
            if self.running and (now < self.grow_at or self.hold >= self.limits.concurrent):
                return Decision(None, CONCURRENCY_POLL_SECONDS, "local")
            return None
        if now < self.retry_at and not self.lease_left:  # leftovers to return may be what we wait for
            return Decision(None, self.retry_at - now, self.reason)
        return None

    def report(
        self,
        instance: str,
        now: float,
        *,
        want: int,
        close: bool,
        asking: bool = False,
        block_for: float = 0.0,
    ) -> Report:
        """What the next write carries; from here on it is the write's to deliver. `asking`: a caller
        wants a call now (counted even if it is not among the waiters)."""
        if close or now > self.lease_until:
            self.drop += self.lease_left
            self.lease_left = 0
        if self.drop:
            self.retry_at = 0.0  # what we hand back may be what we were waiting for
        running = len(self.running)
        demand = running + (max(1, self.waiters) if asking else self.waiters)
        report = Report(
            instance=instance,
            now=now,
            running=running,
            concurrency=min(self.limits.concurrent, demand),
            want_slots=want,
            lease_value=self.lease_value,
            lease_day=self.lease_day,
            settle=tuple(self.settle),
            drop_unused=self.drop,
            lease_unused=self.lease_left,
            headroom=self.headroom,
            block_for=block_for,
        )
        self.settle, self.drop, self.headroom = [], 0, None
        return report

    def lease_usable(self, now: float) -> bool:
        return self.lease_left > 0 and now <= self.lease_until

    def apply(self, report: Report, grant: Grant) -> None:
        self.grow_misses = self.grow_misses + 1 if grant.hold < report.concurrency else 0
        self.grow_at = report.now + _backoff(self.grow_misses) if self.grow_misses else 0.0
        self.hold = grant.hold
        self.blocked_until = max(self.blocked_until, grant.blocked_until)
        self.others_waiting, self.fair_share = grant.others_waiting, grant.fair_share
        self.seen_count, self.seen_day_count = grant.window_count, grant.day_count
        if grant.slots > 0:
            self.lease_left, self.lease_value = grant.slots, grant.lease_value
            self.lease_until, self.lease_day = grant.lease_until, grant.day
        if report.want_slots > 0:
            wait = grant.wait
            if grant.reason == "concurrency":  # polling storage: back off while others hold it all
                self.concurrency_polls += 1
                wait = _backoff(self.concurrency_polls)
            else:
                self.concurrency_polls = 0
            self.retry_at = report.now + wait if wait > 0 else 0.0
            self.reason = grant.reason

    def note_headroom(self, now: float, headroom: Headroom | None) -> bool:
        """Keep the server's counts for the next write; True if other instances must hear them now."""
        if headroom is None:
            return False
        self.headroom = Observed(now, headroom)
        left = [n for n in (headroom.window_remaining, headroom.day_remaining) if n is not None]
        if left and self.lease_left > max(0, min(left)):
            self.drop += self.lease_left - max(0, min(left))  # the server will not take them
            self.lease_left = max(0, min(left))
        # Calls we never counted (other apps) while the budget is nearly gone: everyone must know now.
        limits, window, day = self.limits, headroom.window_remaining, headroom.day_remaining
        nearly_gone = limits.lease_calls
        window_news = (
            window is not None and window <= nearly_gone and limits.per_window - window > self.seen_count
        )
        day_news = (
            day is not None
            and day <= nearly_gone
            and limits.per_day is not None
            and limits.per_day - day > self.seen_day_count
        )
        return window_news or day_news

    def release_local(self, slot_id: str, now: float, headroom: Headroom | None) -> tuple[bool, int | None]:
        """The local part of a release: (write now?, flush generation if the instance went idle)."""
        with self.mutex:
            self.running.pop(slot_id, None)
            urgent = self.note_headroom(now, headroom)
            running = len(self.running)
            # Someone else waits for concurrency: hand back what we hold beyond our share and our need.
            over_share = self.hold > max(running, self.fair_share)
            shrink = self.others_waiting and (over_share or (self.waiters == 0 and self.hold > running))
            self.changed.notify_all()
            return urgent or shrink, self.idle_generation()

    def idle_generation(self) -> int | None:
        """With nothing running or waiting, a new generation for the idle flush to check against."""
        if self.running or self.waiters:
            return None
        self.generation += 1
        return self.generation

    def worth_flushing(self) -> bool:
        """Idle, is what we hold worth a write to hand back? Small holds and spare calls just expire."""
        limits = self.limits
        return (
            self.others_waiting
            or self.hold > limits.concurrent // 4
            or (self.lease_left + self.drop > 0 and self.seen_count >= limits.per_window * 3 // 4)
        )

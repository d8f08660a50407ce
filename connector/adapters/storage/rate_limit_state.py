"""One call budget's shared state and the pure rule that changes it (SPEC O3).

Instances do not take one call at a time: each write leases a few calls (a *lease*) that the instance
then spends without storage, and in the same write settles what it did with its previous lease. A
leased call is recorded at the latest moment it may start (the lease's end) and moved to its real start
when settled, so in any window the budget counts every call that could have started in it. Concurrency
is a per-instance *hold*: how many calls that instance may run at once, kept at most as large as its
demand, and cut to a fair share while another instance waits.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import InitVar, dataclass

from pydantic import BaseModel, Field

# How long to wait before asking again when only the concurrency cap is in the way.
CONCURRENCY_POLL_SECONDS = 0.25
# A waiting instance's request for a fair share of the concurrency stays visible this long.
WANT_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class RateLimits:
    """A budget: `per_window` calls in any `window_seconds`, `concurrent` at once, `per_day` per UTC day."""

    per_window: int = 60
    concurrent: int = 5
    per_day: int | None = 5000
    # A hold lasts this long after the write that set it, unless renewed or handed back: longer than a
    # call leased then can take (Xero's client: 10 s to connect, 30 s to read), so a crashed or idle
    # instance's hold frees itself without cutting a running call short.
    slot_ttl_seconds: float = 45.0
    window_seconds: float = 60.0
    # Calls leased per storage write, and how long an instance may take to start them.
    lease_size: int = 6
    lease_seconds: float = 2.0
    # Assumed: a request reaches the server within this long of leaving, so it is counted that much longer.
    margin_seconds: float = 1.0
    # Window entries are rounded up to this, which keeps the stored state small for big budgets.
    resolution_seconds: float = 0.1
    # Xero's own name for `per_window`.
    per_minute: InitVar[int | None] = None

    def __post_init__(self, per_minute: int | None) -> None:
        if per_minute is not None:
            object.__setattr__(self, "per_window", per_minute)

    @property
    def lease_calls(self) -> int:
        """Calls one write leases: `lease_size`, but never more than a quarter of the window."""
        return max(1, min(self.lease_size, self.per_window // 4))


@dataclass(frozen=True)
class Headroom:
    """What the server says is left: in its window, and today. None when it did not say."""

    window_remaining: int | None = None
    day_remaining: int | None = None


@dataclass(frozen=True)
class Observed:
    at: float
    headroom: Headroom


class Hold(BaseModel):
    count: int = 0
    until: float = 0.0


class LimiterState(BaseModel):
    """One budget's shared view, stored as JSON."""

    window: list[tuple[float, int]] = Field(
        default_factory=list, description="(latest start, calls) of calls that still count, sorted."
    )
    day: str = ""
    day_count: int = 0
    holds: dict[str, Hold] = Field(default_factory=dict, description="Instance → concurrency it may use.")
    wants: dict[str, float] = Field(default_factory=dict, description="Instance waiting for concurrency.")
    blocked_until: float = 0.0


@dataclass(frozen=True)
class Report:
    """What one instance tells the shared state in one write, and what it asks for."""

    instance: str
    now: float
    running: int = 0
    concurrency: int = 0  # the hold it would like (at least `running`)
    want_slots: int = 0
    lease_value: float = 0.0  # where its current lease's calls are recorded
    lease_day: str = ""
    settle: tuple[float, ...] = ()  # real starts of leased calls made since the last write
    drop_unused: int = 0  # leased calls it will not make
    lease_unused: int = 0  # leased calls it still means to make (counted, but not made yet)
    headroom: Observed | None = None
    block_for: float = 0.0  # the server said 429: nobody calls before this has passed


@dataclass(frozen=True)
class Grant:
    """The answer: a new lease (maybe empty), the hold, and when to come back if nothing was granted."""

    slots: int = 0
    lease_value: float = 0.0
    lease_until: float = 0.0
    day: str = ""
    hold: int = 0
    blocked_until: float = 0.0
    reason: str = ""  # why nothing was granted: "blocked", "day", "window", "concurrency"
    # When asking again may get calls (with a lease, once it is spent): when a lease's worth is free,
    # but never more than lease_seconds after the first call is, so one write serves several calls.
    wait: float = 0.0
    others_waiting: bool = False
    fair_share: int = 1
    window_count: int = 0
    day_count: int = 0


def utc_day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()


def seconds_to_next_utc_day(now: float) -> float:
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return max(0.0, midnight.timestamp() - now)


def round_up(moment: float, resolution: float) -> float:
    """`moment` rounded up to a multiple of `resolution` (float noise of a few microseconds ignored)."""
    if resolution <= 0:
        return moment
    steps = moment / resolution
    nearest = round(steps)
    return round((nearest if nearest >= steps - 1e-4 else math.ceil(steps)) * resolution, 6)


def _add(window: list[tuple[float, int]], moment: float, count: int) -> None:
    if count <= 0:
        return
    for index, (at, calls) in enumerate(window):
        if at == moment:
            window[index] = (at, calls + count)
            return
    window.append((moment, count))
    window.sort()


def _remove(window: list[tuple[float, int]], moment: float, count: int) -> None:
    for index, (at, calls) in enumerate(window):
        if at == moment:
            if calls > count:
                window[index] = (at, calls - count)
            else:
                del window[index]
            return


def counted(state: LimiterState) -> int:
    return sum(calls for _, calls in state.window)


def tidy(state: LimiterState, now: float, limits: RateLimits) -> LimiterState:
    """Forget what no longer counts: calls out of the window, expired holds and wants, yesterday."""
    day = utc_day(now)
    span = limits.window_seconds + limits.margin_seconds
    return LimiterState(
        window=sorted((at, calls) for at, calls in state.window if at + span > now and calls > 0),
        day=day,
        day_count=state.day_count if state.day == day else 0,
        holds={key: hold for key, hold in state.holds.items() if hold.until > now and hold.count > 0},
        wants={key: until for key, until in state.wants.items() if until > now},
        blocked_until=state.blocked_until if state.blocked_until > now else 0.0,
    )


def window_wait(state: LimiterState, now: float, limits: RateLimits, need: int) -> float:
    """Seconds until `need` more calls fit in the window (0 if they already do)."""
    excess = counted(state) - limits.per_window + need
    if excess <= 0:
        return 0.0
    span = limits.window_seconds + limits.margin_seconds
    for at, calls in state.window:
        excess -= calls
        if excess <= 0:
            return max(0.0, at + span - now)
    return span  # more than the whole budget asked for: a full window from now


def _fold(state: LimiterState, report: Report, limits: RateLimits) -> None:
    """Apply what the instance reports: settled calls, unused ones, the server's headroom, a 429."""
    if report.settle or report.drop_unused:
        _remove(state.window, report.lease_value, len(report.settle) + report.drop_unused)
        span = limits.window_seconds + limits.margin_seconds
        for start in report.settle:
            if start + span > report.now:
                _add(state.window, start, 1)
        if report.drop_unused and report.lease_day == state.day:
            state.day_count = max(0, state.day_count - report.drop_unused)
    seen = report.headroom
    if seen is not None and seen.headroom.window_remaining is not None:
        used = limits.per_window - max(0, seen.headroom.window_remaining)
        # Calls other apps made (invisible to us): assume they happened when the server said so.
        made = counted(state) - report.lease_unused
        _add(state.window, round_up(seen.at, limits.resolution_seconds), used - made)
    day_left = seen.headroom.day_remaining if seen is not None and utc_day(seen.at) == state.day else None
    if day_left is not None and limits.per_day is not None:
        state.day_count = max(state.day_count, limits.per_day - max(0, day_left))
    if report.block_for > 0:
        state.blocked_until = max(state.blocked_until, report.now + report.block_for)


def _concurrency(state: LimiterState, report: Report, limits: RateLimits) -> tuple[int, int, bool]:
    """The instance's new hold, the fair share, and whether someone else is waiting."""
    me = report.instance
    others_held = sum(hold.count for key, hold in state.holds.items() if key != me)
    waiting = {key for key in state.wants if key != me}
    active = {key for key, hold in state.holds.items() if key != me and hold.count > 0} | waiting
    fair = max(1, -(-limits.concurrent // (1 + len(active))))  # rounded up: grants never exceed what is free
    available = max(0, limits.concurrent - others_held)
    cap = min(available, fair) if waiting else available
    hold = max(report.running, min(report.concurrency, cap))
    return hold, fair, bool(waiting)


@dataclass(frozen=True)
class _Lease:
    slots: int = 0
    value: float = 0.0
    until: float = 0.0
    reason: str = ""
    wait: float = 0.0


def _day_retry(state: LimiterState, now: float, limits: RateLimits) -> float:
    """Tomorrow, unless leases still out may come back unused: then once they have ended."""
    leases_end = max((at for at, _ in state.window if at > now), default=None)
    midnight = seconds_to_next_utc_day(now)
    return midnight if leases_end is None else min(midnight, leases_end - now + limits.lease_seconds)


def _window_retry(state: LimiterState, now: float, limits: RateLimits, want: int) -> float:
    first = window_wait(state, now, limits, 1)
    wait = min(window_wait(state, now, limits, min(want, limits.per_window)), first + limits.lease_seconds)
    if wait > limits.window_seconds + limits.margin_seconds:
        # Only leases still out stand in the way, and they may come back unused: look again after them.
        leases_end = max(at for at, _ in state.window if at > now)
        wait = min(wait, leases_end - now + limits.lease_seconds)
    return wait


def _slots(state: LimiterState, report: Report, limits: RateLimits, hold: int, contended: bool) -> _Lease:
    """Lease up to `want_slots` calls if every limit allows; else say why and for how long."""
    now = report.now
    if state.blocked_until > now:
        return _Lease(reason="blocked", wait=state.blocked_until - now)
    day_free = limits.per_day - state.day_count if limits.per_day is not None else report.want_slots
    if day_free <= 0:
        return _Lease(reason="day", wait=_day_retry(state, now, limits))
    # With calls of its own running, the instance can use a lease as soon as one of them ends.
    if hold <= report.running and (report.running == 0 or contended):
        return _Lease(reason="concurrency", wait=CONCURRENCY_POLL_SECONDS)
    window_free = limits.per_window - counted(state)
    count = min(report.want_slots, window_free, day_free)
    if count <= 0:
        return _Lease(reason="window", wait=_window_retry(state, now, limits, report.want_slots))
    until = now + limits.lease_seconds
    value = round_up(until, limits.resolution_seconds)
    day_retry = _day_retry(state, now, limits)  # before our own lease: we know what becomes of it
    _add(state.window, value, count)
    state.day_count += count
    if count == report.want_slots:
        return _Lease(slots=count, value=value, until=until)
    # A short lease: say when to come back for more, so nobody asks before then.
    if count == day_free:
        return _Lease(count, value, until, "day", day_retry)
    return _Lease(count, value, until, "window", _window_retry(state, now, limits, report.want_slots))


def exchange(state: LimiterState, report: Report, limits: RateLimits) -> tuple[LimiterState | None, Grant]:
    """One instance's write: fold its report in, then grant what it asks for. None: nothing to write."""
    now = report.now
    base = tidy(state, now, limits)
    state = base.model_copy(deep=True)
    _fold(state, report, limits)
    hold, fair, others_waiting = _concurrency(state, report, limits)
    lease = _slots(state, report, limits, hold, others_waiting) if report.want_slots > 0 else _Lease()
    if lease.slots == 0 and not report.lease_unused:
        hold = report.running  # concurrency it cannot use yet would only keep others waiting
    if hold > 0:
        state.holds[report.instance] = Hold(count=hold, until=now + limits.slot_ttl_seconds)
    else:
        state.holds.pop(report.instance, None)
    # Calls to make but below both its demand and its fair share: others cut their holds to theirs.
    has_calls = lease.slots > 0 or report.lease_unused > 0
    if lease.reason == "concurrency" or (has_calls and hold < min(report.concurrency, fair)):
        state.wants[report.instance] = now + WANT_TTL_SECONDS
    else:
        state.wants.pop(report.instance, None)
    grant = Grant(
        slots=lease.slots,
        lease_value=lease.value,
        lease_until=lease.until,
        day=state.day,
        hold=hold,
        blocked_until=state.blocked_until,
        reason=lease.reason,
        wait=lease.wait,
        others_waiting=others_waiting,
        fair_share=fair,
        window_count=counted(state),
        day_count=state.day_count,
    )
    return (None if state == base else state), grant

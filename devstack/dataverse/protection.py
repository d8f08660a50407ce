"""Dataverse's service protection API limits, per user, over a sliding window (api-limits.md).

Three limits: requests in the window, combined execution time in the window, and concurrent
requests. Time is emulated: `time_scale` emulated seconds pass per real second, so a bench can
squeeze the 5-minute window; `Retry-After` is then given in real seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

REQUESTS_CODE = "0x80072322"  # -2147015902
EXECUTION_CODE = "0x80072321"  # -2147015903
CONCURRENCY_CODE = "0x80072326"  # -2147015898
BURST_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME_HEADER = "x-ms-ratelimit-time-remaining-xrm-requests"
# Assumed: the documents give no Retry-After for the concurrency limit, which has no window to wait out.
CONCURRENCY_RETRY_SECONDS = 1.0


@dataclass
class Limits:
    """Service protection settings; a limit of None is not enforced."""

    enabled: bool = True
    requests_per_window: int | None = 6000
    window_seconds: float = 300.0
    max_concurrent: int | None = 52
    execution_ms_per_window: float | None = 1_200_000
    time_scale: float = 1.0

    def validate(self) -> None:
        for name in ("requests_per_window", "max_concurrent"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or null")
        if self.execution_ms_per_window is not None and (
            isinstance(self.execution_ms_per_window, bool)
            or not isinstance(self.execution_ms_per_window, int | float)
            or self.execution_ms_per_window <= 0
        ):
            raise ValueError("execution_ms_per_window must be a positive number or null")
        for name in ("window_seconds", "time_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number")
        if not isinstance(self.enabled, bool):
            raise ValueError("enabled must be true or false")


@dataclass
class Refusal:
    """A request refused with 429: which limit, Dataverse's code and message, and when to retry."""

    limit: str  # "requests" | "execution_time" | "concurrency"
    code: str
    message: str
    retry_after: float  # real seconds


@dataclass
class Admission:
    """An admitted request; hand it back to `ServiceProtection.finish` when it has been served."""

    user: str
    started: float  # real monotonic seconds


@dataclass
class _UserWindow:
    accepted: deque[float] = field(default_factory=deque)  # emulated times of served requests
    arrivals: deque[float] = field(default_factory=deque)  # emulated times of every request
    executions: deque[tuple[float, float]] = field(default_factory=deque)  # (emulated end, emulated ms)
    execution_ms: float = 0.0
    in_flight: int = 0
    received: int = 0
    served: int = 0
    throttled: Counter[str] = field(default_factory=Counter)
    peak_per_window: int = 0
    peak_accepted_per_window: int = 0
    peak_concurrent: int = 0


class ServiceProtection:
    """Counts Web API requests per user and decides 429s. Thread-safe."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        limits.validate()
        self._real = clock
        self._lock = threading.Lock()
        self.limits = limits
        self._anchor_real = clock()
        self._anchor_emulated = 0.0
        self._users: dict[str, _UserWindow] = {}
        self._all_arrivals: deque[float] = deque()
        self._all_accepted: deque[float] = deque()
        self.peak_per_window = 0
        self.peak_accepted_per_window = 0

    # ---- time ---------------------------------------------------------------------------------
    def now(self) -> float:
        """Emulated seconds since start."""
        return self._anchor_emulated + (self._real() - self._anchor_real) * self.limits.time_scale

    def _real_seconds(self, emulated: float) -> float:
        seconds = max(0.0, emulated) / self.limits.time_scale
        if self.limits.time_scale == 1.0:
            return float(max(1, math.ceil(seconds)))  # Dataverse sends whole seconds
        return max(0.001, math.ceil(seconds * 1000) / 1000)

    # ---- configuration ------------------------------------------------------------------------
    def configure(self, changes: dict[str, Any]) -> Limits:
        """Change limits at run time; unknown keys or bad values raise ValueError, nothing changes."""
        names = {item.name for item in fields(Limits)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            proposed = Limits(**{**asdict(self.limits), **changes})
            proposed.validate()
            now = self.now()
            self._anchor_real, self._anchor_emulated = self._real(), now  # keep emulated time continuous
            self.limits = proposed
            return proposed

    def reset(self, limits: Limits | None = None) -> None:
        """Forget every count (and optionally install new limits)."""
        with self._lock:
            if limits is not None:
                limits.validate()
                self.limits = limits
            self._anchor_real, self._anchor_emulated = self._real(), 0.0
            self._users.clear()
            self._all_arrivals.clear()
            self._all_accepted.clear()
            self.peak_per_window = 0
            self.peak_accepted_per_window = 0

    # ---- counting -----------------------------------------------------------------------------
    def _user(self, user: str) -> _UserWindow:
        return self._users.setdefault(user, _UserWindow())

    def _trim(self, window: _UserWindow, now: float) -> None:
        cutoff = now - self.limits.window_seconds
        for times in (window.accepted, window.arrivals):
            while times and times[0] <= cutoff:
                times.popleft()
        while window.executions and window.executions[0][0] <= cutoff:
            window.execution_ms -= window.executions.popleft()[1]
        for times in (self._all_arrivals, self._all_accepted):
            while times and times[0] <= cutoff:
                times.popleft()

    def arrive(self, user: str) -> None:
        """Note a request reaching the server (served, throttled or failed): for the peak figures."""
        with self._lock:
            now = self.now()
            window = self._user(user)
            self._trim(window, now)
            window.received += 1
            window.arrivals.append(now)
            self._all_arrivals.append(now)
            window.peak_per_window = max(window.peak_per_window, len(window.arrivals))
            self.peak_per_window = max(self.peak_per_window, len(self._all_arrivals))

    def admit(self, user: str) -> Admission | Refusal:
        """Admit the request, or refuse it with the first limit it breaks."""
        with self._lock:
            limits = self.limits
            now = self.now()
            window = self._user(user)
            self._trim(window, now)
            refusal = self._refusal(window, now) if limits.enabled else None
            if refusal is not None:
                window.throttled[refusal.limit] += 1
                return refusal
            window.accepted.append(now)
            self._all_accepted.append(now)
            window.in_flight += 1
            window.served += 1
            window.peak_accepted_per_window = max(window.peak_accepted_per_window, len(window.accepted))
            window.peak_concurrent = max(window.peak_concurrent, window.in_flight)
            self.peak_accepted_per_window = max(self.peak_accepted_per_window, len(self._all_accepted))
            return Admission(user, self._real())

    def _refusal(self, window: _UserWindow, now: float) -> Refusal | None:
        limits = self.limits
        if limits.max_concurrent is not None and window.in_flight >= limits.max_concurrent:
            return Refusal(
                "concurrency",
                CONCURRENCY_CODE,
                f"Number of concurrent requests exceeded the limit of {limits.max_concurrent}.",
                self._real_seconds(CONCURRENCY_RETRY_SECONDS),
            )
        window_text = f"{limits.window_seconds:g}"
        if limits.requests_per_window is not None and len(window.accepted) >= limits.requests_per_window:
            # The window frees a slot when the oldest request beyond the limit leaves it.
            oldest = window.accepted[len(window.accepted) - limits.requests_per_window]
            return Refusal(
                "requests",
                REQUESTS_CODE,
                f"Number of requests exceeded the limit of {limits.requests_per_window} over time window "
                f"of {window_text} seconds.",
                self._real_seconds(oldest + limits.window_seconds - now),
            )
        if (
            limits.execution_ms_per_window is not None
            and window.execution_ms >= limits.execution_ms_per_window
        ):
            remaining, frees_at = window.execution_ms, now
            for ended, milliseconds in window.executions:
                remaining -= milliseconds
                frees_at = ended
                if remaining < limits.execution_ms_per_window:
                    break
            return Refusal(
                "execution_time",
                EXECUTION_CODE,
                "Combined execution time of incoming requests exceeded limit of "
                f"{limits.execution_ms_per_window:,.0f} milliseconds over time window of {window_text} "
                "seconds. Decrease number of concurrent requests or reduce the duration of requests and "
                "try again later.",
                self._real_seconds(frees_at + limits.window_seconds - now),
            )
        return None

    def finish(self, admission: Admission) -> None:
        """The request has been served: free its concurrency slot and add its execution time."""
        with self._lock:
            elapsed_real = max(0.0, self._real() - admission.started)
            window = self._user(admission.user)
            window.in_flight -= 1
            milliseconds = elapsed_real * 1000 * self.limits.time_scale
            window.executions.append((self.now(), milliseconds))
            window.execution_ms += milliseconds

    # ---- reporting ----------------------------------------------------------------------------
    def headers(self, user: str) -> dict[str, str]:
        """The diagnostic `x-ms-ratelimit-*` headers for this user's next request."""
        with self._lock:
            limits = self.limits
            window = self._user(user)
            self._trim(window, self.now())
            headers: dict[str, str] = {}
            if limits.requests_per_window is not None:
                headers[BURST_HEADER] = str(max(0, limits.requests_per_window - len(window.accepted)))
            if limits.execution_ms_per_window is not None:
                # Seen on real orgs as seconds with a thousands separator: "1,199.46" ([3p] captures).
                seconds = max(0.0, limits.execution_ms_per_window - window.execution_ms) / 1000
                headers[TIME_HEADER] = f"{seconds:,.2f}"
            return headers

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = self.now()
            users: dict[str, Any] = {}
            for user, window in self._users.items():
                self._trim(window, now)
                users[user] = {
                    "requests_in_window": len(window.accepted),
                    "arrivals_in_window": len(window.arrivals),
                    "execution_ms_in_window": round(window.execution_ms, 3),
                    "in_flight": window.in_flight,
                    "received": window.received,
                    "served": window.served,
                    "throttled": dict(window.throttled),
                    "peak_per_window": window.peak_per_window,
                    "peak_accepted_per_window": window.peak_accepted_per_window,
                    "peak_concurrent": window.peak_concurrent,
                }
            return {
                "limits": asdict(self.limits),
                "emulated_seconds": round(now, 3),
                "peak_per_window": self.peak_per_window,
                "peak_accepted_per_window": self.peak_accepted_per_window,
                "throttled": sum(sum(window.throttled.values()) for window in self._users.values()),
                "users": users,
            }

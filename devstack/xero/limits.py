"""Xero's rate limits: per tenant 60/minute, 5 concurrent, 5,000/day; per app 10,000/minute. Fixed windows."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from devstack.xero.config import EmulatorOptions


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass
class Verdict:
    """Either allowed (problem None) or a 429 with X-Rate-Limit-Problem and maybe Retry-After."""

    headers: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    retry_after: int | None = None


class RateLimiter:
    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._minute: dict[str, _Window] = {}
        self._day: dict[str, _Window] = {}
        self._app_minute: _Window | None = None
        self._in_flight: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._minute.clear()
            self._day.clear()
            self._app_minute = None
            self._in_flight.clear()

    def _length(self, seconds: float) -> float:
        return seconds / max(self.options.rate_limit_time_scale, 1e-9)

    def _window(self, table: dict[str, _Window], key: str, length: float, now: float) -> _Window:
        window = table.get(key)
        if window is None or now - window.started >= length:
            window = table[key] = _Window(started=now)
        return window

    def acquire(self, tenant_id: str | None) -> Verdict:
        """Count one call. On success the caller must `release(tenant_id)` when the call ends."""
        opts = self.options
        now = time.monotonic()
        with self._lock:
            minute_len, day_len = self._length(60), self._length(86400)
            if self._app_minute is None or now - self._app_minute.started >= minute_len:
                self._app_minute = _Window(started=now)
            app = self._app_minute
            if not opts.rate_limits_enabled:
                return Verdict()
            if app.count >= opts.app_limit_per_minute:
                return self._refuse("appminute", app, minute_len, now, {})
            if tenant_id is None:
                app.count += 1
                return Verdict(
                    headers={"X-AppMinLimit-Remaining": str(opts.app_limit_per_minute - app.count)}
                )
            minute = self._window(self._minute, tenant_id, minute_len, now)
            day = self._window(self._day, tenant_id, day_len, now)
            headers = {
                "X-DayLimit-Remaining": str(max(opts.rate_limit_per_day - day.count, 0)),
                "X-MinLimit-Remaining": str(max(opts.rate_limit_per_minute - minute.count, 0)),
                "X-AppMinLimit-Remaining": str(max(opts.app_limit_per_minute - app.count, 0)),
            }
            if day.count >= opts.rate_limit_per_day:
                return self._refuse("day", day, day_len, now, headers)
            if minute.count >= opts.rate_limit_per_minute:
                return self._refuse("minute", minute, minute_len, now, headers)
            if self._in_flight.get(tenant_id, 0) >= opts.rate_limit_concurrent:
                # Xero gives no Retry-After for the concurrent limit; retry as soon as a call finishes.
                return Verdict(headers=headers, problem="concurrent")
            app.count += 1
            minute.count += 1
            day.count += 1
            self._in_flight[tenant_id] = self._in_flight.get(tenant_id, 0) + 1
            headers = {
                "X-DayLimit-Remaining": str(opts.rate_limit_per_day - day.count),
                "X-MinLimit-Remaining": str(opts.rate_limit_per_minute - minute.count),
                "X-AppMinLimit-Remaining": str(opts.app_limit_per_minute - app.count),
            }
            return Verdict(headers=headers)

    def _refuse(
        self, problem: str, window: _Window, length: float, now: float, headers: dict[str, str]
    ) -> Verdict:
        retry_after = max(1, math.ceil(window.started + length - now))
        return Verdict(headers=headers, problem=problem, retry_after=retry_after)

    def release(self, tenant_id: str | None) -> None:
        if tenant_id is None or not self.options.rate_limits_enabled:
            return
        with self._lock:
            self._in_flight[tenant_id] = max(self._in_flight.get(tenant_id, 1) - 1, 0)

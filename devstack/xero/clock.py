"""The emulator's notion of "now" and "today", which tests can move."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta


class Clock:
    """Wall clock plus an adjustable offset; `today` may be pinned independently (for overdue balances)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta()
        self._today: date | None = None

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def today(self) -> date:
        with self._lock:
            pinned = self._today
        return pinned if pinned is not None else self.now().date()

    def set_today(self, value: date | None) -> None:
        with self._lock:
            self._today = value

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()
            self._today = None

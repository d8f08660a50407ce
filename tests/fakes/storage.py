"""In-memory stand-ins for the storage adapters (tokens, rate-limit state, watermarks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from connector.adapters.storage.rate_limit import LimiterState
from connector.adapters.storage.token_store import Clock, SingleFlightStore, TokenSet

T = TypeVar("T")


class MemoryTokenStore(SingleFlightStore):
    """In-process store for unit tests and single-process tools."""

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._tokens: dict[str, TokenSet] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, connection_id: str) -> TokenSet | None:
        with self._guard:
            return self._tokens.get(connection_id)

    def save(self, connection_id: str, tokens: TokenSet) -> None:
        with self._guard:
            self._tokens[connection_id] = tokens

    def delete(self, connection_id: str) -> None:
        with self._guard:
            self._tokens.pop(connection_id, None)

    @contextmanager
    def _locked(self, connection_id: str) -> Iterator[Callable[[TokenSet], None]]:
        with self._guard:
            lock = self._locks.setdefault(connection_id, threading.Lock())
        with lock:
            yield lambda tokens: self.save(connection_id, tokens)


class MemoryLimiterBackend:
    """State in a dict: for unit tests, and for several limiters ("instances") sharing one budget.

    Each update is one atomic read-modify-write, counted as one round trip (a blob write under an
    ETag condition costs the same when nobody else wrote since).
    """

    def __init__(self) -> None:
        self._states: dict[str, LimiterState] = {}
        self._lock = threading.Lock()
        self.round_trips = 0
        self.writes = 0

    def update(self, key: str, change: Callable[[LimiterState], tuple[LimiterState | None, T]]) -> T:
        with self._lock:
            self.round_trips += 1
            state, result = change(self._states.get(key, LimiterState()).model_copy(deep=True))
            if state is not None:
                self.writes += 1
                self._states[key] = state
            return result

    def state(self, key: str) -> LimiterState:
        with self._lock:
            return self._states.get(key, LimiterState()).model_copy(deep=True)


class MemoryWatermarkStore:
    """WatermarkStore in memory, for tests and local runs."""

    def __init__(self) -> None:
        self.marks: dict[UUID, datetime] = {}

    async def get(self, connection_id: UUID) -> datetime | None:
        return self.marks.get(connection_id)

    async def set(self, connection_id: UUID, at: datetime) -> None:
        self.marks[connection_id] = at.astimezone(UTC)


class MemoryLease:
    def __init__(self, leases: MemoryLeases, name: str) -> None:
        self._leases, self._name = leases, name
        self.renewals = 0

    async def renew(self) -> None:
        self.renewals += 1

    async def release(self) -> None:
        self._leases.held.discard(self._name)


class MemoryLeases:
    """Leases in a set: one holder per name, like blob leases across instances."""

    def __init__(self) -> None:
        self.held: set[str] = set()

    async def acquire(self, name: str) -> MemoryLease | None:
        if name in self.held:
            return None
        self.held.add(name)
        return MemoryLease(self, name)

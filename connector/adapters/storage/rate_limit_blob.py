"""Budget state in one blob per key, changed only under an ETag condition (SPEC O3).

The backend remembers the state and ETag of the blob as it last saw it. While no other instance
writes, a change costs one round trip: the conditional upload. While others keep writing, that upload
would mostly fail (412) and cost two more, so the backend reads first instead (two in all), and goes
back to writing straight away when the blob stops changing under it. A change that writes nothing is
decided on a fresh read.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient

from connector.adapters.storage.blob import ensure_container
from connector.adapters.storage.rate_limit_state import LimiterState
from connector.errors import RetryableError

T = TypeVar("T")
Change = Callable[[LimiterState], tuple[LimiterState | None, T]]
# How often, lately, another instance had written since we last saw the blob; from CONTENDED on, read first.
CONTENTION_WEIGHT = 0.4
CONTENDED = 0.5


class LimiterBackend(Protocol):
    """Atomic read-modify-write of one budget's state; `change` returns None when nothing changed."""

    def update(self, key: str, change: Change[T]) -> T: ...


class BlobLimiterBackend:
    """One blob per key, written only if its ETag is unchanged: no process loses another's calls."""

    def __init__(self, service: BlobServiceClient, container: str, *, max_attempts: int = 30) -> None:
        self._container = ensure_container(service, container)
        self._max_attempts = max_attempts
        self._known: dict[str, tuple[LimiterState, str]] = {}
        self._contention: dict[str, float] = {}
        self._lock = threading.Lock()
        self.reads = 0
        self.writes = 0

    @property
    def round_trips(self) -> int:
        """Storage requests made so far (reads and writes)."""
        return self.reads + self.writes

    def _read(self, blob: BlobClient) -> tuple[LimiterState, str | None]:
        self._count(reads=1)
        try:
            download = blob.download_blob()
            state = LimiterState.model_validate(json.loads(download.readall()))
            return state, download.properties.etag
        except ResourceNotFoundError:
            return LimiterState(), None

    def _write(self, blob: BlobClient, state: LimiterState, etag: str | None) -> str:
        self._count(writes=1)
        data = state.model_dump_json().encode()
        if etag is None:
            result = blob.upload_blob(data, overwrite=False)  # create only if nobody else did
        else:
            result = blob.upload_blob(
                data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        return str(result["etag"])

    def _count(self, reads: int = 0, writes: int = 0) -> None:
        with self._lock:
            self.reads += reads
            self.writes += writes

    def _remember(self, key: str, state: LimiterState, etag: str | None, stale: bool) -> None:
        with self._lock:
            if etag is not None:
                self._known[key] = (state, etag)
            previous = self._contention.get(key, 0.0)
            self._contention[key] = previous * (1 - CONTENTION_WEIGHT) + (CONTENTION_WEIGHT if stale else 0)

    def update(self, key: str, change: Change[T]) -> T:
        blob = self._container.get_blob_client(f"{key}.json")
        with self._lock:
            known = self._known.get(key)
            contended = self._contention.get(key, 0.0) >= CONTENDED
        known_etag = known[1] if known is not None else None
        if known is None or contended:
            state, etag = self._read(blob)
            fresh, stale = True, known is not None and etag != known_etag
        else:
            (state, etag), fresh, stale = known, False, False
        for attempt in range(self._max_attempts):
            new_state, result = change(state.model_copy(deep=True))
            if new_state is None and not fresh:
                state, etag = self._read(blob)  # a "no" decided on what we last saw may be stale
                fresh, stale = True, etag != known_etag
                continue
            if new_state is None:
                self._remember(key, state, etag, stale)
                return result
            try:
                new_etag = self._write(blob, new_state, etag)
            except HttpResponseError as exc:
                if exc.status_code not in (404, 409, 412):
                    raise
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # noqa: S311 - jitter after a lost race
                state, etag = self._read(blob)
                fresh, stale = True, True
                continue
            self._remember(key, new_state, new_etag, stale)
            return result
        with self._lock:
            self._known.pop(key, None)
        raise RetryableError("rate-limit state is too contended; try again")

"""Known Xero items per connection, so steady-state syncs skip the item lookup (calls per invoice)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from connector.domain.xero_records import XeroItem

DEFAULT_TTL_SECONDS = 600.0


class ItemCache:
    """Items seen in Xero, by connection and code, for `ttl` seconds. Misses are never cached."""

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._items: dict[tuple[str, str], tuple[float, XeroItem]] = {}
        self._lock = threading.Lock()

    def known(self, connection_id: str, codes: Iterable[str]) -> dict[str, XeroItem]:
        now = self._clock()
        found: dict[str, XeroItem] = {}
        with self._lock:
            for code in codes:
                entry = self._items.get((connection_id, code))
                if entry is not None and entry[0] > now:
                    found[code] = entry[1]
        return found

    def remember(self, connection_id: str, items: Iterable[XeroItem]) -> None:
        expires = self._clock() + self._ttl
        with self._lock:
            for item in items:
                self._items[(connection_id, item.code)] = (expires, item)

"""Connection settings change rarely and are read by every handler: keep them for a minute."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from connector.adapters.dataverse.client import DataverseClient
from connector.domain.dynamics import ConnectionSettings

T = TypeVar("T")
CONNECTION_TTL_SECONDS = 60.0


class ConnectionCachingDataverseClient(DataverseClient):
    """A DataverseClient whose connection reads are served from a short per-process cache.

    A changed setting reaches a running instance within CONNECTION_TTL_SECONDS; this process's own
    connection writes clear the cache at once.
    """

    def __init__(
        self,
        *args: Any,
        ttl: float = CONNECTION_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._generation = 0

    async def _cached(self, key: tuple[str, str], load: Callable[[], Awaitable[T]]) -> T:
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[no-any-return]
        generation = self._generation
        value = await load()
        if generation == self._generation:  # a write since the read began: the value may be old
            self._cache[key] = (now + self._ttl, value)
        return value

    def _forget(self) -> None:
        self._generation += 1
        self._cache.clear()

    async def get_connection(self, connection_id: UUID) -> ConnectionSettings:
        return await self._cached(
            ("id", str(connection_id)),
            lambda: super(ConnectionCachingDataverseClient, self).get_connection(connection_id),
        )

    async def get_default_connection(self) -> ConnectionSettings | None:
        return await self._cached(("default", ""), super().get_default_connection)

    async def get_connection_by_tenant_id(self, tenant_id: str) -> ConnectionSettings | None:
        return await self._cached(
            ("tenant", tenant_id),
            lambda: super(ConnectionCachingDataverseClient, self).get_connection_by_tenant_id(tenant_id),
        )

    async def set_default_connection(self, connection_id: UUID) -> None:
        self._forget()
        await super().set_default_connection(connection_id)
        self._forget()

    async def update_connection(self, connection_id: UUID, changes: Mapping[str, object]) -> None:
        self._forget()
        await super().update_connection(connection_id, changes)
        self._forget()

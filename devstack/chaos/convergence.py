"""Waiting for the system to settle: queues drained, every invoice in its end state, within a deadline."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueServiceClient

from devstack.host.http import master_key

logger = logging.getLogger("devstack.chaos")


class Queues:
    """Message counts on the connector's queues and their poison queues (Azurite)."""

    def __init__(self, connection_string: str, names: list[str]) -> None:
        self.service = QueueServiceClient.from_connection_string(connection_string)
        self.names = names

    def _count(self, name: str) -> int:
        try:
            properties = self.service.get_queue_client(name).get_queue_properties()
        except ResourceNotFoundError:
            return 0
        return int(properties.approximate_message_count or 0)

    def pending(self) -> dict[str, int]:
        """Messages waiting or in flight (hidden ones count: they are work not yet done)."""
        return {name: self._count(name) for name in self.names}

    def poisoned(self) -> dict[str, int]:
        return {f"{name}-poison": self._count(f"{name}-poison") for name in self.names}


def trigger(host_url: str, function: str) -> bool:
    """Run a timer function now through the host's admin API, as ops could."""
    try:
        response = httpx.post(
            f"{host_url}/admin/functions/{function}",
            json={},
            headers={"x-functions-key": master_key()},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        logger.warning("could not trigger %s: %s", function, exc)
        return False
    return response.status_code == 202


@dataclass
class Outcome:
    converged: bool
    seconds: float
    last_progress: str


def wait_until(
    done: Callable[[], tuple[bool, str]],
    timeout: float,
    *,
    interval: float = 1.0,
    on_tick: Callable[[], None] | None = None,
) -> Outcome:
    """Poll `done()` (→ finished?, a progress line) until it holds or `timeout` passes."""
    started = time.monotonic()
    progress, shown = "", ""
    while True:
        finished, progress = done()
        if finished:
            return Outcome(True, time.monotonic() - started, progress)
        if time.monotonic() - started > timeout:
            return Outcome(False, time.monotonic() - started, progress)
        if progress != shown:
            logger.info("waiting: %s", progress)
            shown = progress
        if on_tick is not None:
            on_tick()
        time.sleep(interval)

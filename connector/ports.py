"""Ports: what services and entrypoints need from the outside world, as Protocols."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage, SweepMessage, XeroEventMessage


class QueueSender(Protocol):
    """Puts messages on storage queues."""

    def send(self, queue: str, body: str, *, visibility_timeout: int | None = None) -> None:
        """Enqueue `body`; hidden for `visibility_timeout` seconds when given."""

    def reachable(self) -> dict[str, bool]:
        """Whether each of the connector's queues answers (for /api/health)."""


InvoiceSyncHandler = Callable[[InvoiceSyncMessage], Awaitable[None]]
InvoiceCancelHandler = Callable[[InvoiceCancelMessage], Awaitable[None]]
XeroEventHandler = Callable[[XeroEventMessage], Awaitable[None]]
SweepHandler = Callable[[SweepMessage], Awaitable[None]]

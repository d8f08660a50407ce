"""The composition root: builds adapters and services once per process from settings."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from connector.adapters.queues import StorageQueueSender, queue_service_from_settings
from connector.domain.messages import InvoiceSyncMessage
from connector.ports import (
    InvoiceCancelHandler,
    InvoiceSyncHandler,
    QueueSender,
    SweepHandler,
    XeroEventHandler,
)
from connector.settings import Settings, get_settings


@dataclass
class Handlers:
    """The service entry points each queue trigger calls."""

    sync_invoice: InvoiceSyncHandler
    cancel_invoice: InvoiceCancelHandler
    apply_xero_event: XeroEventHandler
    sweep: SweepHandler
    # O2: called once when an invoice-sync message fails for the last time, before the runtime poisons it.
    sync_gave_up: Callable[[InvoiceSyncMessage, str], Awaitable[None]] | None = None


@dataclass
class Runtime:
    settings: Settings
    queues: QueueSender
    handlers: Handlers
    max_dequeue_count: int = 5


HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"


def max_dequeue_count(host_json: Path = HOST_JSON) -> int:
    """host.json's queue retry budget, which the Functions host applies before poisoning (default 5)."""
    try:
        return int(json.loads(host_json.read_text())["extensions"]["queues"]["maxDequeueCount"])
    except (OSError, KeyError, ValueError):
        return 5


_override: Runtime | None = None


def use_runtime(runtime: Runtime | None) -> None:
    """Tests and the local host swap in their own runtime (fakes of the ports); None restores the default."""
    global _override
    _override = runtime
    _default_runtime.cache_clear()


def get_runtime() -> Runtime:
    return _override if _override is not None else _default_runtime()


@lru_cache(maxsize=1)
def _default_runtime() -> Runtime:
    from connector.services.wiring import build_handlers

    settings = get_settings()
    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    return Runtime(
        settings=settings,
        queues=queues,
        handlers=build_handlers(settings, queues),
        max_dequeue_count=max_dequeue_count(),
    )

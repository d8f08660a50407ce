"""The composition root: builds adapters and services once per process from settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from connector.adapters.queues import StorageQueueSender, queue_service_from_settings
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


@dataclass
class Runtime:
    settings: Settings
    queues: QueueSender
    handlers: Handlers


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
    return Runtime(settings=settings, queues=queues, handlers=build_handlers(settings, queues))

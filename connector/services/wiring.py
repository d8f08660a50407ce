"""Builds the real service handlers from settings and adapters (the composition of ports)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from connector.adapters.blob import blob_service_from_settings
from connector.adapters.dataverse import client_from_settings
from connector.adapters.rate_limit import blob_rate_limiter
from connector.adapters.token_store import BlobTokenStore
from connector.adapters.xero import XeroClientFactory
from connector.domain.dynamics import ConnectionSettings
from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage, SweepMessage, XeroEventMessage
from connector.ports import QueueSender, XeroSyncPort
from connector.services.item_cache import ItemCache
from connector.services.sweep import SweepDependencies, sweep
from connector.services.sync_invoice import SyncDependencies, sync_invoice
from connector.settings import Settings
from connector.telemetry import get_logger, log_step

if TYPE_CHECKING:
    from connector.runtime import Handlers

logger = get_logger("services.wiring")


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_handlers(settings: Settings, queues: QueueSender) -> Handlers:
    from connector.runtime import Handlers

    dataverse = client_from_settings(settings)
    blobs = blob_service_from_settings(settings)
    limiter = blob_rate_limiter(blobs)
    xero_clients = XeroClientFactory(
        settings, BlobTokenStore(blobs, settings.token_container), limiter=limiter
    )

    def xero_for(connection: ConnectionSettings) -> XeroSyncPort:
        return xero_clients.for_connection(str(connection.id), connection.tenant_id)

    sync_deps = SyncDependencies(
        dataverse=dataverse,
        xero_for=xero_for,
        queues=queues,
        cancel_queue=settings.invoice_cancel_queue,
        org_url=settings.dataverse_url.rstrip("/"),
        clock=utc_now,
        items=ItemCache(),
    )
    sweep_deps = SweepDependencies(dataverse=dataverse, sync=sync_deps)

    async def sync_handler(message: InvoiceSyncMessage) -> None:
        await sync_invoice(message, sync_deps)

    async def cancel_invoice(message: InvoiceCancelMessage) -> None:
        log_step(logger, "cancel_invoice.received", invoice_id=message.invoice_id, reason=message.reason)

    async def apply_xero_event(message: XeroEventMessage) -> None:
        log_step(logger, "xero_event.received", resource_id=message.resource_id)

    return Handlers(
        sync_invoice=sync_handler,
        cancel_invoice=cancel_invoice,
        apply_xero_event=apply_xero_event,
        sweep=partial(_sweep, deps=sweep_deps),
    )


async def _sweep(message: SweepMessage, deps: SweepDependencies) -> None:
    await sweep(message, deps)

"""Builds the real service handlers from settings and adapters (the composition of ports)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from connector.adapters.blob import blob_service_from_settings
from connector.adapters.dataverse_auth import credential_from_settings
from connector.adapters.dataverse_cached import ConnectionCachingDataverseClient
from connector.adapters.rate_limit import blob_rate_limiter
from connector.adapters.token_store import BlobTokenStore
from connector.adapters.xero import XeroClient, XeroClientFactory
from connector.domain.dynamics import ConnectionSettings
from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage, SweepMessage, XeroEventMessage
from connector.ports import QueueSender
from connector.services.apply_xero_event import BackSyncDependencies, apply_xero_event
from connector.services.cancel_invoice import CancelDependencies, cancel_invoice
from connector.services.item_cache import ItemCache
from connector.services.reconcile import ReconcileDependencies, reconcile
from connector.services.sweep import SweepDependencies, sweep
from connector.services.sync_invoice import SyncDependencies, sync_gave_up, sync_invoice
from connector.services.watermarks import blob_watermark_store
from connector.settings import Settings

if TYPE_CHECKING:
    from connector.runtime import Handlers


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_handlers(settings: Settings, queues: QueueSender) -> Handlers:
    from connector.runtime import Handlers, max_dequeue_count

    dataverse = ConnectionCachingDataverseClient(
        settings.dataverse_url, credential_from_settings(settings), prefix=settings.dataverse_publisher_prefix
    )
    blobs = blob_service_from_settings(settings)
    limiter = blob_rate_limiter(blobs)
    xero_clients = XeroClientFactory(
        settings, BlobTokenStore(blobs, settings.token_container), limiter=limiter
    )

    def xero_for(connection: ConnectionSettings) -> XeroClient:
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
    reconcile_deps = ReconcileDependencies(
        dataverse=dataverse, xero_for=xero_for, clock=utc_now, watermarks=blob_watermark_store(settings)
    )
    back_deps = BackSyncDependencies(dataverse=dataverse, xero_for=xero_for, clock=utc_now)
    cancel_deps = CancelDependencies(dataverse=dataverse, xero_for=xero_for, clock=utc_now)

    async def reconcile_connection(connection: ConnectionSettings) -> None:
        await reconcile(connection, reconcile_deps)

    sweep_deps = SweepDependencies(dataverse=dataverse, sync=sync_deps, reconcile=reconcile_connection)

    async def sync_handler(message: InvoiceSyncMessage) -> None:
        await sync_invoice(message, sync_deps)

    async def cancel_handler(message: InvoiceCancelMessage) -> None:
        await cancel_invoice(message, cancel_deps)

    async def xero_event_handler(message: XeroEventMessage) -> None:
        await apply_xero_event(message, back_deps)

    async def sweep_handler(message: SweepMessage) -> None:
        await sweep(message, sweep_deps)

    async def sync_gave_up_handler(message: InvoiceSyncMessage, reason: str) -> None:
        await sync_gave_up(message, reason, sync_deps, attempts=max_dequeue_count())

    return Handlers(
        sync_gave_up=sync_gave_up_handler,
        sync_invoice=sync_handler,
        cancel_invoice=cancel_handler,
        apply_xero_event=xero_event_handler,
        sweep=sweep_handler,
    )

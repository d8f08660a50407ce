"""The composition root: settings → adapters → services, and the map from queue message to handler.

Entrypoints ask `get_app()` for what they need; tests and the local host swap in their own `App`
(built from fakes) with `use_app`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from connector.adapters.dataverse.auth import credential_from_settings
from connector.adapters.dataverse.budget import dataverse_budget
from connector.adapters.dataverse.cache import ConnectionCachingDataverseClient
from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.console_queries import ConsoleQueries
from connector.adapters.dataverse.schema import EXPORT_STATUS_VALUES, build_schema
from connector.adapters.entra import EntraSignIn, SignInError
from connector.adapters.storage.blob import blob_service_from_settings
from connector.adapters.storage.console import StorageOperations, blob_written_at
from connector.adapters.storage.dirty_balances import BlobDirtyBalances
from connector.adapters.storage.leases import BlobLeases
from connector.adapters.storage.queues import StorageQueueSender, queue_service_from_settings
from connector.adapters.storage.rate_limit import blob_rate_limiter
from connector.adapters.storage.token_store import BlobTokenStore
from connector.adapters.storage.watermarks import BlobWatermarkStore, blob_watermark_store
from connector.adapters.xero.client import XeroClient, XeroClientFactory
from connector.adapters.xero.onboarding import XeroOnboarding
from connector.domain.dynamics import ConnectionSettings
from connector.domain.messages import (
    InvoiceCancelMessage,
    InvoiceSyncMessage,
    ReferenceDataSyncMessage,
    SweepMessage,
    XeroEventMessage,
)
from connector.domain.routing import XeroDetailsTable
from connector.ports import QueueSender, SignInPort, WatermarkStore
from connector.services.admin_console import AdminConsole as AdminConsole  # re-exported: entrypoints' type
from connector.services.back_sync import BackSyncDependencies, apply_xero_event
from connector.services.balances import BalanceDependencies, refresh_waiting_balances
from connector.services.cancel_invoice import cancel_invoice
from connector.services.cancellation import CancelDependencies
from connector.services.connect_xero import ConsoleDependencies
from connector.services.item_cache import ItemCache
from connector.services.reconcile import ReconcileDependencies, reconcile
from connector.services.reference_data import ReferenceDataDependencies, sync_reference_data_message
from connector.services.sweep import SweepDependencies, sweep
from connector.services.sync_attempt import SyncDependencies
from connector.services.sync_invoice import sync_gave_up, sync_invoice
from connector.settings import Settings, get_settings
from connector.telemetry.queues import TraceContextQueues

MessageHandler = Callable[[Any], Awaitable[object]]
GaveUpHandler = Callable[[Any, str], Awaitable[None]]

HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"


@dataclass
class App:
    """What the entrypoints need: settings, the queues, and one handler per queue message type."""

    settings: Settings
    queues: QueueSender
    handlers: Mapping[type, MessageHandler]
    # Called once when a message fails for the last time, before the runtime poisons it.
    gave_up: Mapping[type, GaveUpHandler] = field(default_factory=dict)
    max_dequeue_count: int = 5
    console: AdminConsole | None = None  # the admin console's use cases (O6)

    def queue_for(self, message_type: type) -> str:
        names: dict[type, str] = {
            InvoiceSyncMessage: self.settings.invoice_sync_queue,
            InvoiceCancelMessage: self.settings.invoice_cancel_queue,
            XeroEventMessage: self.settings.xero_events_queue,
            SweepMessage: self.settings.sync_poll_queue,
        }
        return names[message_type]

    @property
    def details_table(self) -> XeroDetailsTable:
        return xero_details_table(self.settings.dataverse_publisher_prefix)


@lru_cache(maxsize=4)
def xero_details_table(prefix: str) -> XeroDetailsTable:
    """The columns of the connector's own Xero details table that the webhook router looks at."""
    schema = build_schema(prefix)
    return XeroDetailsTable(
        logical_name=schema.table("xero_details").logical_name,
        invoice_column=schema.lookup("details_invoice").logical_name,
        export_status_column=schema.p("exportstatus"),
        retry_values=frozenset({EXPORT_STATUS_VALUES["No"], EXPORT_STATUS_VALUES["Ready to update"]}),
    )


def max_dequeue_count(host_json: Path = HOST_JSON) -> int:
    """host.json's queue retry budget, which the Functions host applies before poisoning (default 5)."""
    try:
        return int(json.loads(host_json.read_text())["extensions"]["queues"]["maxDequeueCount"])
    except (OSError, KeyError, ValueError):
        return 5


def utc_now() -> datetime:
    return datetime.now(UTC)


def bootstrap(settings: Settings) -> App:
    """The real adapters, wired into the services."""
    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    dataverse = ConnectionCachingDataverseClient(
        settings.dataverse_url, credential_from_settings(settings), prefix=settings.dataverse_publisher_prefix
    )
    blobs = blob_service_from_settings(settings)
    dataverse.transport.budget = dataverse_budget(blobs, settings.dataverse_url)
    xero_clients = XeroClientFactory(
        settings, BlobTokenStore(blobs, settings.token_container), limiter=blob_rate_limiter(blobs)
    )

    def xero_for(connection: ConnectionSettings) -> XeroClient:
        return xero_clients.for_connection(str(connection.id), connection.tenant_id)

    traced = TraceContextQueues(queues)  # messages the handlers send continue their trace
    attempts = max_dequeue_count()
    sync_deps = SyncDependencies(
        dataverse=dataverse,
        xero_for=xero_for,
        queues=traced,
        cancel_queue=settings.invoice_cancel_queue,
        sync_queue=settings.invoice_sync_queue,
        org_url=settings.dataverse_url.rstrip("/"),
        clock=utc_now,
        items=ItemCache(),
    )
    balance_deps = BalanceDependencies(dataverse, xero_for, waiting=BlobDirtyBalances(blobs))
    reconcile_deps = ReconcileDependencies(
        dataverse=dataverse,
        xero_for=xero_for,
        clock=utc_now,
        balances=balance_deps,
        watermarks=blob_watermark_store(settings),
        min_interval=timedelta(seconds=settings.reconcile_min_interval_seconds),
    )
    sweep_deps = SweepDependencies(
        dataverse=dataverse,
        sync=sync_deps,
        reconcile=partial(reconcile, deps=reconcile_deps),
        leases=BlobLeases(blobs),
        balances=partial(refresh_waiting_balances, deps=balance_deps),
    )
    cancel_deps = CancelDependencies(dataverse=dataverse, xero_for=xero_for, clock=utc_now)
    back_sync_deps = BackSyncDependencies(
        dataverse=dataverse, xero_for=xero_for, clock=utc_now, balances=balance_deps
    )
    return App(
        settings=settings,
        queues=queues,
        handlers={
            InvoiceSyncMessage: partial(sync_invoice, deps=sync_deps),
            InvoiceCancelMessage: partial(cancel_invoice, deps=cancel_deps),
            XeroEventMessage: partial(apply_xero_event, deps=back_sync_deps),
            SweepMessage: partial(sweep, deps=sweep_deps),
            ReferenceDataSyncMessage: reference_data_handler(dataverse, xero_for, blobs),
        },
        gave_up={InvoiceSyncMessage: partial(sync_gave_up, deps=sync_deps, attempts=attempts)},
        max_dequeue_count=attempts,
        console=AdminConsole(console_dependencies(settings, dataverse, queues, reconcile_deps.watermarks)),
    )


REFERENCE_STATE_CONTAINER = "reference-data-sync"


def reference_data_dependencies(
    dataverse: DataverseClient, xero_for: Callable[[ConnectionSettings], XeroClient], blobs: Any
) -> ReferenceDataDependencies:
    """C4: the sync's state (when each table was last synced, the accounts watermark) lives in blobs."""
    state = BlobWatermarkStore(blobs, REFERENCE_STATE_CONTAINER)
    return ReferenceDataDependencies(dataverse=dataverse, xero_for=xero_for, state=state, clock=utc_now)


def reference_data_handler(
    dataverse: DataverseClient, xero_for: Callable[[ConnectionSettings], XeroClient], blobs: Any
) -> MessageHandler:
    return partial(sync_reference_data_message, deps=reference_data_dependencies(dataverse, xero_for, blobs))


def console_dependencies(
    settings: Settings, dataverse: DataverseClient, queues: StorageQueueSender, watermarks: WatermarkStore
) -> ConsoleDependencies:
    """The admin console's adapters. It shares the handlers' Dataverse client, so its connection writes
    (a reconnect) clear that client's connection cache at once."""
    blobs = blob_service_from_settings(settings)
    try:
        signin: SignInPort | None = EntraSignIn(settings) if settings.console_enabled else None
    except SignInError:
        signin = None
    return ConsoleDependencies(
        dataverse=dataverse,
        queries=ConsoleQueries(dataverse),
        xero=XeroOnboarding(
            settings,
            BlobTokenStore(blobs, settings.token_container),
            written_at=blob_written_at(blobs, settings.token_container),
        ),
        operations=StorageOperations(
            queue_service_from_settings(settings), blobs, settings.queue_names, queues
        ),
        watermarks=watermarks,
        queues=queues,
        sweep_queue=settings.sync_poll_queue,
        sync_queue=settings.invoice_sync_queue,
        clock=utc_now,
        signin=signin,
    )


_override: App | None = None


def use_app(app: App | None) -> None:
    """Tests and the local host swap in their own App; None restores the real one."""
    global _override
    _override = app
    _default_app.cache_clear()


def get_app() -> App:
    return _override if _override is not None else _default_app()


@lru_cache(maxsize=1)
def _default_app() -> App:
    return bootstrap(get_settings())

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
from typing import TYPE_CHECKING, Any
from uuid import UUID

from connector.domain.messages import (
    ConnectionDefaultMessage,
    InvoiceCancelMessage,
    InvoiceSyncMessage,
    ReferenceDataSyncMessage,
    SweepMessage,
    XeroEventMessage,
)
from connector.domain.routing import ConnectionTable, XeroDetailsTable
from connector.ports import QueueSender
from connector.settings import Settings, get_settings

if TYPE_CHECKING:  # the adapters and services are imported when the app is built, not at start-up
    from connector.adapters.dataverse.cache import ConnectionCachingDataverseClient
    from connector.adapters.dataverse.client import DataverseClient
    from connector.adapters.storage.queues import StorageQueueSender
    from connector.adapters.storage.rate_limit import RateLimits
    from connector.adapters.xero.client import XeroClient
    from connector.domain.dynamics import ConnectionSettings
    from connector.ports import WatermarkStore
    from connector.services.admin_console import AdminConsole as AdminConsole  # the entrypoints' type
    from connector.services.balances import BalanceDependencies
    from connector.services.connect_xero import ConsoleDependencies
    from connector.services.reconcile import ReconcileDependencies
    from connector.services.reference_data import ReferenceDataDependencies
    from connector.services.sync_attempt import SyncDependencies


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
    own_user_id: Callable[[], Awaitable[UUID | None]] = field(default=lambda: _nobody())

    def queue_for(self, message_type: type) -> str:
        names: dict[type, str] = {
            InvoiceSyncMessage: self.settings.invoice_sync_queue,
            InvoiceCancelMessage: self.settings.invoice_cancel_queue,
            XeroEventMessage: self.settings.xero_events_queue,
            SweepMessage: self.settings.sync_poll_queue,
            ConnectionDefaultMessage: self.settings.sync_poll_queue,  # connection-level, like sweeps
        }
        return names[message_type]

    @property
    def details_table(self) -> XeroDetailsTable:
        return xero_details_table(self.settings.dataverse_publisher_prefix)

    @property
    def connection_table(self) -> ConnectionTable:
        return connection_table(self.settings.dataverse_publisher_prefix)


@lru_cache(maxsize=4)
def xero_details_table(prefix: str) -> XeroDetailsTable:
    """The columns of the connector's own Xero details table that the webhook router looks at."""
    from connector.adapters.dataverse.schema import EXPORT_STATUS_VALUES, build_schema

    schema = build_schema(prefix)
    return XeroDetailsTable(
        logical_name=schema.table("xero_details").logical_name,
        invoice_column=schema.lookup("details_invoice").logical_name,
        export_status_column=schema.p("exportstatus"),
        retry_values=frozenset({EXPORT_STATUS_VALUES["No"], EXPORT_STATUS_VALUES["Ready to update"]}),
    )


@lru_cache(maxsize=4)
def connection_table(prefix: str) -> ConnectionTable:
    """The connection table's "Is default" column, whose changes in Dynamics the webhook router routes."""
    from connector.adapters.dataverse.schema import build_schema

    schema = build_schema(prefix)
    return ConnectionTable(schema.table("connection").logical_name, schema.p("isdefault"))


async def _nobody() -> UUID | None:
    return None


def max_dequeue_count(host_json: Path = HOST_JSON) -> int:
    """host.json's queue retry budget, which the Functions host applies before poisoning (default 5)."""
    try:
        return int(json.loads(host_json.read_text())["extensions"]["queues"]["maxDequeueCount"])
    except (OSError, KeyError, ValueError):
        return 5


def utc_now() -> datetime:
    return datetime.now(UTC)


def xero_limits(settings: Settings) -> RateLimits:
    """Xero's per-organisation budget; a lowered or sped-up one only on the local platform's benches."""
    from connector.adapters.storage.rate_limit import RateLimits

    return RateLimits(
        per_window=settings.xero_rate_limit_per_minute, window_seconds=settings.xero_rate_limit_window_seconds
    )


def paced_dataverse(settings: Settings) -> ConnectionCachingDataverseClient:
    """The Dataverse adapter, every request drawn from the environment's shared protection budget."""
    from connector.adapters.dataverse.auth import credential_from_settings
    from connector.adapters.dataverse.budget import dataverse_budget, paced_limits
    from connector.adapters.dataverse.cache import ConnectionCachingDataverseClient
    from connector.adapters.storage.blob import blob_service_from_settings

    client = ConnectionCachingDataverseClient(
        settings.dataverse_url, credential_from_settings(settings), prefix=settings.dataverse_publisher_prefix
    )
    limits = paced_limits(settings.dataverse_rate_limit_window_seconds)
    client.transport.budget = dataverse_budget(
        blob_service_from_settings(settings), settings.dataverse_url, limits
    )
    return client


def bootstrap(settings: Settings) -> App:
    """The real adapters, wired into the services."""
    from connector.adapters.dataverse.identity import OwnUser
    from connector.adapters.storage.blob import blob_service_from_settings
    from connector.adapters.storage.queues import StorageQueueSender, queue_service_from_settings
    from connector.adapters.storage.rate_limit import blob_rate_limiter
    from connector.adapters.storage.token_store import BlobTokenStore
    from connector.adapters.xero.client import XeroClientFactory
    from connector.services.admin_console import AdminConsole

    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    dataverse = paced_dataverse(settings)
    blobs = blob_service_from_settings(settings)
    xero_clients = XeroClientFactory(
        settings,
        BlobTokenStore(blobs, settings.token_container),
        limiter=blob_rate_limiter(blobs, limits=xero_limits(settings)),
    )

    def xero_for(connection: ConnectionSettings) -> XeroClient:
        return xero_clients.for_connection(str(connection.id), connection.tenant_id)

    handlers, gave_up, attempts, watermarks = _handlers(settings, queues, dataverse, xero_for, blobs)
    return App(
        settings=settings,
        queues=queues,
        handlers=handlers,
        gave_up=gave_up,
        max_dequeue_count=attempts,
        console=AdminConsole(console_dependencies(settings, dataverse, queues, watermarks)),
        own_user_id=OwnUser(dataverse.who_am_i),
    )


def _sync_dependencies(
    settings: Settings,
    queues: QueueSender,
    dataverse: ConnectionCachingDataverseClient,
    xero_for: Callable[[ConnectionSettings], XeroClient],
) -> SyncDependencies:
    from connector.services.item_cache import ItemCache
    from connector.services.sweep_requests import SweepRequests
    from connector.services.sync_attempt import SyncDependencies
    from connector.telemetry.queues import TraceContextQueues

    traced = TraceContextQueues(queues)  # messages the handlers send continue their trace
    sync_deps = SyncDependencies(
        dataverse=dataverse,
        xero_for=xero_for,
        queues=traced,
        cancel_queue=settings.invoice_cancel_queue,
        sync_queue=settings.invoice_sync_queue,
        org_url=settings.dataverse_url.rstrip("/"),
        clock=utc_now,
        items=ItemCache(),
        sweeps=SweepRequests(traced, settings.sync_poll_queue, utc_now),
    )
    return sync_deps


def _back_from_xero(
    settings: Settings,
    dataverse: ConnectionCachingDataverseClient,
    xero_for: Callable[[ConnectionSettings], XeroClient],
    blobs: Any,
) -> tuple[BalanceDependencies, ReconcileDependencies]:
    from connector.adapters.storage.dirty_balances import BlobDirtyBalances
    from connector.adapters.storage.watermarks import blob_watermark_store
    from connector.services.balances import BalanceDependencies
    from connector.services.reconcile import ReconcileDependencies

    balance_deps = BalanceDependencies(dataverse, xero_for, waiting=BlobDirtyBalances(blobs))
    reconcile_deps = ReconcileDependencies(
        dataverse=dataverse,
        xero_for=xero_for,
        clock=utc_now,
        balances=balance_deps,
        watermarks=blob_watermark_store(settings),
        min_interval=timedelta(seconds=settings.reconcile_min_interval_seconds),
    )
    return balance_deps, reconcile_deps


def _handlers(
    settings: Settings,
    queues: QueueSender,
    dataverse: ConnectionCachingDataverseClient,
    xero_for: Callable[[ConnectionSettings], XeroClient],
    blobs: Any,
) -> tuple[dict[type, MessageHandler], dict[type, GaveUpHandler], int, WatermarkStore]:
    """The services, each with its dependencies, by the queue message type it handles."""
    from connector.adapters.storage.leases import BlobLeases
    from connector.services.back_sync import BackSyncDependencies, apply_xero_event
    from connector.services.balances import refresh_waiting_balances
    from connector.services.cancel_invoice import cancel_gave_up, cancel_invoice
    from connector.services.cancellation import CancelDependencies
    from connector.services.connection_default import make_only_default
    from connector.services.reconcile import reconcile
    from connector.services.sweep import SweepDependencies, sweep
    from connector.services.sync_credit_note import apply_credit_note_event
    from connector.services.sync_invoice import sync_gave_up, sync_invoice

    sync_deps = _sync_dependencies(settings, queues, dataverse, xero_for)
    attempts = max_dequeue_count()
    balance_deps, reconcile_deps = _back_from_xero(settings, dataverse, xero_for, blobs)
    sweep_deps = SweepDependencies(
        dataverse=dataverse,
        sync=sync_deps,
        reconcile=partial(reconcile, deps=reconcile_deps),
        leases=BlobLeases(blobs),
        balances=partial(refresh_waiting_balances, deps=balance_deps),
        reference_data=reference_data_for(dataverse, xero_for, blobs),
    )
    cancel_deps = CancelDependencies(
        dataverse=dataverse,
        xero_for=xero_for,
        clock=utc_now,
        items=sync_deps.items,
        org_url=sync_deps.org_url,
    )
    back_sync_deps = BackSyncDependencies(
        dataverse=dataverse,
        xero_for=xero_for,
        clock=utc_now,
        balances=balance_deps,
        credit_notes=apply_credit_note_event,
        sweeps=sync_deps.sweeps,
    )
    handlers: dict[type, MessageHandler] = {
        InvoiceSyncMessage: partial(sync_invoice, deps=sync_deps),
        InvoiceCancelMessage: partial(cancel_invoice, deps=cancel_deps),
        XeroEventMessage: partial(apply_xero_event, deps=back_sync_deps),
        SweepMessage: partial(sweep, deps=sweep_deps),
        ReferenceDataSyncMessage: reference_data_handler(dataverse, xero_for, blobs),
        ConnectionDefaultMessage: partial(make_only_default, deps=dataverse),
    }
    gave_up: dict[type, GaveUpHandler] = {
        InvoiceSyncMessage: partial(sync_gave_up, deps=sync_deps, attempts=attempts),
        InvoiceCancelMessage: partial(cancel_gave_up, deps=cancel_deps, attempts=attempts),
    }
    return handlers, gave_up, attempts, reconcile_deps.watermarks


REFERENCE_STATE_CONTAINER = "reference-data-sync"


def reference_data_dependencies(
    dataverse: DataverseClient, xero_for: Callable[[ConnectionSettings], XeroClient], blobs: Any
) -> ReferenceDataDependencies:
    """C4: the sync's state (when each table was last synced, the accounts watermark) lives in blobs."""
    from connector.adapters.storage.watermarks import BlobWatermarkStore
    from connector.services.reference_data import ReferenceDataDependencies

    state = BlobWatermarkStore(blobs, REFERENCE_STATE_CONTAINER)
    return ReferenceDataDependencies(dataverse=dataverse, xero_for=xero_for, state=state, clock=utc_now)


def reference_data_for(
    dataverse: DataverseClient, xero_for: Callable[[ConnectionSettings], XeroClient], blobs: Any
) -> Callable[[ConnectionSettings], Awaitable[object]]:
    """C4 for one connection, as the sweep of a just-connected organisation runs it."""
    from connector.services.reference_data import sync_reference_data

    deps = reference_data_dependencies(dataverse, xero_for, blobs)

    async def sync(connection: ConnectionSettings) -> object:
        return await sync_reference_data(deps, connection_ids=[connection.id])

    return sync


def reference_data_handler(
    dataverse: DataverseClient, xero_for: Callable[[ConnectionSettings], XeroClient], blobs: Any
) -> MessageHandler:
    from connector.services.reference_data import sync_reference_data_message

    return partial(sync_reference_data_message, deps=reference_data_dependencies(dataverse, xero_for, blobs))


def console_dependencies(
    settings: Settings, dataverse: DataverseClient, queues: StorageQueueSender, watermarks: WatermarkStore
) -> ConsoleDependencies:
    """The admin console's adapters. It shares the handlers' Dataverse client, so its connection writes
    (a reconnect) clear that client's connection cache at once."""
    from connector.adapters.dataverse.console_queries import ConsoleQueries
    from connector.adapters.entra import EntraSignIn, SignInError
    from connector.adapters.storage.blob import blob_service_from_settings
    from connector.adapters.storage.console import StorageOperations, blob_written_at
    from connector.adapters.storage.queues import queue_service_from_settings
    from connector.adapters.storage.token_store import BlobTokenStore
    from connector.adapters.xero.onboarding import XeroOnboarding
    from connector.ports import SignInPort
    from connector.services.connect_xero import ConsoleDependencies

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

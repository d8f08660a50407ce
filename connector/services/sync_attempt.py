"""One sync attempt of one invoice: re-read, set up (I1), Date Delivered (I13), eligibility."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    ExportStatus,
    Invoice,
    InvoiceState,
    XeroDetails,
)
from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage
from connector.domain.sync import history
from connector.domain.sync.date_delivered import date_delivered_on_create
from connector.domain.sync.eligibility import check_eligibility, local_today
from connector.domain.sync.invoice import idempotency_key
from connector.domain.sync.pending_create import PendingCreate, refused_generation
from connector.errors import (
    NotFoundError,
)
from connector.ports import (
    Clock,
    DataversePort,
    InvoiceSnapshotView,
    QueueSender,
    XeroForConnection,
    XeroPort,
)
from connector.services.item_cache import ItemCache
from connector.services.recently_synced import RecentlySynced
from connector.services.sweep_requests import SweepRequests
from connector.telemetry import get_logger, log_step

logger = get_logger("services.sync_attempt")

# Long enough for the slowest sync (a handful of Xero calls with timeouts); short enough that a crashed
# worker's invoice is picked up again within minutes.
CLAIM_SECONDS = 120


class SyncResult(StrEnum):
    CREATED = "created"
    ADOPTED = "adopted"  # found in Xero from an earlier attempt that crashed before writing back
    UPDATED = "updated"
    FAILED = "failed"
    NOT_ELIGIBLE = "not_eligible"
    GONE = "gone"
    HANDED_TO_CANCEL = "handed_to_cancel"
    WAITING_FOR_RECONNECT = "waiting_for_reconnect"  # the connection needs a reconnect; sent after it
    LEFT_FOR_SWEEP = "left_for_sweep"  # the budget is used up: the next sweep sends it, in a batch


@dataclass
class SyncDependencies:
    dataverse: DataversePort
    xero_for: XeroForConnection
    queues: QueueSender
    cancel_queue: str
    org_url: str
    clock: Clock
    items: ItemCache = field(default_factory=ItemCache)
    sync_queue: str = "invoice-sync"
    sweeps: SweepRequests | None = None  # None: a create waiting for the budget is retried on its own
    recently_synced: RecentlySynced = field(default_factory=RecentlySynced)
    # Dynamics customer → Xero ContactID found or created by this process (also remembered on the record;
    # this spares the invoices that were read before that write a second lookup).
    contact_ids: dict[UUID, str] = field(default_factory=dict)


@dataclass
class SyncAttempt:
    """One sync attempt of one invoice: what every step needs."""

    message: InvoiceSyncMessage
    invoice: Invoice
    details: XeroDetails
    connection: ConnectionSettings
    now: datetime
    deps: SyncDependencies
    ctx: history.HistoryContext
    etag: str | None = None
    claimed_at_setup: bool = False  # the Xero details record was created already claimed by this attempt
    # This attempt's claim wrote the unprepared pending-create record (PendingCreate.unprepared), which
    # stands for its create: no second write before the send. Cleared on release while nothing was sent.
    marked_unprepared: bool = False
    sending: bool = False  # the create has been (or is being) sent: from here only evidence clears the record

    @property
    def generation(self) -> int:
        """Which generation of create keys this invoice is on (after Xero refused earlier creates)."""
        return refused_generation(self.details.pending_create)

    @property
    def xero(self) -> XeroPort:
        return self.deps.xero_for(self.connection)

    def key(self, operation: str) -> str:
        revision = self.invoice.version_number or (self.invoice.modified_on or self.now).isoformat()
        return idempotency_key(self.connection.id, self.invoice.id, operation, revision)


async def load_attempt(
    message: InvoiceSyncMessage, deps: SyncDependencies, snapshot: InvoiceSnapshotView | None = None
) -> SyncAttempt | SyncResult:
    """Everything before the first Xero call: re-read (unless the caller just read it, in bulk), I1
    set-up, I13, eligibility."""
    dataverse = deps.dataverse
    if snapshot is None:
        try:
            snapshot = await dataverse.get_invoice_snapshot(message.invoice_id)
        except NotFoundError:
            log_step(
                logger, "sync.gone", invoice_id=message.invoice_id, correlation_id=message.correlation_id
            )
            return SyncResult.GONE
    invoice, details = snapshot.invoice, snapshot.xero_details
    now = deps.clock()

    if invoice.state == InvoiceState.CANCELED:
        return await _hand_to_cancel(message, details, deps)

    connection = await _connection_for(invoice, details, deps)
    if connection is None:
        log_step(logger, "sync.no_connection", logging.WARNING, invoice_id=invoice.id)
        return SyncResult.NOT_ELIGIBLE
    ctx = history.HistoryContext(
        invoice_id=invoice.id, at=now, correlation_id=message.correlation_id, connection_id=connection.id
    )
    today = local_today(now, connection.time_zone)
    # I13 on create; and by the sweep when it sets up a new invoice whose webhooks were all lost.
    if message.message_name == "Create" or (message.message_name == "Sweep" and details is None):
        invoice = await _set_date_delivered(invoice, connection, today, ctx, dataverse)

    claimed_at_setup = False
    if details is None:
        details, claimed_at_setup = await _set_up(invoice, connection, today, now, dataverse)
    elif invoice.connection_id is None:
        await dataverse.set_invoice_connection(invoice.id, connection.id)
    if invoice.connection_id is None:
        invoice = invoice.model_copy(update={"connection_id": connection.id})

    attempt = SyncAttempt(message, invoice, details, connection, now, deps, ctx)
    attempt.claimed_at_setup = attempt.marked_unprepared = claimed_at_setup
    if details.export_status == ExportStatus.READY_TO_UPDATE and details.xero_invoice_id:
        return attempt
    eligibility = check_eligibility(invoice, details, connection, today)
    if not eligibility.eligible:
        # Not an attempt: most updates of a synced invoice land here. Logged, not written to history.
        if details.export_status == ExportStatus.YES:
            deps.recently_synced.note(invoice.id)
        log_step(logger, "sync.not_eligible", invoice_id=invoice.id, reason=eligibility.reason)
        return SyncResult.NOT_ELIGIBLE
    return attempt


async def _set_up(
    invoice: Invoice, connection: ConnectionSettings, today: date, now: datetime, dataverse: DataversePort
) -> tuple[XeroDetails, bool]:
    """I1: the sync path creates the Xero details record and gives a new invoice the default connection,
    in one round trip. When the invoice can go at once, the record is born claimed, with the record that
    a create may follow. Returns the details as they were before this attempt, and whether it holds them."""
    provisional = XeroDetails(id=uuid.uuid4(), invoice_id=invoice.id, connection_id=connection.id)
    with_connection = invoice.model_copy(update={"connection_id": connection.id})
    claim: dict[str, object] | None = None
    claimed_by = uuid.uuid4().hex
    if check_eligibility(with_connection, provisional, connection, today).eligible:
        claim = {
            "claimed_until": now + timedelta(seconds=CLAIM_SECONDS),
            "claimed_by": claimed_by,
            "pending_create": PendingCreate.unprepared().encode(),
        }
    details = await dataverse.set_up_invoice(
        invoice.id, connection.id, set_connection=invoice.connection_id is None, claim=claim
    )
    if claim is None or details.claimed_by != claimed_by:
        return details, False
    return details.model_copy(update={"pending_create": None}), True  # no earlier create


async def _connection_for(
    invoice: Invoice, details: XeroDetails | None, deps: SyncDependencies
) -> ConnectionSettings | None:
    connection_id = invoice.connection_id or (details.connection_id if details else None)
    if connection_id is not None:
        try:
            return await deps.dataverse.get_connection(connection_id)
        except NotFoundError:
            return None
    # C1: a new invoice gets the default connection.
    return await deps.dataverse.get_default_connection()


async def _set_date_delivered(
    invoice: Invoice,
    connection: ConnectionSettings,
    today: date,
    ctx: history.HistoryContext,
    dataverse: DataversePort,
) -> Invoice:
    day = date_delivered_on_create(invoice, connection, today)
    if day is None:
        return invoice
    await dataverse.set_date_delivered(invoice.id, day)
    await dataverse.add_sync_history(history.date_delivered_set(ctx, day))
    return invoice.model_copy(update={"date_delivered": day})


async def _hand_to_cancel(
    message: InvoiceSyncMessage, details: XeroDetails | None, deps: SyncDependencies
) -> SyncResult:
    """A cancel we could not see in the webhook (size exceeded): the cancel path is idempotent."""
    if details is None or not details.xero_invoice_id:
        return SyncResult.NOT_ELIGIBLE
    cancel = InvoiceCancelMessage(
        invoice_id=message.invoice_id,
        organization=message.organization,
        message_name=message.message_name,
        correlation_id=message.correlation_id,
        event_time=message.event_time,
        reason="canceled",
    )
    await asyncio.to_thread(deps.queues.send, deps.cancel_queue, cancel.model_dump_json())
    return SyncResult.HANDED_TO_CANCEL

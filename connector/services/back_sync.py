"""apply_xero_event (B2, B3, B5): one Xero webhook event, applied by re-reading Xero's current state.

Re-reading makes duplicate and out-of-order events harmless: whatever order they arrive in, the handler
writes what Xero says now, and `back_sync` compares with the last known Xero details, so a duplicate
writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from connector.budget import waiting_for_xero_at_most
from connector.domain.back_sync.rules import BackSync, back_sync
from connector.domain.dynamics import (
    ConnectionSettings,
    Invoice,
    InvoiceState,
    InvoiceTotals,
    SyncHistoryEntry,
    TrackedInvoice,
    XeroDetails,
)
from connector.domain.messages import XeroEventMessage
from connector.domain.sync import history
from connector.domain.sync.eligibility import local_today
from connector.domain.xero_records import XeroInvoice
from connector.errors import ConcurrencyConflictError, NotFoundError, RateLimitedError, RetryableError
from connector.ports import Clock, DataversePort, SyncWrite, XeroForConnection, XeroPort
from connector.services.balances import BalanceDependencies, balances_changed, invoice_balances_changed
from connector.services.email_invoice import EmailContext, email_if_due
from connector.services.sweep_requests import EVENT_HAND_OFF_SECONDS, SweepRequests
from connector.services.xero_reads import InvoiceReads
from connector.telemetry import get_logger, log_step

logger = get_logger("services.apply_xero_event")

_ONLINE_URL_STATUSES = frozenset({"AUTHORISED", "PAID"})  # Xero has no online invoice for drafts
# The online link takes only a slot that is free within this long: when the budget is contended, status,
# payments and creates go first, and upkeep fetches the link later.
LINK_WAIT_SECONDS = 1.0


class EventResult(StrEnum):
    PAID = "paid"  # the Dynamics invoice was marked Paid
    UPDATED = "updated"  # something was written
    UNCHANGED = "unchanged"  # a tracked invoice, but nothing new (duplicate or replayed event)
    BALANCES_REFRESHED = "balances_refreshed"  # contact or credit-note-only event
    IGNORED = "ignored"  # B5: not ours, or a category we do not handle
    LEFT_FOR_RECONCILE = "left_for_reconcile"  # the budget is used up: reconcile pulls it when it is back


CreditNoteEvents = Callable[
    [str, XeroDetails, ConnectionSettings, "BackSyncDependencies", str], Awaitable["EventResult"]
]


@dataclass
class BackSyncDependencies:
    dataverse: DataversePort
    xero_for: XeroForConnection
    clock: Clock
    reads: InvoiceReads = field(default_factory=InvoiceReads)
    balances: BalanceDependencies | None = None  # None: balances refreshed at once, after each change
    # Events of credit notes raised in Dynamics (services/sync_credit_note.py), wired by bootstrap.
    credit_notes: CreditNoteEvents | None = None
    sweeps: SweepRequests | None = None  # None: an event waiting for the budget is retried on its own


def _balances(deps: BackSyncDependencies) -> BalanceDependencies:
    return deps.balances or BalanceDependencies(deps.dataverse, deps.xero_for, waiting=None)


async def apply_xero_event(message: XeroEventMessage, deps: BackSyncDependencies) -> EventResult:
    """Apply one INVOICE, CONTACT or CREDITNOTE event. Safe to run any number of times, in any order."""
    category = message.event_category.upper()
    if category == "INVOICE" and message.event_type.upper() == "CREATE":
        # The connector's own creates are written back as they happen, and invoices made elsewhere are
        # not tracked (B5): a CREATE never changes Dynamics, so it costs no call.
        return _ignored(message, "invoice creation")
    connection = await deps.dataverse.get_connection_by_tenant_id(message.tenant_id)
    if connection is None:
        return _ignored(message, "unknown tenant")
    if category == "INVOICE":
        tracked = await deps.dataverse.find_tracked_invoice(message.resource_id)
        if tracked is None:
            return _ignored(message, "invoice not created by the connector")
        if is_own_write(tracked.details, message):
            return _ignored(message, "the connector's own change")
        return await _reread_and_apply(message.resource_id, tracked, connection, deps, message)
    if category == "CREDITNOTE":
        # Only our own cancellation credit notes matter: re-read the invoice they credit.
        details = await deps.dataverse.find_xero_details_by_credit_note_id(message.resource_id)
        if details is not None and not details.xero_invoice_id and deps.credit_notes is not None:
            # A credit note raised in Dynamics (its own Xero details): status, credit left, allocation.
            return await deps.credit_notes(
                message.resource_id, details, connection, deps, message.correlation_id
            )
        if details is None or not details.xero_invoice_id:
            return _ignored(message, "credit note not created by the connector")
        if is_own_write(details, message):
            return _ignored(message, "the connector's own change")
        tracked = await deps.dataverse.find_tracked_invoice(details.xero_invoice_id)
        if tracked is None:
            return _ignored(message, "credited invoice no longer tracked")
        return await _reread_and_apply(details.xero_invoice_id, tracked, connection, deps, message)
    if category == "CONTACT":
        customers = await deps.dataverse.find_customers_by_xero_contact_id(message.resource_id)
        if not customers:
            return _ignored(message, "contact not linked to any account or contact")
        xero = deps.xero_for(connection)
        await balances_changed(_balances(deps), connection, xero, message.resource_id, customers)
        return EventResult.BALANCES_REFRESHED
    return _ignored(message, f"category {message.event_category} not handled")


# Xero stamps an event with the time of the change, and the connector records its own writes on Xero
# details as it makes them. Only the writes that settle an invoice for good (cancelled: credited in full,
# voided or deleted) are taken as echoes: nothing a person does to an open invoice is ever skipped.
OWN_WRITE_ECHO = timedelta(seconds=30)


def is_own_write(details: XeroDetails, message: XeroEventMessage) -> bool:
    settled = details.xero_status in ("VOIDED", "DELETED") or (
        details.credit_note_id is not None and details.xero_status == "PAID"
    )
    if details.last_xero_write is None or not settled:
        return False
    try:
        happened = datetime.fromisoformat(message.event_date_utc.rstrip("Z")).replace(tzinfo=UTC)
    except ValueError:
        return False
    written = details.last_xero_write.astimezone(UTC)
    return written - timedelta(seconds=5) <= happened <= written + OWN_WRITE_ECHO


def _ignored(message: XeroEventMessage, why: str, result: EventResult = EventResult.IGNORED) -> EventResult:
    log_step(
        logger,
        f"xero_event.{result.value}",
        logging.DEBUG if result == EventResult.IGNORED else logging.INFO,
        category=message.event_category,
        resource_id=message.resource_id,
        reason=why,
        correlation_id=message.correlation_id,
    )
    return result


async def _reread_and_apply(
    xero_invoice_id: str,
    tracked: TrackedInvoice,
    connection: ConnectionSettings,
    deps: BackSyncDependencies,
    message: XeroEventMessage,
) -> EventResult:
    xero = deps.xero_for(connection)

    async def read_xero() -> XeroInvoice:
        return await deps.reads.get(xero, str(connection.id), xero_invoice_id)

    try:
        return await apply_invoice_update(read_xero, tracked, connection, deps, message.correlation_id)
    except NotFoundError:
        return _ignored(message, "invoice no longer in Xero")
    except RateLimitedError as exc:
        # Nothing was written (an event's writes are one change set, after every read). Reconcile pulls
        # Xero's changes 500 invoices a call, where events one at a time would spend one call each.
        sweeps, correlation_id = deps.sweeps, message.correlation_id
        if sweeps is None or not await sweeps.hand_off(
            exc,
            connection.id,
            reconcile=True,
            correlation_id=correlation_id,
            threshold=EVENT_HAND_OFF_SECONDS,
        ):
            raise
        return _ignored(message, "left to reconcile until the budget is back", EventResult.LEFT_FOR_RECONCILE)


async def apply_invoice_update(
    xero_source: XeroInvoice | Callable[[], Awaitable[XeroInvoice]],
    tracked: TrackedInvoice,
    connection: ConnectionSettings,
    deps: BackSyncDependencies,
    correlation_id: str,
    *,
    online_url: bool = True,
) -> EventResult:
    """B2/B3 for one tracked invoice, given what Xero says it is now (used by events and reconcile).
    `online_url`: fetch a missing online link now (else upkeep fetches it when the budget allows).

    Every Dataverse write goes in one atomic change set, conditional on the Xero details' ETag: the
    details, the invoice's totals, history, and marking Paid last (Paid makes the invoice read-only).
    A retry after any failure finds nothing half-written and redoes it all, once.
    """
    dataverse, xero, now = deps.dataverse, deps.xero_for(connection), deps.clock()
    invoice, details = tracked.invoice, tracked.details
    # Xero is read only now, after the Xero details: two events handled at once can then never write an
    # older Xero state over a newer one (the details write below is conditional on their ETag).
    xero_invoice = xero_source if isinstance(xero_source, XeroInvoice) else await xero_source()
    decision = back_sync(
        details,
        xero_invoice,
        today=local_today(now, connection.time_zone),
        dynamics_state=invoice.state if invoice is not None else None,
    )
    changes: dict[str, object] = {name: getattr(decision.details, name) for name in decision.changed_fields}
    if online_url:
        changes.update(await _online_url(xero, details, xero_invoice))
    mark_paid = decision.mark_paid and invoice is not None
    totals = _changed_totals(invoice, xero_invoice) if invoice is not None else None
    entries: list[SyncHistoryEntry] = []
    if invoice is not None:
        ctx = history.HistoryContext(
            invoice_id=invoice.id, at=now, correlation_id=correlation_id, connection_id=connection.id
        )
        entries = _change_entries(decision, details, xero_invoice, invoice, ctx)
        if mark_paid:
            entries.append(_fully_paid_entry(details, xero_invoice, invoice, ctx))
    wrote = bool(changes) or totals is not None
    if wrote or mark_paid:
        await invoice_balances_changed(_balances(deps), connection, xero, invoice, xero_invoice)
        write = SyncWrite(
            details.id,
            changes,
            totals,
            entries,
            if_match=details.etag,
            mark_paid=invoice.id if mark_paid and invoice is not None else None,
        )
        try:
            await dataverse.commit_sync_results([write])
        except ConcurrencyConflictError:
            raise RetryableError("Xero details changed while this event was applied; retrying") from None
    if invoice is not None:
        await _email_on_approval(deps, connection, details, decision, xero_invoice, correlation_id)
    result = EventResult.PAID if mark_paid else EventResult.UPDATED if wrote else EventResult.UNCHANGED
    return _done(result, details, xero_invoice, changes, connection, correlation_id)


async def _online_url(xero: XeroPort, details: XeroDetails, xero_invoice: XeroInvoice) -> dict[str, object]:
    """The online invoice link, once Xero has one: approved sales invoices only (none for drafts or bills).
    A link refused for the budget waits for upkeep: status and payments never wait for it."""
    if details.online_invoice_url or xero_invoice.status not in _ONLINE_URL_STATUSES:
        return {}
    if xero_invoice.type != "ACCREC":
        return {}
    try:
        with waiting_for_xero_at_most(LINK_WAIT_SECONDS):
            online_url = await asyncio.to_thread(xero.get_online_invoice_url, xero_invoice.invoice_id)
    except RateLimitedError:
        log_step(logger, "online_url.deferred", invoice_id=details.invoice_id, reason="Xero budget")
        return {}
    return {"online_invoice_url": online_url} if online_url else {}


def _done(
    result: EventResult,
    details: XeroDetails,
    xero_invoice: XeroInvoice,
    changes: dict[str, object],
    connection: ConnectionSettings,
    correlation_id: str,
) -> EventResult:
    log_step(
        logger,
        f"xero_event.{result.value}",
        invoice_id=details.invoice_id,
        connection=connection.name,
        xero_invoice_id=xero_invoice.invoice_id,
        xero_number=xero_invoice.invoice_number,
        xero_status=xero_invoice.status,
        changed=",".join(sorted(changes)) or None,
        correlation_id=correlation_id,
    )
    return result


def _changed_totals(invoice: Invoice, xero_invoice: XeroInvoice) -> InvoiceTotals | None:
    """Xero's tax, total, due date and amount due for an active invoice whose figures differ (a Paid or
    cancelled one is read-only); the total only when it changed, since writing it fires the invoice's
    update webhook."""
    if invoice.state != InvoiceState.ACTIVE:
        return None
    due_date = xero_invoice.due_date or invoice.due_date
    current = (invoice.total_tax, invoice.total_amount, invoice.due_date, invoice.amount_due)
    if current == (xero_invoice.total_tax, xero_invoice.total, due_date, xero_invoice.amount_due):
        return None
    return InvoiceTotals(
        invoice_id=invoice.id,
        total_tax=xero_invoice.total_tax,
        total_amount=xero_invoice.total if xero_invoice.total != invoice.total_amount else None,
        due_date=due_date,
        amount_due=xero_invoice.amount_due,
    )


async def _email_on_approval(
    deps: BackSyncDependencies,
    connection: ConnectionSettings,
    details: XeroDetails,
    decision: BackSync,
    xero_invoice: XeroInvoice,
    correlation_id: str,
) -> None:
    """I8: an invoice approved in Xero is emailed (when the setting is on), as is one whose email waits."""
    email = EmailContext(deps.dataverse, deps.xero_for(connection), connection, deps.clock(), correlation_id)
    became_authorised = decision.status_changed and xero_invoice.status == "AUTHORISED"
    await email_if_due(email, details, xero_invoice, became_authorised=became_authorised)


def _change_entries(
    decision: BackSync,
    previous: XeroDetails,
    xero_invoice: XeroInvoice,
    invoice: Invoice,
    ctx: history.HistoryContext,
) -> list[SyncHistoryEntry]:
    """A new partial payment, and a status change that is not the invoice becoming Paid."""
    entries: list[SyncHistoryEntry] = []
    if decision.payment_entry_due:
        entries.append(
            history.payment(
                ctx,
                amount_paid=xero_invoice.amount_paid,
                total=xero_invoice.total,
                amount_due=xero_invoice.amount_due,
                due_date=xero_invoice.due_date,
                currency_code=xero_invoice.currency_code or invoice.currency_code,
                overdue=decision.overdue,
            )
        )
    if decision.status_changed and not decision.mark_paid:
        entries.append(
            history.status_changed(
                ctx,
                invoice_type=xero_invoice.type,
                number=xero_invoice.invoice_number or previous.xero_invoice_number,
                old=previous.xero_status,
                new=xero_invoice.status,
            )
        )
    return entries


def _fully_paid_entry(
    previous: XeroDetails, xero_invoice: XeroInvoice, invoice: Invoice, ctx: history.HistoryContext
) -> SyncHistoryEntry:
    return history.fully_paid(
        ctx,
        invoice_type=xero_invoice.type,
        number=xero_invoice.invoice_number or previous.xero_invoice_number,
        total=xero_invoice.total,
        currency_code=xero_invoice.currency_code or invoice.currency_code,
    )

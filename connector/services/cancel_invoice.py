"""cancel_invoice (X1, X3): a Dynamics invoice cancelled (or deleted), carried over to Xero once.

Every Xero write carries a deterministic Idempotency-Key, and before a credit note is created the
connector looks for one it made earlier (on Xero details, then in Xero by reference), so a replayed
message never makes a second credit note. The work runs under a claim on Xero details (services.
cancel_claim): Dataverse's two events for one cancel, or a cancel and a sync, never run it at once, and
the event that comes second finds it recorded as done and asks Xero nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from connector.budget import waiting_for_xero_at_most
from connector.domain.cancel.rules import (
    CancelAction,
    CancelDecision,
    cancel_recorded_as_done,
    credit_note_draft,
    decide_cancel,
    likely_credit_note,
)
from connector.domain.dynamics import (
    ConnectionSettings,
    ExportStatus,
    Invoice,
    InvoiceState,
    SyncAction,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.domain.messages import InvoiceCancelMessage
from connector.domain.sync import history
from connector.domain.sync.eligibility import local_today
from connector.domain.sync.header import dynamics_record_url
from connector.domain.sync.line_kinds import item_code
from connector.domain.sync.lines import build_line_items
from connector.domain.sync.pending_create import PendingCreate
from connector.domain.xero_records import XeroCreditNote, XeroInvoice, XeroLineItem
from connector.errors import AuthorisationError, NotFoundError, XeroValidationError
from connector.ports import (
    XeroPort,
    XeroStatusWrite,
)
from connector.services.cancel_claim import CancelClaim, raise_if_claimed, take_claim
from connector.services.cancellation import (
    CancelDependencies,
    CancelResult,
    cancel_key,
    connection_of,
    credit_note_key,
    log_needs_attention,
)
from connector.services.delete_invoice import delete_invoice
from connector.telemetry import get_logger, log_step

logger = get_logger("services.cancel_invoice")

_GONE = frozenset({"DELETED", "VOIDED"})
# A cancel's three calls (read, credit note, allocation) wait this long for a slot: a cancel retried
# each time the contended budget refuses one call reads the invoice again every time.
CANCEL_XERO_WAIT_SECONDS = 15.0


async def cancel_invoice(message: InvoiceCancelMessage, deps: CancelDependencies) -> CancelResult:
    """X1 for a cancelled invoice, X2 for a deleted one. Safe to replay, and to run twice at once."""
    with waiting_for_xero_at_most(CANCEL_XERO_WAIT_SECONDS):
        return await _cancel_invoice(message, deps)


async def _cancel_invoice(message: InvoiceCancelMessage, deps: CancelDependencies) -> CancelResult:
    if message.reason == "deleted":
        return await delete_invoice(message, deps)
    try:
        snapshot = await deps.dataverse.get_invoice_snapshot(message.invoice_id)
    except NotFoundError:
        # Deleted since it was cancelled: the delete path (and its own message) takes over.
        return await delete_invoice(message, deps)
    invoice, details = snapshot.invoice, snapshot.xero_details
    if invoice.state != InvoiceState.CANCELED:
        log_step(logger, "cancel.not_cancelled", invoice_id=invoice.id, state=int(invoice.state))
        return CancelResult.NOT_CANCELLED
    now = deps.clock()
    ctx = history.HistoryContext(
        invoice_id=invoice.id,
        at=now,
        correlation_id=message.correlation_id,
        connection_id=details.connection_id if details else invoice.connection_id,
    )
    if details is None:
        await deps.dataverse.add_sync_history(history.cancel_not_in_xero(ctx))
        return CancelResult.NOT_IN_XERO
    if cancel_recorded_as_done(details):
        # Dataverse sends a cancel as two events; the second one finds the work recorded as done. It is
        # no act of the user's, so it leaves no sync history.
        log_step(logger, "cancel.already_done", invoice_id=invoice.id, correlation_id=message.correlation_id)
        return CancelResult.ALREADY_DONE
    raise_if_claimed(details, now)  # before any other read: the holder is usually done in seconds
    connection = await connection_of(deps.dataverse, details.connection_id or invoice.connection_id)
    if connection is None:
        if not details.xero_invoice_id:
            await deps.dataverse.add_sync_history(history.cancel_not_in_xero(ctx))
            return CancelResult.NOT_IN_XERO
        log_needs_attention(
            message.invoice_id, details, "the invoice's connection no longer exists", step="cancel"
        )
        return CancelResult.NEEDS_ATTENTION
    xero, expected = deps.xero_for(connection), _expected_credit_key(invoice, details, connection)
    claim = await take_claim(deps.dataverse, details, now, pending_create=expected)
    job = _Cancel(invoice, details, connection, xero, deps, ctx, now, claim)
    try:
        result = await job.claimed()
    finally:
        await claim.release()  # nothing to do when the attempt's last write gave it back
    log_step(
        logger,
        f"cancel.{result.value}",
        invoice_id=invoice.id,
        connection=connection.name,
        xero_invoice_id=job.details.xero_invoice_id,
        xero_number=job.details.xero_invoice_number,
        correlation_id=message.correlation_id,
    )
    return result


def _expected_credit_key(
    invoice: Invoice, details: XeroDetails, connection: ConnectionSettings
) -> str | None:
    """The credit note's key when one will probably be made: the claim's write records it as pending."""
    if not details.xero_invoice_id or not likely_credit_note(
        details, connection.create_credit_note_on_cancel
    ):
        return None
    return credit_note_key(connection, invoice.id, details.xero_invoice_id)


async def cancel_gave_up(
    message: InvoiceCancelMessage, reason: str, deps: CancelDependencies, attempts: int
) -> None:
    """The last retry of a cancel failed: say so on the invoice, where the user looks."""
    details = await deps.dataverse.get_xero_details(message.invoice_id)
    ctx = history.HistoryContext(
        invoice_id=message.invoice_id,
        at=deps.clock(),
        correlation_id=message.correlation_id,
        connection_id=details.connection_id if details else None,
    )
    await deps.dataverse.add_sync_history(history.cancel_gave_up(ctx, attempts, reason))
    if details is not None:
        await deps.dataverse.update_xero_details(details.id, {"export_status": ExportStatus.FAILED}, None)
    log_step(logger, "cancel.gave_up", logging.ERROR, invoice_id=message.invoice_id, reason=reason)


@dataclass
class _Cancel:
    """One X1 attempt for one cancelled invoice, under its claim."""

    invoice: Invoice
    details: XeroDetails
    connection: ConnectionSettings
    xero: XeroPort
    deps: CancelDependencies
    ctx: history.HistoryContext
    now: datetime
    claim: CancelClaim

    @property
    def today(self) -> date:
        return local_today(self.now, self.connection.time_zone)

    async def claimed(self) -> CancelResult:
        """Everything that needs the claim; what Xero refused goes to sync history with the claim back."""
        if not self.details.xero_invoice_id:
            await self._settle_create_in_flight()
            if not self.details.xero_invoice_id:
                await self.claim.finish({}, [history.cancel_not_in_xero(self.ctx)])
                return CancelResult.NOT_IN_XERO
        try:
            return await self.run()
        except XeroValidationError as exc:
            entry = history.validation_failed(self.ctx, exc.messages, action=SyncAction.CANCEL)
        except AuthorisationError:
            entry = history.reconnect_needed(self.ctx, self.connection.name)
        await self.claim.finish({}, [entry])
        return CancelResult.FAILED

    async def _settle_create_in_flight(self) -> None:
        """A create that may have reached Xero unrecorded (its worker gave the claim up or died): find it
        by the invoice's Url so it is cancelled too, or learn that none was made."""
        if PendingCreate.decode(self.details.pending_create) is None:
            return
        url = dynamics_record_url(self.deps.org_url, self.invoice.id)
        found = await asyncio.to_thread(self.xero.find_invoices_by_urls, [url])
        live = [x for x in found if x.status not in _GONE and (x.url or "").lower() == url.lower()]
        changes: dict[str, object] = {"pending_create": None}
        if live:
            changes |= {
                "xero_invoice_id": live[0].invoice_id,
                "xero_invoice_number": live[0].invoice_number,
                "xero_status": live[0].status,
            }
        await self.claim.write(changes)
        self.claim.pending_before = None
        self.details = self.details.model_copy(update=changes)

    async def run(self) -> CancelResult:
        assert self.details.xero_invoice_id is not None
        try:
            xero_invoice = await asyncio.to_thread(self.xero.get_invoice, self.details.xero_invoice_id)
        except NotFoundError:
            await self.claim.finish({}, [self._already_done(None, "gone from Xero")])
            return CancelResult.ALREADY_DONE
        setting = self.connection.create_credit_note_on_cancel
        decision = decide_cancel(xero_invoice, setting, existing_credit_note_id=self.details.credit_note_id)
        action = decision.action
        if action == CancelAction.DELETE:
            return await self._delete(xero_invoice)
        if action in (CancelAction.CREDIT_AND_ALLOCATE, CancelAction.CREDIT_UNALLOCATED):
            return await self._credit(xero_invoice, decision)
        if action == CancelAction.NOTHING_PAID:
            await self.claim.finish(
                {"xero_status": xero_invoice.status}, [history.cancel_fully_paid(self.ctx)]
            )
            return CancelResult.FULLY_PAID
        if action == CancelAction.NOTHING_SETTING_OFF:
            await self.claim.finish({}, [history.cancel_setting_off(self.ctx, self.connection.name)])
            return CancelResult.SETTING_OFF
        # Already done. One case is not: the credit note was made and recorded, but the attempt
        # stopped before allocating it. Then the invoice still looks untouched in Xero.
        fresh = decide_cancel(xero_invoice, setting)
        if self.details.credit_note_id and fresh.action == CancelAction.CREDIT_AND_ALLOCATE:
            note = XeroCreditNote(
                credit_note_id=self.details.credit_note_id,
                credit_note_number=self.details.credit_note_number,
                status="AUTHORISED",
            )
            return await self._allocate(xero_invoice, note, fresh)
        # Recorded, so the next event for this cancel stops before asking Xero.
        changes = {
            "xero_status": xero_invoice.status,
            "amount_paid": xero_invoice.amount_paid,
            "amount_credited": xero_invoice.amount_credited,
        }
        await self.claim.finish(changes, [self._already_done(xero_invoice, None)])
        return CancelResult.ALREADY_DONE

    def _number(self, xero_invoice: XeroInvoice | None) -> str | None:
        return (xero_invoice.invoice_number if xero_invoice else None) or self.details.xero_invoice_number

    def _already_done(self, xero_invoice: XeroInvoice | None, status: str | None) -> SyncHistoryEntry:
        if status is None:
            if xero_invoice is not None and xero_invoice.status in _GONE:
                status = xero_invoice.status
            elif note := self.details.credit_note_number or self.details.credit_note_id:
                status = f"credited by credit note {note}"
            else:
                status = xero_invoice.status if xero_invoice else "done"
        return history.already_done(
            self.ctx,
            action=SyncAction.CANCEL,
            invoice_type=xero_invoice.type if xero_invoice else "ACCREC",
            number=self._number(xero_invoice),
            status=status,
        )

    async def _delete(self, xero_invoice: XeroInvoice) -> CancelResult:
        status: XeroStatusWrite = "DELETED"
        key = cancel_key(
            self.connection, self.invoice.id, f"cancel-{status.lower()}", xero_invoice.invoice_id
        )
        changed = await asyncio.to_thread(self.xero.set_invoice_status, xero_invoice.invoice_id, status, key)
        entry = history.deleted_in_xero(
            self.ctx,
            action=SyncAction.CANCEL,
            invoice_type=xero_invoice.type,
            number=self._number(xero_invoice),
        )
        await self.claim.finish({"xero_status": changed.status, "last_xero_write": self.now}, [entry])
        return CancelResult.DELETED

    async def _credit(self, xero_invoice: XeroInvoice, decision: CancelDecision) -> CancelResult:
        lines = await self._credit_lines(xero_invoice)
        draft = credit_note_draft(
            xero_invoice, lines, line_amount_types=self.invoice.line_amount_types, today=self.today
        )
        key = credit_note_key(self.connection, self.invoice.id, xero_invoice.invoice_id)
        # Only an attempt that may have sent the credit note before looks for it in Xero.
        note = await self._earlier_credit_note(draft.reference) if self.claim.pending_before == key else None
        if note is None:
            await self.claim.record_pending(key)  # usually already written with the claim
            self.claim.may_have_sent = True
            note = await asyncio.to_thread(self.xero.create_credit_note, draft, key)
        # The figures Xero has now: an unallocated credit note on an invoice with money against it is a
        # finished cancel; one on an untouched invoice still waits for its allocation.
        recorded = {
            "credit_note_id": note.credit_note_id,
            "credit_note_number": note.credit_note_number,
            "pending_create": None,
            "last_xero_write": self.now,
            "amount_paid": xero_invoice.amount_paid,
            "amount_credited": xero_invoice.amount_credited,
        }
        if decision.action == CancelAction.CREDIT_AND_ALLOCATE:
            # Recorded at once: from here on a replay sees it on Xero details and never makes another.
            await self.claim.write(recorded)
            return await self._allocate(xero_invoice, note, decision)
        entry = self._credit_entry(history.credit_note_needs_allocation, xero_invoice, note, decision)
        await self.claim.finish(recorded, [entry])
        return CancelResult.CREDITED_UNALLOCATED

    async def _allocate(
        self, xero_invoice: XeroInvoice, note: XeroCreditNote, decision: CancelDecision
    ) -> CancelResult:
        amount = decision.allocate_amount if decision.allocate_amount is not None else xero_invoice.amount_due
        key = cancel_key(self.connection, self.invoice.id, "credit-note-allocate", note.credit_note_id)
        await asyncio.to_thread(
            self.xero.allocate_credit_note,
            note.credit_note_id,
            xero_invoice.invoice_id,
            amount,
            key,
            self.today,
        )
        # What Xero now shows (PAID once nothing is due): recorded, so a second cancel event is a no-op.
        due = max(xero_invoice.amount_due - amount, Decimal(0))
        changes = {
            "xero_status": "PAID" if due == 0 else xero_invoice.status,
            "amount_due": due,
            "amount_credited": xero_invoice.amount_credited + amount,
            "last_xero_write": self.now,
        }
        entry = self._credit_entry(history.credit_note_allocated, xero_invoice, note, decision)
        await self.claim.finish(changes, [entry])
        return CancelResult.CREDITED_AND_ALLOCATED

    def _credit_entry(
        self,
        entry_for: Callable[..., SyncHistoryEntry],
        xero_invoice: XeroInvoice,
        note: XeroCreditNote,
        decision: CancelDecision,
    ) -> SyncHistoryEntry:
        """The sync history of a cancellation's credit note, allocated or left to allocate by hand."""
        return entry_for(
            self.ctx,
            credit_note_number=note.credit_note_number,
            invoice_number=self._number(xero_invoice),
            amount=decision.credit_amount or xero_invoice.total,
            currency_code=xero_invoice.currency_code or self.invoice.currency_code,
        )

    async def _earlier_credit_note(self, reference: str | None) -> XeroCreditNote | None:
        """A credit note an earlier attempt created but did not record (it stopped in between)."""
        if not reference:
            return None
        found = await asyncio.to_thread(self.xero.find_credit_notes_by_reference, reference)
        live = [note for note in found if note.status not in _GONE]
        if live:
            log_step(
                logger,
                "cancel.credit_note_adopted",
                invoice_id=self.invoice.id,
                credit_note_id=live[0].credit_note_id,
            )
        return live[0] if live else None

    async def _credit_lines(self, xero_invoice: XeroInvoice) -> list[XeroLineItem]:
        """The invoice's lines as they were sent (same items, accounts and tax types), so the credit
        note's tax matches the invoice's; one line for the subtotal when the invoice has no lines."""
        codes = sorted({item_code(line.product) for line in self.invoice.lines if line.product is not None})
        items = self.deps.items.known(str(self.connection.id), codes)
        missing = [code for code in codes if code not in items]
        if missing:
            fetched = await asyncio.to_thread(self.xero.get_items_by_codes, missing)
            self.deps.items.remember(str(self.connection.id), fetched)
            items.update({item.code: item for item in fetched})
        lines = build_line_items(self.invoice, self.connection, items).line_items
        if any(line.quantity is not None for line in lines):
            return lines
        purchase = xero_invoice.type == "ACCPAY"
        account = (
            self.connection.default_purchase_account_code
            if purchase
            else self.connection.default_sales_account_code
        )
        total = (
            xero_invoice.sub_total if self.invoice.line_amount_types == "Exclusive" else xero_invoice.total
        )
        return [
            XeroLineItem(
                description=f"Cancellation of {self._number(xero_invoice) or xero_invoice.invoice_id}",
                quantity=Decimal(1),
                unit_amount=total,
                account_code=account,
            )
        ]


# --- X2: deleted in Dynamics ------------------------------------------------------------------------

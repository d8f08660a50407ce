"""cancel_invoice (X1, X2, X3): a Dynamics invoice cancelled or deleted, carried over to Xero once.

Every Xero write carries a deterministic Idempotency-Key, and before a credit note is created the
connector looks for one it made earlier (on Xero details, then in Xero by reference), so a replayed
message never makes a second credit note.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    Invoice,
    InvoiceState,
    SyncAction,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.domain.messages import InvoiceCancelMessage
from connector.domain.sync import history
from connector.domain.sync.cancel import (
    CancelAction,
    CancelDecision,
    DeleteAction,
    credit_note_draft,
    decide_cancel,
    decide_delete,
)
from connector.domain.sync.eligibility import local_today
from connector.domain.sync.invoice import idempotency_key
from connector.domain.sync.line_kinds import item_code
from connector.domain.sync.lines import build_line_items
from connector.domain.xero_records import XeroCreditNote, XeroInvoice, XeroLineItem
from connector.errors import AuthorisationError, NotFoundError, XeroValidationError
from connector.ports import Clock
from connector.services.back_ports import (
    BackSyncDataversePort,
    BackSyncXeroForConnection,
    BackSyncXeroPort,
    XeroStatusWrite,
)
from connector.telemetry import get_logger, log_step

logger = get_logger("services.cancel_invoice")

NEEDS_ATTENTION_METRIC = "invoice_delete_needs_attention"
_GONE = frozenset({"DELETED", "VOIDED"})


class CancelResult(StrEnum):
    DELETED = "deleted"
    VOIDED = "voided"
    CREDITED_AND_ALLOCATED = "credited_and_allocated"
    CREDITED_UNALLOCATED = "credited_unallocated"
    FULLY_PAID = "fully_paid"  # X1 PAID: nothing in Xero
    SETTING_OFF = "setting_off"
    ALREADY_DONE = "already_done"
    NOT_IN_XERO = "not_in_xero"
    NOT_CANCELLED = "not_cancelled"  # the invoice is active again: the message is stale
    NEEDS_ATTENTION = "needs_attention"  # X2: a person must act in Xero (logged as an error + metric)
    FAILED = "failed"  # Xero refused; sync history says why


@dataclass
class CancelDependencies:
    dataverse: BackSyncDataversePort
    xero_for: BackSyncXeroForConnection
    clock: Clock


async def cancel_invoice(message: InvoiceCancelMessage, deps: CancelDependencies) -> CancelResult:
    """X1 for a cancelled invoice, X2 for a deleted one. Safe to replay."""
    if message.reason == "deleted":
        return await _delete(message, deps)
    try:
        snapshot = await deps.dataverse.get_invoice_snapshot(message.invoice_id)
    except NotFoundError:
        # Deleted since it was cancelled: the delete path (and its own message) takes over.
        return await _delete(message, deps)
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
    if details is None or not details.xero_invoice_id:
        await deps.dataverse.add_sync_history(history.cancel_not_in_xero(ctx))
        return CancelResult.NOT_IN_XERO
    connection = await _connection(deps.dataverse, details.connection_id or invoice.connection_id)
    if connection is None:
        _needs_attention_log(
            message.invoice_id, details, "the invoice's connection no longer exists", step="cancel"
        )
        return CancelResult.NEEDS_ATTENTION
    cancel = _Cancel(invoice, details, connection, deps.xero_for(connection), deps, ctx, now)
    try:
        result = await cancel.run()
    except XeroValidationError as exc:
        await deps.dataverse.add_sync_history(
            history.validation_failed(ctx, exc.messages, action=SyncAction.CANCEL)
        )
        result = CancelResult.FAILED
    except AuthorisationError:
        await deps.dataverse.add_sync_history(history.reconnect_needed(ctx, connection.name))
        result = CancelResult.FAILED
    log_step(
        logger,
        f"cancel.{result.value}",
        invoice_id=invoice.id,
        connection=connection.name,
        xero_invoice_id=details.xero_invoice_id,
        xero_number=details.xero_invoice_number,
        correlation_id=message.correlation_id,
    )
    return result


async def _connection(
    dataverse: BackSyncDataversePort, connection_id: UUID | None
) -> ConnectionSettings | None:
    if connection_id is None:
        return None
    try:
        return await dataverse.get_connection(connection_id)
    except NotFoundError:
        return None


def _key(connection: ConnectionSettings, invoice_id: UUID, operation: str, revision: str) -> str:
    return idempotency_key(connection.id, invoice_id, operation, revision)


@dataclass
class _Cancel:
    """One X1 attempt for one cancelled invoice."""

    invoice: Invoice
    details: XeroDetails
    connection: ConnectionSettings
    xero: BackSyncXeroPort
    deps: CancelDependencies
    ctx: history.HistoryContext
    now: datetime

    @property
    def today(self) -> date:
        return local_today(self.now, self.connection.time_zone)

    async def _history(self, entry: SyncHistoryEntry) -> None:
        await self.deps.dataverse.add_sync_history(entry)

    async def run(self) -> CancelResult:
        assert self.details.xero_invoice_id is not None
        try:
            xero_invoice = await asyncio.to_thread(self.xero.get_invoice, self.details.xero_invoice_id)
        except NotFoundError:
            await self._history(self._already_done(None, "gone from Xero"))
            return CancelResult.ALREADY_DONE
        setting = self.connection.create_credit_note_on_cancel
        decision = decide_cancel(xero_invoice, setting, existing_credit_note_id=self.details.credit_note_id)
        action = decision.action
        if action == CancelAction.DELETE:
            await self._set_status(xero_invoice, "DELETED")
            await self._history(
                history.deleted_in_xero(
                    self.ctx,
                    action=SyncAction.CANCEL,
                    invoice_type=xero_invoice.type,
                    number=self._number(xero_invoice),
                )
            )
            return CancelResult.DELETED
        if action in (CancelAction.CREDIT_AND_ALLOCATE, CancelAction.CREDIT_UNALLOCATED):
            return await self._credit(xero_invoice, decision)
        if action == CancelAction.NOTHING_PAID:
            await self._history(history.cancel_fully_paid(self.ctx))
            return CancelResult.FULLY_PAID
        if action == CancelAction.NOTHING_SETTING_OFF:
            await self._history(history.cancel_setting_off(self.ctx, self.connection.name))
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
        await self._history(self._already_done(xero_invoice, None))
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

    async def _set_status(self, xero_invoice: XeroInvoice, status: XeroStatusWrite) -> None:
        key = _key(self.connection, self.invoice.id, f"cancel-{status.lower()}", xero_invoice.invoice_id)
        changed = await asyncio.to_thread(self.xero.set_invoice_status, xero_invoice.invoice_id, status, key)
        await self.deps.dataverse.update_xero_details(self.details.id, {"xero_status": changed.status}, None)

    async def _credit(self, xero_invoice: XeroInvoice, decision: CancelDecision) -> CancelResult:
        lines = await self._credit_lines(xero_invoice)
        draft = credit_note_draft(
            xero_invoice, lines, line_amount_types=self.invoice.line_amount_types, today=self.today
        )
        note = await self._earlier_credit_note(draft.reference)
        if note is None:
            key = _key(self.connection, self.invoice.id, "credit-note", xero_invoice.invoice_id)
            note = await asyncio.to_thread(self.xero.create_credit_note, draft, key)
        # Recorded at once: from here on a replay sees it on Xero details and never makes another.
        await self.deps.dataverse.update_xero_details(
            self.details.id,
            {"credit_note_id": note.credit_note_id, "credit_note_number": note.credit_note_number},
            None,
        )
        if decision.action == CancelAction.CREDIT_AND_ALLOCATE:
            return await self._allocate(xero_invoice, note, decision)
        await self._history(
            history.credit_note_needs_allocation(
                self.ctx,
                credit_note_number=note.credit_note_number,
                invoice_number=self._number(xero_invoice),
                amount=decision.credit_amount or xero_invoice.total,
                currency_code=xero_invoice.currency_code or self.invoice.currency_code,
            )
        )
        return CancelResult.CREDITED_UNALLOCATED

    async def _allocate(
        self, xero_invoice: XeroInvoice, note: XeroCreditNote, decision: CancelDecision
    ) -> CancelResult:
        amount = decision.allocate_amount if decision.allocate_amount is not None else xero_invoice.amount_due
        key = _key(self.connection, self.invoice.id, "credit-note-allocate", note.credit_note_id)
        await asyncio.to_thread(
            self.xero.allocate_credit_note,
            note.credit_note_id,
            xero_invoice.invoice_id,
            amount,
            key,
            self.today,
        )
        await self._history(
            history.credit_note_allocated(
                self.ctx,
                credit_note_number=note.credit_note_number,
                invoice_number=self._number(xero_invoice),
                amount=decision.credit_amount or xero_invoice.total,
                currency_code=xero_invoice.currency_code or self.invoice.currency_code,
            )
        )
        return CancelResult.CREDITED_AND_ALLOCATED

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
        items = await asyncio.to_thread(self.xero.get_items_by_codes, codes) if codes else []
        lines = build_line_items(
            self.invoice, self.connection, {item.code: item for item in items}
        ).line_items
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


async def _delete(message: InvoiceCancelMessage, deps: CancelDependencies) -> CancelResult:
    """The Dynamics record is gone: work from Xero details (kept with a text copy of the invoice id) and
    the pre image; the outcome goes to logs and metrics, not sync history."""
    dataverse = deps.dataverse
    details = await dataverse.get_xero_details(message.invoice_id)
    pre_number = str((message.pre_image or {}).get("invoicenumber") or "") or None
    if details is None or not details.xero_invoice_id:
        log_step(logger, "delete.not_in_xero", invoice_id=message.invoice_id, invoice_number=pre_number)
        return CancelResult.NOT_IN_XERO
    connection = await _connection(dataverse, details.connection_id or _pre_image_connection(message))
    if connection is None:
        _needs_attention_log(message.invoice_id, details, "the invoice's connection no longer exists")
        return CancelResult.NEEDS_ATTENTION
    xero = deps.xero_for(connection)
    ctx = history.HistoryContext(
        invoice_id=message.invoice_id,
        at=deps.clock(),
        correlation_id=message.correlation_id,
        connection_id=connection.id,
    )
    try:
        xero_invoice = await asyncio.to_thread(xero.get_invoice, details.xero_invoice_id)
    except NotFoundError:
        log_step(
            logger,
            "delete.already_done",
            invoice_id=message.invoice_id,
            xero_number=details.xero_invoice_number,
        )
        return CancelResult.ALREADY_DONE
    except AuthorisationError:
        _needs_attention_log(message.invoice_id, details, f"reconnect connection {connection.name} to Xero")
        return CancelResult.NEEDS_ATTENTION
    number = xero_invoice.invoice_number or details.xero_invoice_number
    decision = decide_delete(xero_invoice)
    if decision.action == DeleteAction.NOTHING_ALREADY_DONE:
        log_step(logger, "delete.already_done", invoice_id=message.invoice_id, xero_number=number)
        return CancelResult.ALREADY_DONE
    if decision.action == DeleteAction.NEEDS_ATTENTION:
        entry = history.needs_attention(
            ctx,
            invoice_type=xero_invoice.type,
            number=number,
            status=xero_invoice.status,
            amount_paid=xero_invoice.amount_paid,
        )
        _needs_attention_log(message.invoice_id, details, entry.detail, number)
        return CancelResult.NEEDS_ATTENTION

    status: XeroStatusWrite = "DELETED" if decision.action == DeleteAction.DELETE else "VOIDED"
    key = _key(connection, message.invoice_id, f"delete-{status.lower()}", xero_invoice.invoice_id)
    try:
        changed = await asyncio.to_thread(xero.set_invoice_status, xero_invoice.invoice_id, status, key)
    except (XeroValidationError, AuthorisationError) as exc:
        _needs_attention_log(
            message.invoice_id, details, f"Xero refused to {status.lower()} it: {exc}", number
        )
        return CancelResult.NEEDS_ATTENTION
    try:
        await dataverse.update_xero_details(details.id, {"xero_status": changed.status}, None)
    except NotFoundError:
        pass  # the Xero details went with the invoice: nothing left to keep current
    make = history.deleted_in_xero if status == "DELETED" else history.voided_in_xero
    entry = make(ctx, action=SyncAction.DELETE, invoice_type=xero_invoice.type, number=number)
    log_step(
        logger,
        f"delete.{status.lower()}",
        invoice_id=message.invoice_id,
        connection=connection.name,
        xero_invoice_id=xero_invoice.invoice_id,
        xero_number=number,
        detail=entry.detail,
        correlation_id=message.correlation_id,
    )
    return CancelResult.DELETED if status == "DELETED" else CancelResult.VOIDED


def _pre_image_connection(message: InvoiceCancelMessage) -> UUID | None:
    """The connection lookup from the Delete step's pre image (`_<prefix>_connection_value`)."""
    for name, value in (message.pre_image or {}).items():
        if name.endswith("connection_value") or name.endswith("connectionid"):
            try:
                return UUID(str(value))
            except ValueError:
                return None
    return None


def _needs_attention_log(
    invoice_id: UUID, details: XeroDetails, reason: str, number: str | None = None, *, step: str = "delete"
) -> None:
    """X2: a person must act in Xero. An error log with the Xero number, counted as a metric."""
    log_step(
        logger,
        f"{step}.needs_attention",
        logging.ERROR,
        invoice_id=invoice_id,
        xero_invoice_id=details.xero_invoice_id,
        xero_number=number or details.xero_invoice_number,
        reason=reason,
        metric=NEEDS_ATTENTION_METRIC,
        metric_value=1,
    )

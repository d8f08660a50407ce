"""I14: a credit note raised in Dynamics (invoice type Credit Note) as a Xero credit note: its draft,
whether it can be allocated to the invoice it credits, and its sync history in plain words."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from connector.domain.dynamics import (
    ConnectionSettings,
    ExportStatus,
    Invoice,
    SyncAction,
    SyncHistoryEntry,
    SyncOutcome,
    XeroDetails,
)
from connector.domain.sync.header import REFERENCE_MAX, invoice_number
from connector.domain.sync.history import HistoryContext
from connector.domain.sync.lines import build_line_items, line_amount
from connector.domain.sync.money import format_money
from connector.domain.xero_records import (
    CreditNoteType,
    XeroCreditNote,
    XeroCreditNoteDraft,
    XeroInvoice,
    XeroItem,
)

_ALLOCATABLE = "AUTHORISED"
_WAITING = frozenset({"DRAFT", "SUBMITTED"})
_MATCHING_INVOICE = {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}


def credit_note_type(purchase: bool) -> CreditNoteType:
    """Sales credit notes are ACCRECCREDIT; a credit note of a bill is ACCPAYCREDIT."""
    return "ACCPAYCREDIT" if purchase else "ACCRECCREDIT"


def build_credit_note_draft(
    invoice: Invoice,
    connection: ConnectionSettings,
    items_by_code: Mapping[str, XeroItem],
    contact_id: str,
    *,
    purchase: bool,
) -> XeroCreditNoteDraft:
    """Numbered by the same settings as invoices (C3); lines as for an invoice of that side (I4, I15)."""
    side = invoice.model_copy(update={"invoice_type": "purchase" if purchase else "sales"})
    lines = build_line_items(side, connection, items_by_code)
    reference = None
    if not purchase and not connection.no_description_as_reference and invoice.description:
        reference = invoice.description.strip()[:REFERENCE_MAX] or None
    return XeroCreditNoteDraft(
        type=credit_note_type(purchase),
        contact_id=contact_id,
        date=invoice.date_delivered,
        reference=reference,
        currency_code=invoice.currency_code or None,
        line_amount_types=invoice.line_amount_types,
        status=connection.default_invoice_status,
        line_items=lines.line_items,
        credit_note_number=invoice_number(invoice, connection),
        branding_theme_id=invoice.branding_theme_id or connection.default_branding_theme_id,
        unit_dp=lines.unit_dp,
    )


def matches_draft(note: XeroCreditNote, draft: XeroCreditNoteDraft) -> bool:
    """Whether a credit note found in Xero is the one this draft would create (a create whose answer was
    lost): same type, contact, date and amount, and the same number or reference when the draft has one."""
    lines_total = sum((line_amount(line) for line in draft.line_items), Decimal(0))
    amount = note.sub_total if draft.line_amount_types == "Exclusive" else note.total
    same = (
        note.type == draft.type
        and (note.contact_id or "").lower() == draft.contact_id.lower()
        and note.date == draft.date
        and amount == lines_total
    )
    if draft.credit_note_number and note.credit_note_number != draft.credit_note_number:
        return False
    if draft.reference and note.reference != draft.reference:
        return False
    return same and note.status not in ("DELETED", "VOIDED")


# --- allocation --------------------------------------------------------------------------------------


class AllocationAction(StrEnum):
    ALLOCATE = "allocate"
    ALREADY_ALLOCATED = "already_allocated"
    WAIT_FOR_APPROVAL = "wait_for_approval"  # a draft credit note: allocated once approved in Xero
    NOT_ALLOCATED = "not_allocated"  # the amounts (or the documents) do not allow it; `reason` says why


class AllocationDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: AllocationAction
    amount: Decimal | None = None
    reason: str | None = None


def decide_allocation(note: XeroCreditNote, invoice: XeroInvoice | None, number: str) -> AllocationDecision:
    """All of the credit left goes to the invoice when it fits in what is still due there."""
    if invoice is None:
        return _not(f"invoice {number} is not in Xero")
    if any(a.invoice_id.lower() == invoice.invoice_id.lower() for a in note.allocations):
        return AllocationDecision(action=AllocationAction.ALREADY_ALLOCATED)
    if note.status in _WAITING:
        return AllocationDecision(action=AllocationAction.WAIT_FOR_APPROVAL)
    if note.status != _ALLOCATABLE:
        return _not(f"the credit note is {note.status} in Xero")
    if invoice.status != _ALLOCATABLE:
        return _not(f"invoice {number} is {invoice.status} in Xero")
    if note.type is not None and _MATCHING_INVOICE[note.type] != invoice.type:
        return _not(f"invoice {number} is {'a bill' if invoice.type == 'ACCPAY' else 'a sales invoice'}")
    if note.contact_id and invoice.contact_id and note.contact_id.lower() != invoice.contact_id.lower():
        return _not(f"invoice {number} is for another Xero contact")
    if note.currency_code and invoice.currency_code and note.currency_code != invoice.currency_code:
        return _not(f"invoice {number} is in {invoice.currency_code}")
    if note.remaining_credit <= 0:
        return _not("the credit note has no credit left")
    if note.remaining_credit > invoice.amount_due:
        due = format_money(invoice.amount_due, invoice.currency_code)
        credit = format_money(note.remaining_credit, note.currency_code)
        return _not(f"its credit of {credit} is more than the {due} due on invoice {number}")
    return AllocationDecision(action=AllocationAction.ALLOCATE, amount=note.remaining_credit)


def _not(reason: str) -> AllocationDecision:
    return AllocationDecision(action=AllocationAction.NOT_ALLOCATED, reason=reason)


# --- Xero details --------------------------------------------------------------------------------------


def xero_credit_note_link(note: XeroCreditNote) -> str:
    if note.type == "ACCPAYCREDIT":
        return f"https://go.xero.com/AccountsPayable/ViewCreditNote.aspx?creditNoteID={note.credit_note_id}"
    return f"https://go.xero.com/AccountsReceivable/ViewCreditNote.aspx?creditNoteID={note.credit_note_id}"


def details_of(note: XeroCreditNote) -> dict[str, object]:
    """What the credit note's Xero details show: its number and status, and of its total, how much is
    used (allocated or refunded, as amount credited) and how much is left (as amount due)."""
    return {
        "credit_note_id": note.credit_note_id,
        "credit_note_number": note.credit_note_number,
        "xero_status": note.status,
        "xero_url": xero_credit_note_link(note),
        "total": note.total,
        "total_tax": note.total_tax,
        "amount_due": note.remaining_credit,
        "amount_credited": note.total - note.remaining_credit,
    }


def changed_details(previous: XeroDetails, note: XeroCreditNote) -> dict[str, object]:
    """Only what differs from the last known Xero details: a replayed event writes nothing."""
    return {name: value for name, value in details_of(note).items() if getattr(previous, name) != value}


# --- sync history ------------------------------------------------------------------------------------


def _entry(ctx: HistoryContext, action: SyncAction, outcome: SyncOutcome, detail: str) -> SyncHistoryEntry:
    return SyncHistoryEntry(
        invoice_id=ctx.invoice_id,
        action=action,
        detail=detail,
        outcome=outcome,
        at=ctx.at,
        correlation_id=ctx.correlation_id,
        connection_id=ctx.connection_id,
    )


def _named(note: XeroCreditNote) -> str:
    return (
        f"Xero credit note {note.credit_note_number}" if note.credit_note_number else "The Xero credit note"
    )


def created(ctx: HistoryContext, note: XeroCreditNote, *, adopted: bool = False) -> SyncHistoryEntry:
    how = "Found" if adopted else "Created"
    number = f" {note.credit_note_number}" if note.credit_note_number else ""
    total = format_money(note.total, note.currency_code)
    detail = f"{how} Xero credit note{number} as {note.status}, total {total}."
    return _entry(ctx, SyncAction.CREATE, SyncOutcome.SUCCESS, detail)


def allocation_entry(
    ctx: HistoryContext, note: XeroCreditNote, decision: AllocationDecision, invoice_number: str
) -> SyncHistoryEntry:
    """Said either way (I14): allocated, already allocated, waiting for approval, or why not."""
    named = _named(note)
    action = decision.action
    if action == AllocationAction.ALLOCATE:
        amount = format_money(decision.amount or Decimal(0), note.currency_code)
        detail = f"{named} was allocated to invoice {invoice_number}: {amount}."
        return _entry(ctx, SyncAction.PAYMENT, SyncOutcome.SUCCESS, detail)
    if action == AllocationAction.ALREADY_ALLOCATED:
        detail = f"{named} is already allocated to invoice {invoice_number}."
        return _entry(ctx, SyncAction.PAYMENT, SyncOutcome.SUCCESS, detail)
    if action == AllocationAction.WAIT_FOR_APPROVAL:
        detail = (
            f"{named} is {note.status} in Xero; it will be allocated to invoice {invoice_number} once it is "
            "approved there."
        )
        return _entry(ctx, SyncAction.PAYMENT, SyncOutcome.WARNING, detail)
    detail = f"{named} was not allocated to invoice {invoice_number}: {decision.reason}. Allocate it in Xero."
    return _entry(ctx, SyncAction.PAYMENT, SyncOutcome.WARNING, detail)


def allocation_refused(
    ctx: HistoryContext, note: XeroCreditNote, invoice_number: str, messages: list[str]
) -> SyncHistoryEntry:
    words = " | ".join(m.strip() for m in messages if m.strip()) or "Xero gave no reason."
    detail = f"{_named(note)} was not allocated to invoice {invoice_number}: Xero said: {words}"
    return _entry(ctx, SyncAction.PAYMENT, SyncOutcome.WARNING, detail)


def update_not_sent(ctx: HistoryContext) -> SyncHistoryEntry:
    detail = "Changes to a credit note are not sent to Xero once it is there; change it in Xero."
    return _entry(ctx, SyncAction.UPDATE, SyncOutcome.WARNING, detail)


def changed_in_xero(
    ctx: HistoryContext, previous: XeroDetails, note: XeroCreditNote, *, credit: bool = True
) -> list[SyncHistoryEntry]:
    """Back from Xero: a new status, and (with `credit`) credit used: allocations made in Xero, refunds."""
    entries: list[SyncHistoryEntry] = []
    if previous.xero_status != note.status:
        was = f" (was {previous.xero_status})" if previous.xero_status else ""
        detail = f"{_named(note)} is now {note.status} in Xero{was}."
        entries.append(_entry(ctx, SyncAction.STATUS, SyncOutcome.SUCCESS, detail))
    if credit and previous.amount_due is not None and previous.amount_due != note.remaining_credit:
        left = format_money(note.remaining_credit, note.currency_code)
        allocated = ", ".join(
            f"{a.invoice_number or a.invoice_id} {format_money(a.amount, note.currency_code)}"
            for a in note.allocations
        )
        detail = f"{_named(note)} has {left} of credit left"
        detail += f" (allocated: {allocated})." if allocated else "."
        entries.append(_entry(ctx, SyncAction.PAYMENT, SyncOutcome.SUCCESS, detail))
    return entries


def exported_now(at: datetime) -> dict[str, object]:
    """The rest of the write-back: export status Yes, and the claim and pending create cleared."""
    return {
        "export_status": ExportStatus.YES,
        "exported_on": at,
        "claimed_until": None,
        "claimed_by": None,
        "pending_create": None,
    }

"""X1 and X2: what to do in Xero when a Dynamics invoice is cancelled or deleted. Decisions only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from connector.domain.dynamics import XeroDetails
from connector.domain.xero_records import LineAmountTypes, XeroCreditNoteDraft, XeroInvoice, XeroLineItem

_FINISHED = frozenset({"DELETED", "VOIDED"})
_EDITABLE = frozenset({"DRAFT", "SUBMITTED"})


def has_money_against(invoice: XeroInvoice) -> bool:
    """A payment or credit already applied: Xero then refuses to void, and a full credit won't fit."""
    return invoice.has_payments or invoice.amount_paid > 0 or invoice.amount_credited > 0


class CancelAction(StrEnum):
    DELETE = "delete"  # DRAFT or SUBMITTED
    CREDIT_AND_ALLOCATE = "credit_and_allocate"  # AUTHORISED, nothing paid
    CREDIT_UNALLOCATED = "credit_unallocated"  # AUTHORISED, part paid: a person allocates it
    NOTHING_PAID = "nothing_paid"  # PAID: "The Invoice is fully paid in Xero"
    NOTHING_SETTING_OFF = "nothing_setting_off"  # "Create credit note automatically" is off
    NOTHING_ALREADY_DONE = "nothing_already_done"  # deleted, voided, or credited by an earlier attempt


class CancelDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: CancelAction
    credit_amount: Decimal | None = None  # the credit note's total, for the CREDIT_* actions
    allocate_amount: Decimal | None = None  # how much of it to allocate, for CREDIT_AND_ALLOCATE


def decide_cancel(
    xero_invoice: XeroInvoice, create_credit_note: bool, *, existing_credit_note_id: str | None = None
) -> CancelDecision:
    """X1 decision table. `existing_credit_note_id` (from Xero details) makes a repeat a no-op (X3)."""
    if xero_invoice.status in _FINISHED or existing_credit_note_id:
        return CancelDecision(action=CancelAction.NOTHING_ALREADY_DONE)
    if not create_credit_note:
        return CancelDecision(action=CancelAction.NOTHING_SETTING_OFF)
    if xero_invoice.status in _EDITABLE:
        return CancelDecision(action=CancelAction.DELETE)
    if xero_invoice.status == "PAID":
        return CancelDecision(action=CancelAction.NOTHING_PAID)
    if has_money_against(xero_invoice):
        return CancelDecision(action=CancelAction.CREDIT_UNALLOCATED, credit_amount=xero_invoice.total)
    return CancelDecision(
        action=CancelAction.CREDIT_AND_ALLOCATE,
        credit_amount=xero_invoice.total,
        allocate_amount=xero_invoice.amount_due,
    )


def cancel_recorded_as_done(details: XeroDetails) -> bool:
    """Xero details show the cancel finished, so a repeat (the second of the two events Dataverse sends
    for one cancel) needs no Xero call: the invoice deleted or voided, or the credit note recorded and
    either allocated (the invoice paid) or left unallocated because money was already against it.
    A credit note recorded on an untouched invoice may still be waiting for its allocation."""
    if details.xero_status in _FINISHED:
        return True
    if not details.credit_note_id:
        return False
    money_against = (details.amount_paid or 0) > 0 or (details.amount_credited or 0) > 0
    return details.xero_status == "PAID" or money_against


def likely_credit_note(details: XeroDetails, create_credit_note: bool) -> bool:
    """Whether the cancel will probably create a credit note, judged before Xero is asked (so the
    claim's write can record it as pending): an approved invoice, the setting on, none made yet."""
    return create_credit_note and details.xero_status == "AUTHORISED" and not details.credit_note_id


class DeleteAction(StrEnum):
    DELETE = "delete"
    VOID = "void"
    NEEDS_ATTENTION = "needs_attention"
    NOTHING_ALREADY_DONE = "nothing_already_done"


class DeleteDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: DeleteAction


def decide_delete(xero_invoice: XeroInvoice) -> DeleteDecision:
    """X2: delete a draft, void an unpaid authorised invoice, otherwise a person must look at it."""
    if xero_invoice.status in _FINISHED:
        return DeleteDecision(action=DeleteAction.NOTHING_ALREADY_DONE)
    if xero_invoice.status in _EDITABLE:
        return DeleteDecision(action=DeleteAction.DELETE)
    if xero_invoice.status == "AUTHORISED" and not has_money_against(xero_invoice):
        return DeleteDecision(action=DeleteAction.VOID)
    return DeleteDecision(action=DeleteAction.NEEDS_ATTENTION)


def credit_note_draft(
    xero_invoice: XeroInvoice,
    lines: Sequence[XeroLineItem],
    *,
    line_amount_types: LineAmountTypes,
    today: date,
) -> XeroCreditNoteDraft:
    """A credit note for the invoice's full amount: the same lines, so the tax matches to the cent.

    `lines` are the invoice's line items as sent (or as Xero returns them). The credit note is
    AUTHORISED because Xero allocates only approved credit notes.
    """
    if not xero_invoice.contact_id:
        raise ValueError("A credit note needs the invoice's Xero contact id")
    number = xero_invoice.invoice_number or xero_invoice.invoice_id
    return XeroCreditNoteDraft(
        type="ACCPAYCREDIT" if xero_invoice.type == "ACCPAY" else "ACCRECCREDIT",
        contact_id=xero_invoice.contact_id,
        date=today,
        reference=f"Cancellation of {number}",
        currency_code=xero_invoice.currency_code,
        line_amount_types=line_amount_types,
        status="AUTHORISED",
        line_items=list(lines),
    )

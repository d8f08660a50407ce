"""I9, I10: sync history records in plain words, one per attempt, for the finance user.

Every function takes a `HistoryContext` (which invoice, when, which correlation id) so the texts
stay pure: no clock is read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from connector.domain.dynamics import SyncAction, SyncHistoryEntry, SyncOutcome
from connector.domain.sync.money import format_money
from connector.domain.xero_records import InvoiceType


class HistoryContext(BaseModel):
    """What every sync history record of one attempt shares."""

    model_config = ConfigDict(frozen=True)

    invoice_id: UUID
    at: datetime
    correlation_id: str
    connection_id: UUID | None = None


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


def _doc(invoice_type: InvoiceType) -> str:
    return "bill" if invoice_type == "ACCPAY" else "invoice"


def _named(invoice_type: InvoiceType, number: str | None) -> str:
    return f"Xero {_doc(invoice_type)} {number}" if number else f"The Xero {_doc(invoice_type)}"


def created(
    ctx: HistoryContext,
    *,
    invoice_type: InvoiceType,
    number: str | None,
    status: str,
    total: Decimal,
    currency_code: str | None,
) -> SyncHistoryEntry:
    what = f"Xero {_doc(invoice_type)} {number}" if number else f"the Xero {_doc(invoice_type)}"
    detail = f"Created {what} as {status}, total {format_money(total, currency_code)}."
    return _entry(ctx, SyncAction.CREATE, SyncOutcome.SUCCESS, detail)


def validation_failed(
    ctx: HistoryContext, messages: Sequence[str], *, action: SyncAction = SyncAction.CREATE
) -> SyncHistoryEntry:
    """I10: Xero's validation messages word for word, so the user can fix the invoice."""
    words = " | ".join(m.strip() for m in messages if m.strip()) or "Xero gave no reason."
    detail = f'Xero rejected the invoice: {words} Fix the invoice, then set export status back to "No".'
    return _entry(ctx, action, SyncOutcome.FAILED, detail)


def contact_missing(ctx: HistoryContext, reason: str) -> SyncHistoryEntry:
    """I5: the contact is missing and may not be created; `reason` from contacts.missing_contact_reason."""
    return _entry(ctx, SyncAction.CONTACT, SyncOutcome.FAILED, reason)


def customer_has_no_number(ctx: HistoryContext, customer_name: str, connection_name: str) -> SyncHistoryEntry:
    detail = (
        f"{customer_name} has no account/contact number, and connection {connection_name} matches Xero "
        'contacts by number. Add the number, then set export status back to "No".'
    )
    return _entry(ctx, SyncAction.CONTACT, SyncOutcome.FAILED, detail)


def contact_created(ctx: HistoryContext, contact_name: str) -> SyncHistoryEntry:
    return _entry(ctx, SyncAction.CONTACT, SyncOutcome.SUCCESS, f"Created contact {contact_name} in Xero.")


def contact_updated(ctx: HistoryContext, contact_name: str) -> SyncHistoryEntry:
    detail = f"Updated contact {contact_name} in Xero with the details from Dynamics."
    return _entry(ctx, SyncAction.CONTACT, SyncOutcome.SUCCESS, detail)


def reconnect_needed(ctx: HistoryContext, connection_name: str) -> SyncHistoryEntry:
    """C2: Xero refused the connection's authorisation; only an admin reconnecting fixes it."""
    detail = f"Reconnect connection {connection_name} to Xero: Xero no longer accepts its authorisation."
    return _entry(ctx, SyncAction.ERROR, SyncOutcome.FAILED, detail)


def rounding_warning(
    ctx: HistoryContext, *, dynamics_total: Decimal, xero_total: Decimal, currency_code: str | None
) -> SyncHistoryEntry:
    """I4: Xero rounds each line to the cent, so its total can differ from Dynamics' by a few cents."""
    difference = xero_total - dynamics_total
    detail = (
        f"Xero's total {format_money(xero_total, currency_code)} differs from the Dynamics total "
        f"{format_money(dynamics_total, currency_code)} by {format_money(difference)}, because Xero rounds "
        "each line to the cent."
    )
    return _entry(ctx, SyncAction.CREATE, SyncOutcome.WARNING, detail)


def updated(ctx: HistoryContext, *, invoice_type: InvoiceType, number: str | None) -> SyncHistoryEntry:
    detail = f"Updated {_named(invoice_type, number)} with the changes from Dynamics."
    return _entry(ctx, SyncAction.UPDATE, SyncOutcome.SUCCESS, detail)


def update_refused(ctx: HistoryContext, reason: str) -> SyncHistoryEntry:
    """I11: the update was not sent; `reason` from eligibility.decide_update."""
    return _entry(ctx, SyncAction.UPDATE, SyncOutcome.FAILED, reason)


def paid_bill_not_updated(ctx: HistoryContext) -> SyncHistoryEntry:
    detail = "The bill is paid in Xero; paid bills are never updated."
    return _entry(ctx, SyncAction.UPDATE, SyncOutcome.FAILED, detail)


def not_eligible(ctx: HistoryContext, reason: str) -> SyncHistoryEntry:
    """I1: why an invoice was not sent; `reason` from eligibility.check_eligibility."""
    return _entry(ctx, SyncAction.CREATE, SyncOutcome.WARNING, f"Not sent to Xero: {reason}")


def payment(
    ctx: HistoryContext,
    *,
    amount_paid: Decimal,
    total: Decimal,
    amount_due: Decimal,
    due_date: date | None,
    currency_code: str | None,
    overdue: bool = False,
) -> SyncHistoryEntry:
    """B2: a partial payment; the Dynamics status stays as it is."""
    detail = (
        f"Paid {format_money(amount_paid, currency_code)} of {format_money(total, currency_code)}, "
        f"due {format_money(amount_due, currency_code)}"
    )
    if due_date is not None:
        detail += f" by {due_date.isoformat()}"
    detail += " (overdue)." if overdue else "."
    return _entry(ctx, SyncAction.PAYMENT, SyncOutcome.SUCCESS, detail)


def fully_paid(
    ctx: HistoryContext,
    *,
    invoice_type: InvoiceType,
    number: str | None,
    total: Decimal,
    currency_code: str | None,
) -> SyncHistoryEntry:
    detail = (
        f"{_named(invoice_type, number)} is fully paid ({format_money(total, currency_code)}). "
        "The Dynamics invoice is marked Paid."
    )
    return _entry(ctx, SyncAction.PAYMENT, SyncOutcome.SUCCESS, detail)


def status_changed(
    ctx: HistoryContext, *, invoice_type: InvoiceType, number: str | None, old: str | None, new: str
) -> SyncHistoryEntry:
    was = f" (was {old})" if old else ""
    detail = f"{_named(invoice_type, number)} is now {new} in Xero{was}."
    return _entry(ctx, SyncAction.STATUS, SyncOutcome.SUCCESS, detail)


# X1 / X2: cancel and delete outcomes

FULLY_PAID_ON_CANCEL = "The Invoice is fully paid in Xero"


def cancel_fully_paid(ctx: HistoryContext) -> SyncHistoryEntry:
    """X1 PAID: the wording of the spec, then what the user can do."""
    detail = f"{FULLY_PAID_ON_CANCEL}, so nothing was changed there. Refund or credit it in Xero if needed."
    return _entry(ctx, SyncAction.CANCEL, SyncOutcome.WARNING, detail)


def credit_note_allocated(
    ctx: HistoryContext,
    *,
    credit_note_number: str | None,
    invoice_number: str | None,
    amount: Decimal,
    currency_code: str | None,
) -> SyncHistoryEntry:
    note = f"Credit note {credit_note_number}" if credit_note_number else "A credit note"
    target = f"invoice {invoice_number}" if invoice_number else "the invoice"
    detail = (
        f"{note} for {format_money(amount, currency_code)} was created in Xero and allocated to {target}."
    )
    return _entry(ctx, SyncAction.CANCEL, SyncOutcome.SUCCESS, detail)


def credit_note_needs_allocation(
    ctx: HistoryContext,
    *,
    credit_note_number: str | None,
    invoice_number: str | None,
    amount: Decimal,
    currency_code: str | None,
) -> SyncHistoryEntry:
    """X1 part-paid: the credit note exists but only a person can decide how to allocate it."""
    note = f"Credit note {credit_note_number}" if credit_note_number else "A credit note"
    target = f"invoice {invoice_number}" if invoice_number else "the invoice"
    detail = (
        f"{note} for {format_money(amount, currency_code)} was created in Xero but not allocated, because "
        f"{target} is part paid. It must be allocated by hand in Xero."
    )
    return _entry(ctx, SyncAction.CANCEL, SyncOutcome.WARNING, detail)


def cancel_setting_off(ctx: HistoryContext, connection_name: str) -> SyncHistoryEntry:
    detail = (
        f'"Create credit note automatically" is off for connection {connection_name}, so nothing was '
        "changed in Xero. Create any credit note in Xero by hand."
    )
    return _entry(ctx, SyncAction.CANCEL, SyncOutcome.WARNING, detail)


def cancel_not_in_xero(ctx: HistoryContext) -> SyncHistoryEntry:
    detail = "The invoice was never sent to Xero, so nothing was changed there."
    return _entry(ctx, SyncAction.CANCEL, SyncOutcome.SUCCESS, detail)


def already_done(
    ctx: HistoryContext, *, action: SyncAction, invoice_type: InvoiceType, number: str | None, status: str
) -> SyncHistoryEntry:
    detail = f"{_named(invoice_type, number)} is already {status}; nothing more was done."
    return _entry(ctx, action, SyncOutcome.SUCCESS, detail)


def deleted_in_xero(
    ctx: HistoryContext, *, action: SyncAction, invoice_type: InvoiceType, number: str | None
) -> SyncHistoryEntry:
    return _entry(ctx, action, SyncOutcome.SUCCESS, f"{_named(invoice_type, number)} was deleted.")


def voided_in_xero(
    ctx: HistoryContext, *, action: SyncAction, invoice_type: InvoiceType, number: str | None
) -> SyncHistoryEntry:
    return _entry(ctx, action, SyncOutcome.SUCCESS, f"{_named(invoice_type, number)} was voided.")


def needs_attention(
    ctx: HistoryContext, *, invoice_type: InvoiceType, number: str | None, status: str, amount_paid: Decimal
) -> SyncHistoryEntry:
    """X2: the Dynamics invoice was deleted but Xero's cannot be deleted or voided automatically."""
    paid = f" with {format_money(amount_paid)} paid" if amount_paid else ""
    detail = (
        f"{_named(invoice_type, number)} is {status}{paid}; it could not be deleted or voided "
        "automatically and needs attention in Xero."
    )
    return _entry(ctx, SyncAction.DELETE, SyncOutcome.WARNING, detail)


def date_delivered_set(ctx: HistoryContext, day: date) -> SyncHistoryEntry:
    """I13: the connector filled in Date Delivered when the invoice was created."""
    detail = f"Date Delivered was set automatically to {day.isoformat()}."
    return _entry(ctx, SyncAction.UPDATE, SyncOutcome.SUCCESS, detail)


def cancel_gave_up(ctx: HistoryContext, attempts: int, reason: str) -> SyncHistoryEntry:
    """O2 for a cancel: the retries are used up, so Xero may still show the invoice as it was."""
    detail = (
        f"Cancelling the invoice in Xero failed after {attempts} attempts ({reason}). Xero may still show "
        "it as open: check it there. The support team can replay the cancel once the cause is fixed."
    )
    return _entry(ctx, SyncAction.CANCEL, SyncOutcome.FAILED, detail)


def gave_up(ctx: HistoryContext, attempts: int, reason: str) -> SyncHistoryEntry:
    """O2: the retries are used up; the message goes to the poison queue for ops to replay."""
    detail = (
        f"The invoice could not be sent to Xero after {attempts} attempts ({reason}). It is parked for the "
        'support team, who can replay it; or fix the cause and set export status back to "No".'
    )
    return _entry(ctx, SyncAction.ERROR, SyncOutcome.FAILED, detail)

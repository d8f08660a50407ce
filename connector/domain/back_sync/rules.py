"""B2: what a Xero invoice event changes in Dynamics. Compares with the last known Xero details, so a
duplicate or replayed event changes nothing and writes no second history record."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from connector.domain.dynamics import InvoiceState, XeroDetails
from connector.domain.xero_records import XeroInvoice


class BackSync(BaseModel):
    """The outcome of one Xero invoice event for one Dynamics invoice."""

    model_config = ConfigDict(frozen=True)

    details: XeroDetails  # the Xero details as they should now be
    changed_fields: frozenset[str]  # which fields differ from before (empty: nothing to write)
    mark_paid: bool  # set the Dynamics invoice to Paid / Complete
    fully_paid_entry_due: bool  # write "fully paid" history (first time it is seen)
    payment_entry_due: bool  # write "paid X of Y, due Z" history (a new partial payment)
    status_changed: bool  # Xero status differs from the last one known
    overdue: bool  # money is still due and the due date has passed


def back_sync(
    previous: XeroDetails,
    xero_invoice: XeroInvoice,
    *,
    today: date,
    dynamics_state: InvoiceState | None = None,
) -> BackSync:
    """Xero details changes and what else a Xero invoice event calls for.

    `dynamics_state`, when known, lets a lost "mark Paid" write be redone on the next event even
    though the Xero details already say PAID, and keeps a cancelled invoice from being marked Paid.
    """
    updates: dict[str, object] = {
        "xero_status": xero_invoice.status,
        "amount_paid": xero_invoice.amount_paid,
        "amount_due": xero_invoice.amount_due,
        "amount_credited": xero_invoice.amount_credited,
        "total_tax": xero_invoice.total_tax,
        "total": xero_invoice.total,
    }
    if xero_invoice.invoice_number:
        updates["xero_invoice_number"] = xero_invoice.invoice_number
    if xero_invoice.due_date is not None:
        updates["due_date"] = xero_invoice.due_date
    amount_overdue, days_overdue = overdue_figures(
        xero_invoice.status, xero_invoice.amount_due, xero_invoice.due_date, today
    )
    updates.update(amount_overdue=amount_overdue, days_overdue=days_overdue)
    changed = frozenset(name for name, value in updates.items() if _differs(previous, name, value))
    details = previous.model_copy(update={name: updates[name] for name in changed})

    is_paid = xero_invoice.status == "PAID"
    was_paid = previous.xero_status == "PAID"
    if dynamics_state is not None:
        # Only an active invoice becomes Paid: a cancelled one is PAID in Xero once its credit note
        # is allocated, and must stay cancelled in Dynamics.
        mark_paid = is_paid and dynamics_state == InvoiceState.ACTIVE
    else:
        mark_paid = is_paid and not was_paid
    paid_before = previous.amount_paid or Decimal(0)
    partial = (
        not is_paid
        and xero_invoice.amount_paid > 0
        and xero_invoice.amount_due > 0
        and xero_invoice.amount_paid != paid_before
    )
    overdue = amount_overdue > 0
    return BackSync(
        details=details,
        changed_fields=changed,
        mark_paid=mark_paid,
        fully_paid_entry_due=is_paid and not was_paid and dynamics_state in (None, InvoiceState.ACTIVE),
        payment_entry_due=partial,
        status_changed="xero_status" in changed,
        overdue=overdue,
    )


_OVERDUE_FIELDS = ("amount_overdue", "days_overdue")


def overdue_figures(
    status: str, amount_due: Decimal, due_date: date | None, today: date
) -> tuple[Decimal, int]:
    """B2: (amount overdue, days overdue) of an invoice on `today` (the connection's calendar day): its
    amount due once the due date has passed, as Xero counts overdue balances; (0, 0) otherwise."""
    if amount_due <= 0 or due_date is None or due_date >= today or status not in ("AUTHORISED", "SUBMITTED"):
        return Decimal(0), 0
    return amount_due, (today - due_date).days


def _differs(previous: XeroDetails, name: str, value: object) -> bool:
    """A blank overdue figure reads as zero, so records written before overdue was kept are not all
    rewritten at their next event."""
    held = getattr(previous, name)
    if name in _OVERDUE_FIELDS and held is None:
        return bool(value)
    return bool(held != value)

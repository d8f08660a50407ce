"""B2: Xero invoice events → Xero details, Paid marking and payment history, duplicates harmless (B4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connector.domain.back_sync.rules import back_sync
from connector.domain.dynamics import InvoiceState
from connector.domain.xero_records import XeroInvoice
from tests.factories import details

TODAY = date(2026, 3, 20)


def xero_invoice(status: str = "AUTHORISED", **overrides: Any) -> XeroInvoice:
    values: dict[str, Any] = {
        "invoice_id": "xi-1",
        "invoice_number": "INV-0044",
        "type": "ACCREC",
        "status": status,
        "due_date": date(2026, 4, 1),
        "total_tax": Decimal("20.00"),
        "total": Decimal("120.00"),
        "amount_due": Decimal("120.00"),
    }
    values.update(overrides)
    return XeroInvoice(**values)


AFTER_CREATE = details(
    xero_invoice_id="xi-1",
    xero_invoice_number="INV-0044",
    xero_status="AUTHORISED",
    amount_paid=Decimal("0.00"),
    amount_due=Decimal("120.00"),
    amount_credited=Decimal("0.00"),
    total=Decimal("120.00"),
    total_tax=Decimal("20.00"),
    due_date=date(2026, 4, 1),
)


def test_b2_partial_payment_updates_details_and_asks_for_history() -> None:
    result = back_sync(
        AFTER_CREATE, xero_invoice(amount_paid=Decimal("40.00"), amount_due=Decimal("80.00")), today=TODAY
    )
    assert result.changed_fields == {"amount_paid", "amount_due"}
    assert (result.details.amount_paid, result.details.amount_due) == (Decimal("40.00"), Decimal("80.00"))
    assert result.payment_entry_due is True
    assert result.mark_paid is False
    assert result.fully_paid_entry_due is False


def test_b4_duplicate_partial_payment_event_changes_nothing() -> None:
    event = xero_invoice(amount_paid=Decimal("40.00"), amount_due=Decimal("80.00"))
    first = back_sync(AFTER_CREATE, event, today=TODAY)
    second = back_sync(first.details, event, today=TODAY)
    assert second.changed_fields == frozenset()
    assert second.details == first.details
    assert (second.payment_entry_due, second.mark_paid, second.fully_paid_entry_due) == (False, False, False)


def test_b2_second_partial_payment_is_a_new_history_entry() -> None:
    after_first = back_sync(
        AFTER_CREATE, xero_invoice(amount_paid=Decimal("40.00"), amount_due=Decimal("80.00")), today=TODAY
    ).details
    result = back_sync(
        after_first, xero_invoice(amount_paid=Decimal("70.00"), amount_due=Decimal("50.00")), today=TODAY
    )
    assert result.payment_entry_due is True


def test_b2_fully_paid_marks_dynamics_paid_once() -> None:
    paid = xero_invoice("PAID", amount_paid=Decimal("120.00"), amount_due=Decimal("0.00"))
    first = back_sync(AFTER_CREATE, paid, today=TODAY)
    assert first.mark_paid is True
    assert first.fully_paid_entry_due is True
    assert first.payment_entry_due is False
    assert first.status_changed is True
    assert first.details.xero_status == "PAID"
    replay = back_sync(first.details, paid, today=TODAY)
    assert (replay.mark_paid, replay.fully_paid_entry_due, replay.changed_fields) == (
        False,
        False,
        frozenset(),
    )


def test_b2_lost_paid_write_is_redone_when_dynamics_state_is_known() -> None:
    paid = xero_invoice("PAID", amount_paid=Decimal("120.00"), amount_due=Decimal("0.00"))
    already = back_sync(AFTER_CREATE, paid, today=TODAY).details
    assert back_sync(already, paid, today=TODAY, dynamics_state=InvoiceState.ACTIVE).mark_paid is True
    assert back_sync(already, paid, today=TODAY, dynamics_state=InvoiceState.PAID).mark_paid is False


def test_b2_xero_computed_due_date_tax_and_total_are_copied() -> None:
    """I3: an empty Dynamics due date is computed by Xero and synced back."""
    fresh = details(xero_invoice_id="xi-1")
    result = back_sync(fresh, xero_invoice(due_date=date(2026, 4, 30)), today=TODAY)
    assert result.details.due_date == date(2026, 4, 30)
    assert (result.details.total_tax, result.details.total) == (Decimal("20.00"), Decimal("120.00"))
    assert {"due_date", "total_tax", "total", "xero_status", "amount_due"} <= result.changed_fields


def test_b2_overdue_when_money_due_after_the_due_date() -> None:
    late = xero_invoice(due_date=date(2026, 3, 1), amount_paid=Decimal("20.00"), amount_due=Decimal("100.00"))
    assert back_sync(AFTER_CREATE, late, today=TODAY).overdue is True
    on_time = xero_invoice(due_date=date(2026, 3, 20))
    assert back_sync(AFTER_CREATE, on_time, today=TODAY).overdue is False


def test_b2_voided_invoice_is_a_status_change_not_a_payment() -> None:
    result = back_sync(AFTER_CREATE, xero_invoice("VOIDED", amount_due=Decimal("0.00")), today=TODAY)
    assert result.status_changed is True
    assert (result.mark_paid, result.payment_entry_due, result.overdue) == (False, False, False)


def test_b2_credited_in_full_counts_as_paid() -> None:
    credited = xero_invoice("PAID", amount_credited=Decimal("120.00"), amount_due=Decimal("0.00"))
    result = back_sync(AFTER_CREATE, credited, today=TODAY)
    assert result.mark_paid is True
    assert result.details.amount_credited == Decimal("120.00")


def test_x1_cancelled_invoice_credited_in_xero_is_not_marked_paid() -> None:
    """After X1 allocates a full credit note Xero reports PAID; the Dynamics invoice stays cancelled."""
    credited = xero_invoice("PAID", amount_credited=Decimal("120.00"), amount_due=Decimal("0.00"))
    result = back_sync(AFTER_CREATE, credited, today=TODAY, dynamics_state=InvoiceState.CANCELED)
    assert result.mark_paid is False
    assert result.fully_paid_entry_due is False
    assert result.details.xero_status == "PAID"

"""I9 sync history texts (and I10 failures, I13, X1/X2 outcomes), written for the finance user."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from connector.domain.dynamics import SyncAction, SyncOutcome
from connector.domain.sync import history
from tests.factories import CONNECTION_ID, INVOICE_ID

CTX = history.HistoryContext(
    invoice_id=INVOICE_ID,
    at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    correlation_id="corr-123",
    connection_id=CONNECTION_ID,
)


def test_i9_entry_carries_invoice_time_correlation_and_connection() -> None:
    entry = history.created(
        CTX,
        invoice_type="ACCREC",
        number="INV-0044",
        status="DRAFT",
        total=Decimal("1234.5"),
        currency_code="GBP",
    )
    assert entry.invoice_id == INVOICE_ID
    assert entry.at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert entry.correlation_id == "corr-123"
    assert entry.connection_id == CONNECTION_ID
    assert (entry.action, entry.outcome) == (SyncAction.CREATE, SyncOutcome.SUCCESS)
    assert entry.detail == "Created Xero invoice INV-0044 as DRAFT, total GBP 1,234.50."


def test_i12_created_bill_is_called_a_bill() -> None:
    entry = history.created(
        CTX,
        invoice_type="ACCPAY",
        number="SUP-1",
        status="AUTHORISED",
        total=Decimal(99),
        currency_code="EUR",
    )
    assert entry.detail == "Created Xero bill SUP-1 as AUTHORISED, total EUR 99.00."


def test_i10_validation_failure_quotes_xero_word_for_word() -> None:
    messages = ["Account code '999' is not a valid code for this document.", "Email address must be valid."]
    entry = history.validation_failed(CTX, messages)
    assert (entry.action, entry.outcome) == (SyncAction.CREATE, SyncOutcome.FAILED)
    assert entry.detail == (
        "Xero rejected the invoice: Account code '999' is not a valid code for this document. | "
        'Email address must be valid. Fix the invoice, then set export status back to "No".'
    )


def test_i5_contact_missing_is_a_failed_contact_entry() -> None:
    entry = history.contact_missing(CTX, "A. Datum Corporation is not a contact in Xero.")
    assert (entry.action, entry.outcome, entry.detail) == (
        SyncAction.CONTACT,
        SyncOutcome.FAILED,
        "A. Datum Corporation is not a contact in Xero.",
    )


def test_c2_reconnect_needed_names_the_connection() -> None:
    entry = history.reconnect_needed(CTX, "Contoso UK")
    assert entry.outcome == SyncOutcome.FAILED
    assert entry.detail.startswith("Reconnect connection Contoso UK to Xero")


def test_i4_rounding_difference_is_a_warning() -> None:
    entry = history.rounding_warning(
        CTX, dynamics_total=Decimal("100.00"), xero_total=Decimal("99.99"), currency_code="GBP"
    )
    assert entry.outcome == SyncOutcome.WARNING
    assert entry.detail == (
        "Xero's total GBP 99.99 differs from the Dynamics total GBP 100.00 by -0.01, because Xero rounds "
        "each line to the cent."
    )


def test_i11_update_entries() -> None:
    assert history.updated(CTX, invoice_type="ACCREC", number="INV-0044").detail == (
        "Updated Xero invoice INV-0044 with the changes from Dynamics."
    )
    refused = history.paid_bill_not_updated(CTX)
    assert (refused.action, refused.outcome) == (SyncAction.UPDATE, SyncOutcome.FAILED)
    assert refused.detail == "The bill is paid in Xero; paid bills are never updated."


def test_i1_not_eligible_entry_carries_the_reason() -> None:
    entry = history.not_eligible(CTX, "Date Delivered is not set.")
    assert entry.detail == "Not sent to Xero: Date Delivered is not set."


def test_b2_partial_payment_says_paid_x_of_y_due_z() -> None:
    entry = history.payment(
        CTX,
        amount_paid=Decimal("40"),
        total=Decimal("120.00"),
        amount_due=Decimal("80.00"),
        due_date=date(2026, 4, 1),
        currency_code="GBP",
    )
    assert (entry.action, entry.outcome) == (SyncAction.PAYMENT, SyncOutcome.SUCCESS)
    assert entry.detail == "Paid GBP 40.00 of GBP 120.00, due GBP 80.00 by 2026-04-01."


def test_b2_overdue_payment_says_so() -> None:
    entry = history.payment(
        CTX,
        amount_paid=Decimal("20"),
        total=Decimal("120"),
        amount_due=Decimal("100"),
        due_date=None,
        currency_code=None,
        overdue=True,
    )
    assert entry.detail == "Paid 20.00 of 120.00, due 100.00 (overdue)."


def test_b2_fully_paid_entry() -> None:
    entry = history.fully_paid(
        CTX, invoice_type="ACCREC", number="INV-0044", total=Decimal("120"), currency_code="GBP"
    )
    assert (
        entry.detail
        == "Xero invoice INV-0044 is fully paid (GBP 120.00). The Dynamics invoice is marked Paid."
    )


def test_x1_paid_invoice_cancel_uses_the_spec_wording() -> None:
    entry = history.cancel_fully_paid(CTX)
    assert entry.detail.startswith("The Invoice is fully paid in Xero")
    assert (entry.action, entry.outcome) == (SyncAction.CANCEL, SyncOutcome.WARNING)


def test_x1_credit_note_outcomes() -> None:
    allocated = history.credit_note_allocated(
        CTX,
        credit_note_number="CN-0007",
        invoice_number="INV-0044",
        amount=Decimal("120"),
        currency_code="GBP",
    )
    assert allocated.detail == (
        "Credit note CN-0007 for GBP 120.00 was created in Xero and allocated to invoice INV-0044."
    )
    by_hand = history.credit_note_needs_allocation(
        CTX,
        credit_note_number="CN-0008",
        invoice_number="INV-0045",
        amount=Decimal("120"),
        currency_code="GBP",
    )
    assert by_hand.outcome == SyncOutcome.WARNING
    assert by_hand.detail == (
        "Credit note CN-0008 for GBP 120.00 was created in Xero but not allocated, because invoice INV-0045 "
        "is part paid. It must be allocated by hand in Xero."
    )


def test_x1_setting_off_says_nothing_happened_in_xero() -> None:
    entry = history.cancel_setting_off(CTX, "Contoso UK")
    assert entry.detail == (
        '"Create credit note automatically" is off for connection Contoso UK, so nothing was changed in '
        "Xero. Create any credit note in Xero by hand."
    )


def test_x2_delete_outcomes() -> None:
    deleted = history.deleted_in_xero(CTX, action=SyncAction.DELETE, invoice_type="ACCREC", number="INV-1")
    voided = history.voided_in_xero(CTX, action=SyncAction.DELETE, invoice_type="ACCPAY", number="SUP-1")
    attention = history.needs_attention(
        CTX, invoice_type="ACCREC", number="INV-2", status="AUTHORISED", amount_paid=Decimal("50")
    )
    assert deleted.detail == "Xero invoice INV-1 was deleted."
    assert voided.detail == "Xero bill SUP-1 was voided."
    assert attention.outcome == SyncOutcome.WARNING
    assert attention.detail == (
        "Xero invoice INV-2 is AUTHORISED with 50.00 paid; it could not be deleted or voided automatically "
        "and needs attention in Xero."
    )


def test_i13_date_delivered_set_automatically_entry() -> None:
    entry = history.date_delivered_set(CTX, date(2026, 3, 2))
    assert entry.detail == "Date Delivered was set automatically to 2026-03-02."

"""I14: a Dynamics credit note's Xero draft, whether it can be allocated, and what sync history says."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connector.domain.dynamics import Invoice
from connector.domain.sync import credit_note as notes
from connector.domain.sync.credit_note import AllocationAction, decide_allocation
from connector.domain.sync.history import HistoryContext
from connector.domain.xero_records import XeroAllocation, XeroCreditNote, XeroInvoice
from tests import factories as f

CTX = HistoryContext(invoice_id=f.INVOICE_ID, at=datetime(2026, 11, 21, tzinfo=UTC), correlation_id="c-1")


def credit_note_invoice(**overrides: object) -> Invoice:
    values: dict[str, Any] = {
        "invoice_type": "credit_note",
        "lines": [f.write_in_line(1, "Refund", price_per_unit=Decimal("100.00"))],
        "currency_code": "NZD",
    }
    values.update(overrides)
    return f.invoice(**values)


def test_i14_sales_credit_note_numbered_like_invoices_with_the_sales_account() -> None:
    connection = f.connection(use_xero_invoice_number=False, default_invoice_status="AUTHORISED")
    draft = notes.build_credit_note_draft(credit_note_invoice(), connection, {}, "contact-1", purchase=False)
    assert (draft.type, draft.credit_note_number, draft.status) == (
        "ACCRECCREDIT",
        "INV-01001-B7K2",
        "AUTHORISED",
    )
    assert (draft.reference, draft.date, draft.contact_id) == (
        "Spring order for A. Datum",
        date(2026, 3, 2),
        "contact-1",
    )
    assert [line.account_code for line in draft.line_items] == ["200"]


def test_i14_a_credit_note_of_a_bill_is_accpaycredit_on_the_purchase_account() -> None:
    draft = notes.build_credit_note_draft(
        credit_note_invoice(), f.connection(), {}, "supplier", purchase=True
    )
    assert (draft.type, draft.reference, draft.credit_note_number) == ("ACCPAYCREDIT", None, None)
    assert [line.account_code for line in draft.line_items] == ["300"]


def note(**overrides: object) -> XeroCreditNote:
    values: dict[str, object] = {
        "credit_note_id": "cn-1",
        "credit_note_number": "CN-0001",
        "status": "AUTHORISED",
        "type": "ACCRECCREDIT",
        "contact_id": "contact-1",
        "currency_code": "NZD",
        "total": Decimal("115.00"),
        "remaining_credit": Decimal("115.00"),
    }
    values.update(overrides)
    return XeroCreditNote.model_validate(values)


def invoice(**overrides: object) -> XeroInvoice:
    values: dict[str, object] = {
        "invoice_id": "inv-1",
        "invoice_number": "INV-0001",
        "type": "ACCREC",
        "status": "AUTHORISED",
        "contact_id": "contact-1",
        "currency_code": "NZD",
        "amount_due": Decimal("230.00"),
    }
    values.update(overrides)
    return XeroInvoice.model_validate(values)


@pytest.mark.parametrize(
    ("credit", "xero_invoice", "action", "reason"),
    [
        (note(), invoice(), AllocationAction.ALLOCATE, None),
        (note(), None, AllocationAction.NOT_ALLOCATED, "invoice INV-0001 is not in Xero"),
        (note(status="DRAFT"), invoice(), AllocationAction.WAIT_FOR_APPROVAL, None),
        (
            note(allocations=(XeroAllocation(invoice_id="inv-1", amount=Decimal(115)),)),
            invoice(),
            AllocationAction.ALREADY_ALLOCATED,
            None,
        ),
        (note(), invoice(status="PAID"), AllocationAction.NOT_ALLOCATED, "invoice INV-0001 is PAID in Xero"),
        (note(), invoice(type="ACCPAY"), AllocationAction.NOT_ALLOCATED, "invoice INV-0001 is a bill"),
        (
            note(),
            invoice(contact_id="other"),
            AllocationAction.NOT_ALLOCATED,
            "invoice INV-0001 is for another Xero contact",
        ),
        (note(), invoice(currency_code="USD"), AllocationAction.NOT_ALLOCATED, "invoice INV-0001 is in USD"),
        (
            note(),
            invoice(amount_due=Decimal("50.00")),
            AllocationAction.NOT_ALLOCATED,
            "its credit of NZD 115.00 is more than the NZD 50.00 due on invoice INV-0001",
        ),
    ],
)
def test_i14_allocation_only_when_the_documents_and_amounts_allow(
    credit: XeroCreditNote, xero_invoice: XeroInvoice | None, action: AllocationAction, reason: str | None
) -> None:
    decision = decide_allocation(credit, xero_invoice, "INV-0001")
    assert (decision.action, decision.reason) == (action, reason)
    if action == AllocationAction.ALLOCATE:
        assert decision.amount == Decimal("115.00")


def test_i14_sync_history_says_either_way() -> None:
    allocated = decide_allocation(note(), invoice(), "INV-0001")
    assert notes.allocation_entry(CTX, note(), allocated, "INV-0001").detail == (
        "Xero credit note CN-0001 was allocated to invoice INV-0001: NZD 115.00."
    )
    refused = decide_allocation(note(), invoice(amount_due=Decimal("50.00")), "INV-0001")
    assert notes.allocation_entry(CTX, note(), refused, "INV-0001").detail == (
        "Xero credit note CN-0001 was not allocated to invoice INV-0001: its credit of NZD 115.00 is more "
        "than the NZD 50.00 due on invoice INV-0001. Allocate it in Xero."
    )
    waiting = decide_allocation(note(status="DRAFT"), invoice(), "INV-0001")
    assert notes.allocation_entry(CTX, note(status="DRAFT"), waiting, "INV-0001").detail == (
        "Xero credit note CN-0001 is DRAFT in Xero; it will be allocated to invoice INV-0001 once it is "
        "approved there."
    )


def test_i14_a_lost_create_is_recognised_by_type_contact_date_amount_and_number() -> None:
    draft = notes.build_credit_note_draft(
        credit_note_invoice(), f.connection(use_xero_invoice_number=False), {}, "contact-1", purchase=False
    )
    made = note(
        credit_note_number="INV-01001-B7K2",
        date=date(2026, 3, 2),
        sub_total=Decimal("100.00"),
        reference="Spring order for A. Datum",
    )
    assert notes.matches_draft(made, draft)
    assert not notes.matches_draft(made.model_copy(update={"sub_total": Decimal("90.00")}), draft)
    assert not notes.matches_draft(made.model_copy(update={"credit_note_number": "CN-0009"}), draft)
    assert not notes.matches_draft(made.model_copy(update={"status": "DELETED"}), draft)


def test_b2_changes_in_xero_come_back_in_plain_words() -> None:
    previous = f.details(xero_status="AUTHORISED", amount_due=Decimal("115.00"), credit_note_id="cn-1")
    allocated = note(
        status="PAID",
        remaining_credit=Decimal(0),
        allocations=(
            XeroAllocation(invoice_id="inv-1", invoice_number="INV-0001", amount=Decimal("115.00")),
        ),
    )
    assert [e.detail for e in notes.changed_in_xero(CTX, previous, allocated)] == [
        "Xero credit note CN-0001 is now PAID in Xero (was AUTHORISED).",
        "Xero credit note CN-0001 has NZD 0.00 of credit left (allocated: INV-0001 NZD 115.00).",
    ]
    assert notes.changed_details(f.details(**notes.details_of(allocated)), allocated) == {}

"""X1 cancel and X2 delete decision tables, X3 repeats, and the full-amount credit note."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from connector.domain.cancel.rules import (
    CancelAction,
    DeleteAction,
    credit_note_draft,
    decide_cancel,
    decide_delete,
)
from connector.domain.xero_records import XeroCreditNoteDraft, XeroInvoice, XeroLineItem


def xero_invoice(status: str, **overrides: Any) -> XeroInvoice:
    values: dict[str, Any] = {
        "invoice_id": "xi-1",
        "invoice_number": "INV-0044",
        "type": "ACCREC",
        "status": status,
        "contact_id": "contact-42",
        "currency_code": "GBP",
        "sub_total": Decimal("100.00"),
        "total_tax": Decimal("20.00"),
        "total": Decimal("120.00"),
        "amount_due": Decimal("120.00"),
    }
    values.update(overrides)
    return XeroInvoice(**values)


PART_PAID = {"amount_paid": Decimal("50.00"), "amount_due": Decimal("70.00"), "has_payments": True}
FULLY_PAID = {"amount_paid": Decimal("120.00"), "amount_due": Decimal("0.00"), "has_payments": True}


@pytest.mark.parametrize(
    ("invoice", "expected"),
    [
        (xero_invoice("DRAFT"), CancelAction.DELETE),
        (xero_invoice("SUBMITTED"), CancelAction.DELETE),
        (xero_invoice("AUTHORISED"), CancelAction.CREDIT_AND_ALLOCATE),
        (xero_invoice("PAID", **FULLY_PAID), CancelAction.NOTHING_PAID),
        (xero_invoice("AUTHORISED", **PART_PAID), CancelAction.CREDIT_UNALLOCATED),
        (xero_invoice("DELETED"), CancelAction.NOTHING_ALREADY_DONE),
        (xero_invoice("VOIDED"), CancelAction.NOTHING_ALREADY_DONE),
    ],
)
def test_x1_cancel_decision_table_with_credit_note_setting_on(
    invoice: XeroInvoice, expected: CancelAction
) -> None:
    assert decide_cancel(invoice, create_credit_note=True).action == expected


@pytest.mark.parametrize("status", ["DRAFT", "SUBMITTED", "AUTHORISED", "PAID"])
def test_x1_setting_off_does_nothing_in_xero(status: str) -> None:
    assert (
        decide_cancel(xero_invoice(status), create_credit_note=False).action
        == CancelAction.NOTHING_SETTING_OFF
    )


def test_x1_authorised_unpaid_credits_and_allocates_the_full_amount() -> None:
    decision = decide_cancel(xero_invoice("AUTHORISED"), create_credit_note=True)
    assert (decision.credit_amount, decision.allocate_amount) == (Decimal("120.00"), Decimal("120.00"))


def test_x1_part_paid_credits_the_full_amount_but_allocates_nothing() -> None:
    decision = decide_cancel(xero_invoice("AUTHORISED", **PART_PAID), create_credit_note=True)
    assert (decision.credit_amount, decision.allocate_amount) == (Decimal("120.00"), None)


def test_x1_authorised_with_a_hand_made_credit_is_treated_as_part_paid() -> None:
    credited = xero_invoice("AUTHORISED", amount_credited=Decimal("20.00"), amount_due=Decimal("100.00"))
    assert decide_cancel(credited, create_credit_note=True).action == CancelAction.CREDIT_UNALLOCATED


def test_x3_repeated_cancel_with_a_credit_note_on_record_does_nothing() -> None:
    decision = decide_cancel(
        xero_invoice("AUTHORISED"), create_credit_note=True, existing_credit_note_id="cn-1"
    )
    assert decision.action == CancelAction.NOTHING_ALREADY_DONE


@pytest.mark.parametrize(
    ("invoice", "expected"),
    [
        (xero_invoice("DRAFT"), DeleteAction.DELETE),
        (xero_invoice("SUBMITTED"), DeleteAction.DELETE),
        (xero_invoice("AUTHORISED"), DeleteAction.VOID),
        (xero_invoice("AUTHORISED", **PART_PAID), DeleteAction.NEEDS_ATTENTION),
        (xero_invoice("AUTHORISED", amount_credited=Decimal("1.00")), DeleteAction.NEEDS_ATTENTION),
        (xero_invoice("PAID", **FULLY_PAID), DeleteAction.NEEDS_ATTENTION),
        (xero_invoice("VOIDED"), DeleteAction.NOTHING_ALREADY_DONE),
        (xero_invoice("DELETED"), DeleteAction.NOTHING_ALREADY_DONE),
    ],
)
def test_x2_delete_decision_table(invoice: XeroInvoice, expected: DeleteAction) -> None:
    assert decide_delete(invoice).action == expected


LINES = [
    XeroLineItem(
        description="Widget",
        quantity=Decimal(3),
        unit_amount=Decimal("19.99"),
        item_code="WIDGET-1",
        account_code="200",
        discount_amount=Decimal("5.00"),
    ),
    XeroLineItem(description="Note"),
]


def test_x1_credit_note_is_for_the_full_amount_with_the_same_lines() -> None:
    draft = credit_note_draft(
        xero_invoice("AUTHORISED"), LINES, line_amount_types="Exclusive", today=date(2026, 3, 9)
    )
    assert draft == XeroCreditNoteDraft(
        type="ACCRECCREDIT",
        contact_id="contact-42",
        date=date(2026, 3, 9),
        reference="Cancellation of INV-0044",
        currency_code="GBP",
        line_amount_types="Exclusive",
        status="AUTHORISED",
        line_items=LINES,
    )


def test_x1_bill_gets_an_accpay_credit_note() -> None:
    bill = xero_invoice("AUTHORISED", type="ACCPAY", invoice_number="SUP-77812")
    draft = credit_note_draft(bill, LINES[:1], line_amount_types="Inclusive", today=date(2026, 3, 9))
    assert (draft.type, draft.reference, draft.line_amount_types) == (
        "ACCPAYCREDIT",
        "Cancellation of SUP-77812",
        "Inclusive",
    )


def test_x1_credit_note_needs_a_contact() -> None:
    with pytest.raises(ValueError, match="contact id"):
        credit_note_draft(
            xero_invoice("AUTHORISED", contact_id=None),
            LINES,
            line_amount_types="Exclusive",
            today=date(2026, 3, 9),
        )

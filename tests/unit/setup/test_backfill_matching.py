"""I1 backfill: how an invoice already in Xero is recognised (same number for sales; number, contact and
total for bills), so it is linked and never sent again."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connector.domain.dynamics import Invoice
from connector.domain.xero_records import XeroInvoice
from connector.setup.backfill import already_in_xero, numbers_to_look_up
from tests import factories as f


def sale(**overrides: Any) -> Invoice:
    return f.invoice(
        number="INV-01001-B7K2", name="Spring order", total_amount=Decimal("115.00"), **overrides
    )


def bill(**overrides: Any) -> Invoice:
    values: dict[str, Any] = {
        "invoice_type": "purchase",
        "name": "SUP-4411",
        "total_amount": Decimal("69.00"),
    }
    return f.invoice(**{**values, **overrides})


def found(number: str, type_: str = "ACCREC", **overrides: Any) -> dict[str, list[XeroInvoice]]:
    values: dict[str, Any] = {
        "invoice_id": f"x-{number}",
        "invoice_number": number,
        "type": type_,
        "status": "AUTHORISED",
        "contact_name": "A. Datum Corporation",
        "total": Decimal("69.00"),
        **overrides,
    }
    return {number: [XeroInvoice.model_validate(values)]}


def test_i1_a_sales_invoice_is_matched_by_the_number_it_has_or_would_have_in_xero() -> None:
    xero_numbering = f.connection()  # Xero numbers new invoices; a person would have typed the Invoice ID
    assert numbers_to_look_up(sale(), xero_numbering) == ["INV-01001-B7K2"]
    by_name = f.connection(use_xero_invoice_number=False, use_invoice_name=True)
    assert numbers_to_look_up(sale(), by_name) == ["Spring order"]
    assert already_in_xero(sale(), xero_numbering, found("INV-01001-B7K2", total=Decimal(1))) is not None


def test_i1_a_deleted_or_voided_invoice_or_a_bill_with_that_number_is_not_a_match() -> None:
    connection = f.connection()
    for status in ("DELETED", "VOIDED"):
        assert already_in_xero(sale(), connection, found("INV-01001-B7K2", status=status)) is None
    assert already_in_xero(sale(), connection, found("INV-01001-B7K2", "ACCPAY")) is None


def test_i1_a_bill_needs_its_number_contact_and_total() -> None:
    connection = f.connection()
    assert numbers_to_look_up(bill(), connection) == ["SUP-4411", "INV-01001-B7K2"]
    assert already_in_xero(bill(), connection, found("SUP-4411", "ACCPAY")) is not None
    assert already_in_xero(bill(), connection, found("SUP-4411", "ACCPAY", total=Decimal("70.15"))) is None
    assert (
        already_in_xero(bill(), connection, found("SUP-4411", "ACCPAY", contact_name="PowerDirect")) is None
    )
    remembered = bill(customer=f.customer(xero_contact_id="c-9"))
    assert already_in_xero(
        remembered, connection, found("SUP-4411", "ACCPAY", contact_name=None, contact_id="c-9")
    )


def test_i1_credit_notes_are_not_looked_up_among_invoices() -> None:
    assert numbers_to_look_up(sale(invoice_type="credit_note"), f.connection()) == []

"""The whole draft (I3 + I4 + I5 contact id), I11 paid-invoice updates, and Idempotency-Keys (I7, X3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.domain.dynamics import Invoice
from connector.domain.sync.invoice import build_invoice_draft, idempotency_key, paid_invoice_update
from connector.domain.sync.lines import line_amount, rounding_difference
from connector.domain.xero_records import XeroInvoice, XeroItem
from tests.factories import (
    CONNECTION_ID,
    INVOICE_ID,
    ORG_URL,
    connection,
    invoice,
    product,
    product_line,
    write_in_line,
)

ITEMS = {
    "WIDGET-1": XeroItem(
        item_id="item-1", code="WIDGET-1", sales_account_code="210", sales_tax_type="OUTPUT2"
    )
}


def _mixed_invoice() -> Invoice:
    return invoice(
        [
            product_line(
                1,
                product("WIDGET-1", "Widget"),
                quantity=Decimal(3),
                price_per_unit=Decimal("19.9900"),
                manual_discount=Decimal("5.0000"),
            ),
            write_in_line(2, "Installation", quantity=Decimal("1.5"), price_per_unit=Decimal("80.00")),
            write_in_line(3, "Thanks!", quantity=Decimal(0), price_per_unit=Decimal(0)),
        ],
    )


def test_i3_i4_full_draft_payload_is_hand_computed() -> None:
    draft = build_invoice_draft(
        _mixed_invoice(), connection(use_xero_invoice_number=False), ITEMS, "contact-42", ORG_URL
    )
    assert draft.model_dump(mode="json") == {
        "type": "ACCREC",
        "contact_id": "contact-42",
        "contact_name": None,
        "date": "2026-03-02",
        "due_date": "2026-04-01",
        "invoice_number": "INV-01001-B7K2",
        "reference": "Spring order for A. Datum",
        "currency_code": "GBP",
        "line_amount_types": "Exclusive",
        "status": "DRAFT",
        "branding_theme_id": None,
        "url": "https://contoso.crm11.dynamics.com/main.aspx?etn=invoice"
        "&id=11111111-2222-3333-4444-555555555555&pagetype=entityrecord",
        "line_items": [
            {
                "description": "Widget",
                "quantity": "3.0000",
                "unit_amount": "19.99",
                "item_code": "WIDGET-1",
                "account_code": "210",
                "tax_type": "OUTPUT2",
                "discount_amount": "5.00",
                "discount_rate": None,
            },
            {
                "description": "Installation",
                "quantity": "1.5000",
                "unit_amount": "80.00",
                "item_code": None,
                "account_code": "200",
                "tax_type": None,
                "discount_amount": None,
                "discount_rate": None,
            },
            {
                "description": "Thanks!",
                "quantity": None,
                "unit_amount": None,
                "item_code": None,
                "account_code": None,
                "tax_type": None,
                "discount_amount": None,
                "discount_rate": None,
            },
        ],
        "unit_dp": 2,
    }
    # 3 × 19.99 − 5.00 = 54.97; 1.5 × 80.00 = 120.00; the note is 0.00: 174.97, as in Dynamics
    xero_subtotal = sum(line_amount(li) for li in draft.line_items)
    assert xero_subtotal == Decimal("174.97")
    assert rounding_difference(Decimal("174.97"), xero_subtotal) is None


def test_i11_paid_invoice_update_keeps_only_the_fields_xero_allows() -> None:
    full = build_invoice_draft(_mixed_invoice(), connection(), ITEMS, "contact-42", ORG_URL)
    held = tuple(
        line.model_copy(update={"line_item_id": f"li-{n}"}) for n, line in enumerate(full.line_items)
    )
    current = XeroInvoice(
        invoice_id="x-1", type="ACCREC", status="PAID", line_amount_types="Exclusive", line_items=held
    )
    limited = paid_invoice_update(full, current)
    assert limited.date is None and limited.currency_code is None and limited.status == "PAID"
    assert (limited.reference, limited.due_date, limited.contact_id, limited.url) == (
        "Spring order for A. Datum",
        date(2026, 4, 1),
        "contact-42",
        full.url,
    )
    # Each of Xero's lines by its id, with no amounts: only what Xero lets change on a paid invoice.
    assert [line.model_dump(exclude_none=True) for line in limited.line_items] == [
        {"line_item_id": "li-0", "description": "Widget", "account_code": "210"},
        {"line_item_id": "li-1", "description": "Installation", "account_code": "200"},
        {"line_item_id": "li-2", "description": "Thanks!"},
    ]


def test_i7_idempotency_key_is_deterministic_and_readable() -> None:
    key = idempotency_key(CONNECTION_ID, INVOICE_ID, "Create invoice", 7)
    assert key == idempotency_key(str(CONNECTION_ID), str(INVOICE_ID), "Create invoice", "7")
    assert key.startswith("d365x-create-invoice-")
    assert len(key) == len("d365x-create-invoice-") + 64


def test_x3_idempotency_key_differs_per_operation_and_revision() -> None:
    keys = {
        idempotency_key(CONNECTION_ID, INVOICE_ID, "create-invoice", 1),
        idempotency_key(CONNECTION_ID, INVOICE_ID, "create-invoice", 2),
        idempotency_key(CONNECTION_ID, INVOICE_ID, "credit-note", 1),
        idempotency_key(INVOICE_ID, CONNECTION_ID, "create-invoice", 1),
    }
    assert len(keys) == 4


@settings(max_examples=100, deadline=None)
@given(
    connection_id=st.uuids(),
    invoice_id=st.uuids(),
    operation=st.text(max_size=300),
    revision=st.one_of(st.integers(), st.text(max_size=200)),
)
def test_i7_property_idempotency_key_is_stable_and_at_most_128_chars(
    connection_id: object, invoice_id: object, operation: str, revision: int | str
) -> None:
    key = idempotency_key(connection_id, invoice_id, operation, revision)  # type: ignore[arg-type]
    assert key == idempotency_key(connection_id, invoice_id, operation, revision)  # type: ignore[arg-type]
    assert len(key) <= 128
    assert key.isascii()
    assert " " not in key

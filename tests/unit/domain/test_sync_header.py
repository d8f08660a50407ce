"""I3 header mapping and I12 bills."""

from __future__ import annotations

from datetime import date

import pytest

from connector.domain.sync.header import invoice_header
from tests.factories import ORG_URL, connection, invoice

DEEP_LINK = (
    "https://contoso.crm11.dynamics.com/main.aspx?etn=invoice"
    "&id=11111111-2222-3333-4444-555555555555&pagetype=entityrecord"
)


def test_i3_sales_invoice_header_maps_every_field() -> None:
    header = invoice_header(
        invoice(line_amount_types="Inclusive", branding_theme_id="theme-inv"),
        connection(default_invoice_status="AUTHORISED", default_branding_theme_id="theme-default"),
        ORG_URL,
    )
    assert header.model_dump() == {
        "type": "ACCREC",
        "contact_id": None,
        "contact_name": None,
        "date": date(2026, 3, 2),
        "due_date": date(2026, 4, 1),
        "invoice_number": None,  # Xero numbering is the default
        "reference": "Spring order for A. Datum",
        "currency_code": "GBP",
        "line_amount_types": "Inclusive",
        "status": "AUTHORISED",
        "branding_theme_id": "theme-inv",
        "url": DEEP_LINK,
        "line_items": [],
        "unit_dp": 2,
    }


def test_i3_deep_link_ignores_trailing_slash_on_org_url() -> None:
    assert invoice_header(invoice(), connection(), ORG_URL + "/").url == DEEP_LINK


def test_i3_empty_due_date_is_omitted_so_xero_computes_it() -> None:
    assert invoice_header(invoice(due_date=None), connection(), ORG_URL).due_date is None


def test_i3_default_status_is_draft() -> None:
    assert invoice_header(invoice(), connection(), ORG_URL).status == "DRAFT"


def test_i3_branding_theme_falls_back_to_connection_default() -> None:
    header = invoice_header(invoice(), connection(default_branding_theme_id="theme-default"), ORG_URL)
    assert header.branding_theme_id == "theme-default"
    assert invoice_header(invoice(), connection(), ORG_URL).branding_theme_id is None


def test_i3_reference_switched_off_sends_no_reference() -> None:
    assert invoice_header(invoice(), connection(no_description_as_reference=True), ORG_URL).reference is None


@pytest.mark.parametrize("description", [None, "", "   "])
def test_i3_blank_description_gives_no_reference(description: str | None) -> None:
    assert invoice_header(invoice(description=description), connection(), ORG_URL).reference is None


def test_i3_reference_is_truncated_to_xero_limit_of_255() -> None:
    long_text = "x" * 250 + "ABCDEFGHIJ"  # 260 characters
    reference = invoice_header(invoice(description=long_text), connection(), ORG_URL).reference
    assert reference == "x" * 250 + "ABCDE"


@pytest.mark.parametrize(
    ("use_xero_number", "use_name", "expected"),
    [
        (True, False, None),
        (True, True, None),  # "use invoice name" applies only when the Xero number is not used
        (False, True, "Spring order"),
        (False, False, "INV-01001-B7K2"),
    ],
)
def test_c3_invoice_number_by_settings(use_xero_number: bool, use_name: bool, expected: str | None) -> None:
    conn = connection(use_xero_invoice_number=use_xero_number, use_invoice_name=use_name)
    assert invoice_header(invoice(), conn, ORG_URL).invoice_number == expected


def test_i12_bill_goes_to_accpay_with_supplier_number_from_name() -> None:
    bill = invoice(invoice_type="purchase", name="SUP-77812")
    header = invoice_header(bill, connection(use_xero_invoice_number=False, use_invoice_name=True), ORG_URL)
    assert header.type == "ACCPAY"
    assert header.invoice_number == "SUP-77812"
    assert header.reference is None  # Xero's Reference is ACCREC only


def test_i12_bill_with_dynamics_numbering_uses_invoice_id() -> None:
    bill = invoice(invoice_type="purchase")
    header = invoice_header(bill, connection(use_xero_invoice_number=False), ORG_URL)
    assert (header.type, header.invoice_number) == ("ACCPAY", "INV-01001-B7K2")

"""I16: with reference data, invalid values fail the invoice before any Xero call, naming line and value;
I15: tracking lookups become category and option names; C5: the connection's defaults as lookups."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from connector.domain.dynamics import LineTrackingOption, ProductType
from connector.domain.reference_data import KnownValue, ReferenceData
from connector.domain.sync.validation import check_invoice
from tests import factories as f

NORTH, EAST, SALES_DEPT, GONE_ROW = (f.uid(name) for name in ("north", "east", "sales-dept", "gone"))
SALES_ROW, OLD_ROW, THEME_ROW = f.uid("acc-200"), f.uid("acc-999"), f.uid("theme")


def known(value: str, active: bool = True, status: str | None = None, **extra: str) -> KnownValue:
    return KnownValue(
        value=value, name=value, active=active, status=status or ("ACTIVE" if active else "ARCHIVED"), **extra
    )


DATA = ReferenceData(
    tax_types={"OUTPUT2": known("OUTPUT2"), "TAX001": known("TAX001", False)},
    accounts={"200": known("200"), "300": known("300"), "999": known("999", False)},
    branding_themes={"theme-1": known("theme-1")},
    rows={
        NORTH: known("opt-north", category="Region", option="North"),
        EAST: known("opt-east", False, category="Region", option="East"),
        SALES_DEPT: known("opt-sales", category="Department", option="Sales"),
        SALES_ROW: known("200"),
        OLD_ROW: known("999", False),
        THEME_ROW: known("theme-1"),
    },
    has_tracking=True,
)


def pick(row: UUID) -> LineTrackingOption:
    return LineTrackingOption(option_row_id=row)


def test_i16_an_archived_account_override_names_the_line_and_the_code() -> None:
    invoice = f.invoice(
        [f.write_in_line(1), f.write_in_line(2), f.write_in_line(3, account_code_override="999")]
    )
    checked = check_invoice(invoice, f.connection(), DATA)
    assert checked.problems == ("Line 3: account code 999 is archived in Xero's chart of accounts",)


def test_i16_unknown_values_and_archived_tax_rates_and_options() -> None:
    lines = [
        f.write_in_line(1, account_code_override="455"),
        f.product_line(2, tax_type_override="TAX001"),
        f.product_line(3, tax_type_override="GST99"),
        f.product_line(4, tracking=(pick(EAST),)),
        f.product_line(5, tracking=(pick(GONE_ROW),)),
    ]
    checked = check_invoice(f.invoice(lines), f.connection(), DATA)
    assert checked.problems == (
        "Line 1: account code 455 is not in Xero's chart of accounts",
        "Line 2: tax type TAX001 is archived in Xero's tax rates",
        "Line 3: tax type GST99 is not in Xero's tax rates",
        "Line 4: tracking option Region: East is archived in Xero",
        "Line 5: the tracking option picked is no longer in Xero",
    )


def test_i16_a_write_in_takes_the_default_account_and_a_product_may_take_its_items() -> None:
    connection = f.connection(default_sales_account_code="999")
    checked = check_invoice(f.invoice([f.product_line(1), f.write_in_line(2)]), connection, DATA)
    assert checked.problems == ("Line 2: account code 999 is archived in Xero's chart of accounts",)
    bill = f.invoice([f.write_in_line(1)], invoice_type="purchase")
    assert check_invoice(bill, connection, DATA).problems == ()  # bills take the purchase default, 300


def test_i16_lines_sent_without_values_are_not_checked() -> None:
    bundle = f.product_line(1, product_type=ProductType.BUNDLE)
    child = f.product_line(2, parent_bundle_line_id=bundle.id, account_code_override="999")
    note = f.write_in_line(3, quantity=Decimal(0), price_per_unit=Decimal(0), tax_type_override="TAX001")
    assert check_invoice(f.invoice([bundle, child, note]), f.connection(), DATA).problems == ()


def test_i16_without_reference_data_nothing_is_checked_or_changed() -> None:
    invoice = f.invoice([f.write_in_line(1, account_code_override="999", tax_type_override="NOPE")])
    checked = check_invoice(invoice, f.connection(), ReferenceData())
    assert checked.problems == () and checked.invoice == invoice


def test_i15_tracking_names_are_filled_in_and_two_of_one_category_fail() -> None:
    good = f.invoice([f.product_line(1, tracking=(pick(NORTH), pick(SALES_DEPT)))])
    [line] = check_invoice(good, f.connection(), DATA).invoice.lines
    assert [(t.category, t.option) for t in line.tracking] == [("Region", "North"), ("Department", "Sales")]
    twice = f.invoice([f.product_line(1, tracking=(pick(NORTH), pick(NORTH)))])
    assert check_invoice(twice, f.connection(), DATA).problems == (
        "Line 1: two tracking options of category Region; keep one",
    )


def test_c5_the_connections_lookups_become_codes_ids_and_names() -> None:
    connection = f.connection(
        default_sales_account_code="260",
        default_sales_account_id=SALES_ROW,
        default_branding_theme_row_id=THEME_ROW,
        default_tracking=(pick(NORTH),),
    )
    checked = check_invoice(f.invoice(), connection, DATA)
    resolved = checked.connection
    assert (resolved.default_sales_account_code, resolved.default_branding_theme_id) == ("200", "theme-1")
    assert [(t.category, t.option) for t in resolved.default_tracking] == [("Region", "North")]
    archived_default = f.connection(default_tracking=(pick(EAST),))
    assert check_invoice(f.invoice(), archived_default, DATA).problems == (
        "The connection's default: tracking option Region: East is archived in Xero",
    )


def test_i16_a_branding_theme_no_longer_in_xero() -> None:
    checked = check_invoice(f.invoice(branding_theme_id="theme-gone"), f.connection(), DATA)
    assert checked.problems == ("The branding theme theme-gone is not in Xero",)

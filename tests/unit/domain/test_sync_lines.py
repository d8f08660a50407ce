"""I4 lines: products, write-ins, notes, bundles, order, account and tax precedence, money, rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.domain.dynamics import InvoiceLine, ProductType
from connector.domain.sync.lines import build_line_items, line_amount, rounding_difference
from connector.domain.xero_records import XeroItem, XeroLineItem
from tests.factories import connection, invoice, product, product_line, uid, write_in_line

WIDGET = product("WIDGET-1", "Widget")
WIDGET_ITEM = XeroItem(
    item_id="item-1",
    code="WIDGET-1",
    sales_account_code="210",
    sales_tax_type="OUTPUT2",
    purchase_account_code="310",
    purchase_tax_type="INPUT2",
)
ITEMS = {"WIDGET-1": WIDGET_ITEM}


def test_i4_existing_product_sends_item_code_quantity_price_and_discount() -> None:
    """3 × 19.99 with a 5.00 discount: Xero's LineAmount is 59.97 − 5.00 = 54.97."""
    line = product_line(
        1,
        WIDGET,
        description="Blue widget",
        quantity=Decimal("3"),
        price_per_unit=Decimal("19.9900"),
        manual_discount=Decimal("5.0000"),
    )
    result = build_line_items(invoice([line]), connection(), ITEMS)
    assert result.unit_dp == 2
    assert result.line_items == [
        XeroLineItem(
            description="Blue widget",
            quantity=Decimal("3"),
            unit_amount=Decimal("19.99"),
            item_code="WIDGET-1",
            account_code="210",
            tax_type="OUTPUT2",
            discount_amount=Decimal("5.00"),
        )
    ]
    assert line_amount(result.line_items[0]) == Decimal("54.97")


def test_i4_product_without_line_description_uses_product_name() -> None:
    result = build_line_items(invoice([product_line(1, WIDGET)]), connection(), ITEMS)
    assert result.line_items[0].description == "Widget"


def test_i4_write_in_line_has_no_item() -> None:
    line = write_in_line(1, "Consulting", quantity=Decimal("2"), price_per_unit=Decimal("150"))
    result = build_line_items(invoice([line]), connection(), ITEMS)
    assert result.line_items == [
        XeroLineItem(
            description="Consulting",
            quantity=Decimal("2"),
            unit_amount=Decimal("150.00"),
            item_code=None,
            account_code="200",
            tax_type=None,
        )
    ]


def test_i4_write_in_name_and_description_are_both_kept() -> None:
    line = write_in_line(1, "Consulting", description="March, on site")
    assert build_line_items(invoice([line]), connection(), {}).line_items[0].description == (
        "Consulting\nMarch, on site"
    )


def test_i4_write_in_with_quantity_0_and_amount_0_is_a_note_line() -> None:
    note = write_in_line(
        2,
        "Thank you for your order",
        quantity=Decimal(0),
        price_per_unit=Decimal(0),
        extended_amount=Decimal(0),
    )
    result = build_line_items(invoice([product_line(1, WIDGET), note]), connection(), ITEMS)
    assert result.line_items[1] == XeroLineItem(description="Thank you for your order")
    assert line_amount(result.line_items[1]) == Decimal("0.00")


def test_i4_note_line_with_no_text_is_left_out() -> None:
    note = write_in_line(2, "", quantity=Decimal(0), price_per_unit=Decimal(0))
    result = build_line_items(invoice([product_line(1, WIDGET), note]), connection(), ITEMS)
    assert len(result.line_items) == 1


def test_i4_existing_product_with_quantity_0_is_not_a_note() -> None:
    line = product_line(1, WIDGET, quantity=Decimal(0), price_per_unit=Decimal(0))
    item = build_line_items(invoice([line]), connection(), ITEMS).line_items[0]
    assert (item.item_code, item.quantity, item.unit_amount) == ("WIDGET-1", Decimal(0), Decimal("0.00"))


def _bundle_invoice() -> list[InvoiceLine]:
    bundle = product_line(
        1,
        product("KIT-1", "Starter kit"),
        product_type=ProductType.BUNDLE,
        quantity=Decimal(2),
        price_per_unit=Decimal("99.00"),
    )
    child_a = product_line(
        2,
        product("CABLE-1", "Cable"),
        product_type=ProductType.REQUIRED_BUNDLE_PRODUCT,
        parent_bundle_line_id=bundle.id,
        quantity=Decimal(2),
        price_per_unit=Decimal("10.00"),
    )
    child_b = product_line(
        3,
        product("PLUG-1", "Plug"),
        product_type=ProductType.OPTIONAL_BUNDLE_PRODUCT,
        parent_bundle_line_id=bundle.id,
        quantity=Decimal(2),
        price_per_unit=Decimal("5.00"),
    )
    after = write_in_line(4, "Delivery", quantity=Decimal(1), price_per_unit=Decimal("7.50"))
    return [bundle, child_a, child_b, after]


BUNDLE_LINE = XeroLineItem(
    description="Starter kit", quantity=Decimal(2), unit_amount=Decimal("99.00"), account_code="200"
)
DELIVERY_LINE = XeroLineItem(
    description="Delivery", quantity=Decimal(1), unit_amount=Decimal("7.50"), account_code="200"
)


def test_i4_bundle_header_only_sends_single_line() -> None:
    result = build_line_items(invoice(_bundle_invoice()), connection(bundle_header_only=True), {})
    assert result.line_items == [BUNDLE_LINE, DELIVERY_LINE]
    assert sum(line_amount(li) for li in result.line_items) == Decimal("205.50")  # 2 × 99.00 + 7.50


def test_i4_bundle_with_details_sends_children_as_description_only_lines() -> None:
    result = build_line_items(invoice(_bundle_invoice()), connection(bundle_header_only=False), {})
    assert result.line_items == [
        BUNDLE_LINE,
        XeroLineItem(description="Cable"),
        XeroLineItem(description="Plug"),
        DELIVERY_LINE,
    ]
    # the children carry no money, so the total is still the bundle's price
    assert sum(line_amount(li) for li in result.line_items) == Decimal("205.50")


def test_i4_bundle_children_follow_their_bundle_even_with_edited_sequence_numbers() -> None:
    bundle, child_a, child_b, after = _bundle_invoice()
    child_a = child_a.model_copy(update={"sequence": 9})  # moved below "Delivery" by hand
    result = build_line_items(invoice([after, child_a, bundle, child_b]), connection(), {})
    assert [li.description for li in result.line_items] == ["Starter kit", "Plug", "Cable", "Delivery"]


def test_i4_line_order_follows_sequence() -> None:
    lines = [
        write_in_line(30, "Third"),
        write_in_line(10, "First"),
        write_in_line(20, "Second"),
    ]
    result = build_line_items(invoice(lines), connection(), {})
    assert [li.description for li in result.line_items] == ["First", "Second", "Third"]


@pytest.mark.parametrize(
    ("invoice_type", "override_account", "override_tax", "items", "expected"),
    [
        ("sales", "400", "EXEMPTOUTPUT", ITEMS, ("400", "EXEMPTOUTPUT")),  # line override wins
        ("sales", None, None, ITEMS, ("210", "OUTPUT2")),  # then the item's sales side
        ("sales", None, None, {}, ("200", None)),  # then the connection's sales default
        ("purchase", None, None, ITEMS, ("310", "INPUT2")),  # bills use the item's purchase side
        ("purchase", None, None, {}, ("300", None)),  # and the purchase default
        ("purchase", "499", None, ITEMS, ("499", "INPUT2")),  # each field falls back on its own
    ],
)
def test_i4_account_code_and_tax_type_precedence(
    invoice_type: str,
    override_account: str | None,
    override_tax: str | None,
    items: dict[str, XeroItem],
    expected: tuple[str | None, str | None],
) -> None:
    line = product_line(1, WIDGET, account_code_override=override_account, tax_type_override=override_tax)
    item = build_line_items(invoice([line], invoice_type=invoice_type), connection(), items).line_items[0]
    assert (item.account_code, item.tax_type) == expected


def test_i4_item_without_accounts_falls_back_to_connection_default() -> None:
    bare = {"WIDGET-1": XeroItem(item_id="item-1", code="WIDGET-1")}
    item = build_line_items(invoice([product_line(1, WIDGET)]), connection(), bare).line_items[0]
    assert (item.item_code, item.account_code, item.tax_type) == ("WIDGET-1", "200", None)


def test_i6_product_without_xero_item_is_sent_without_item_code() -> None:
    item = build_line_items(
        invoice([product_line(1, WIDGET)]), connection(create_products=False), {}
    ).line_items[0]
    assert item.item_code is None
    assert item.description == "Widget"


def test_i4_unit_price_with_more_than_2_decimals_uses_unitdp_4() -> None:
    """0.12345 rounds half away from zero to 0.1235; the other price is sent as 10.0000."""
    lines = [
        product_line(1, WIDGET, quantity=Decimal(1000), price_per_unit=Decimal("0.12345")),
        write_in_line(2, "Setup", price_per_unit=Decimal("10.00")),
    ]
    result = build_line_items(invoice(lines), connection(), ITEMS)
    assert result.unit_dp == 4
    assert [li.unit_amount for li in result.line_items] == [Decimal("0.1235"), Decimal("10.0000")]
    assert str(result.line_items[0].unit_amount) == "0.1235"
    assert line_amount(result.line_items[0]) == Decimal("123.50")  # 1000 × 0.1235


def test_i4_dynamics_four_place_money_with_zero_tail_stays_at_2dp() -> None:
    line = product_line(1, WIDGET, price_per_unit=Decimal("19.9900"))
    result = build_line_items(invoice([line]), connection(), ITEMS)
    assert result.unit_dp == 2
    assert str(result.line_items[0].unit_amount) == "19.99"


def test_i4_bill_discount_is_folded_into_unit_amount() -> None:
    """Xero takes no discounts on ACCPAY: 3 × 19.99 − 5.00 = 54.97, so 54.97 / 3 = 18.32333… → 18.3233."""
    line = product_line(
        1, WIDGET, quantity=Decimal(3), price_per_unit=Decimal("19.99"), manual_discount=Decimal(5)
    )
    result = build_line_items(invoice([line], invoice_type="purchase"), connection(), ITEMS)
    item = result.line_items[0]
    assert result.unit_dp == 4
    assert (item.unit_amount, item.discount_amount) == (Decimal("18.3233"), None)
    assert line_amount(item) == Decimal("54.97")  # 3 × 18.3233 = 54.9699, rounded per line


def test_i4_zero_discount_is_not_sent() -> None:
    item = build_line_items(invoice([product_line(1, WIDGET)]), connection(), ITEMS).line_items[0]
    assert item.discount_amount is None


@pytest.mark.parametrize(
    ("dynamics_total", "xero_total", "expected"),
    [
        (Decimal("100.00"), Decimal("100.00"), None),
        (Decimal("100.0000"), Decimal("100.00"), None),
        (Decimal("100.004"), Decimal("100.00"), None),  # same to the cent
        (Decimal("100.00"), Decimal("100.01"), Decimal("0.01")),
        (Decimal("100.00"), Decimal("99.98"), Decimal("-0.02")),
        (Decimal("54.9699"), Decimal("54.96"), Decimal("-0.01")),
    ],
)
def test_i4_rounding_difference_is_reported(
    dynamics_total: Decimal, xero_total: Decimal, expected: Decimal | None
) -> None:
    assert rounding_difference(dynamics_total, xero_total) == expected


def test_i4_three_lines_of_a_third_round_per_line() -> None:
    """Dynamics keeps 3 × 33.333 = 99.999 (shown 100.00); Xero rounds 33.333 per line: 3 × 33.33 = 99.99."""
    lines = [write_in_line(i, f"Share {i}", price_per_unit=Decimal("33.333")) for i in (1, 2, 3)]
    result = build_line_items(invoice(lines), connection(), {})
    xero_subtotal = sum(line_amount(li) for li in result.line_items)
    assert result.unit_dp == 4
    assert xero_subtotal == Decimal("99.99")
    assert rounding_difference(Decimal("99.999"), xero_subtotal) == Decimal("-0.01")


_money = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999"), places=4, allow_nan=False)
_quantity = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000"), places=4, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.tuples(_quantity, _money), min_size=1, max_size=12),
    sequences=st.permutations(list(range(12))),
    purchase=st.booleans(),
)
def test_i4_property_order_preserved_and_money_is_decimal(
    prices: list[tuple[Decimal, Decimal]], sequences: list[int], purchase: bool
) -> None:
    lines = [
        InvoiceLine(
            id=uid(f"prop-{i}"),
            sequence=sequences[i],
            is_write_in=True,
            write_in_name=f"Line {sequences[i]:02d}",
            quantity=q,
            price_per_unit=p,
            manual_discount=Decimal("0.50") if purchase else Decimal(0),
        )
        for i, (q, p) in enumerate(prices)
    ]
    inv = invoice(lines, invoice_type="purchase" if purchase else "sales")
    result = build_line_items(inv, connection(), {})
    assert [li.description for li in result.line_items] == sorted(
        f"Line {s:02d}" for s in sequences[: len(prices)]
    )
    for li in result.line_items:
        for value in (li.quantity, li.unit_amount, li.discount_amount):
            assert value is None or isinstance(value, Decimal)
        assert isinstance(line_amount(li), Decimal)
        assert li.unit_amount is not None
        exponent = li.unit_amount.as_tuple().exponent
        assert exponent == -result.unit_dp

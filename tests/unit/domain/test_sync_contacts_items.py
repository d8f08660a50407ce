"""I5 contacts and I6 items."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.domain.dynamics import ProductType
from connector.domain.sync.contacts import (
    ContactLookup,
    MissingContactAction,
    contact_draft,
    contact_lookup,
    decide_missing_contact,
    should_update_contact,
)
from connector.domain.sync.items import item_draft, items_to_create, lines_needing_items
from connector.domain.xero_records import XeroAddress, XeroContactDraft, XeroItem, XeroItemDraft
from tests.factories import connection, customer, invoice, product, product_line, write_in_line


def test_i5_contacts_match_by_name_by_default() -> None:
    assert contact_lookup(customer(number="ACC-1"), connection()) == ContactLookup(
        field="Name", value="A. Datum Corporation"
    )


def test_i5_contacts_match_by_number_when_set() -> None:
    lookup = contact_lookup(customer(number="ACC-1"), connection(match_contacts_by_number=True))
    assert lookup == ContactLookup(field="ContactNumber", value="ACC-1")


def test_i5_match_by_number_without_a_number_gives_no_lookup() -> None:
    assert contact_lookup(customer(number=None), connection(match_contacts_by_number=True)) is None
    assert contact_lookup(customer(number="  "), connection(match_contacts_by_number=True)) is None


@pytest.mark.parametrize("by_number", [False, True])
def test_i5_remembered_contact_id_skips_the_lookup(by_number: bool) -> None:
    lookup = contact_lookup(
        customer(xero_contact_id="c-9", number="ACC-1"), connection(match_contacts_by_number=by_number)
    )
    assert lookup == ContactLookup(field="ContactID", value="c-9")


def test_i5_contact_draft_carries_name_email_phone_and_address() -> None:
    cust = customer(
        number="ACC-1",
        email="ap@adatum.example",
        phone="+44 20 7946 0000",
        address_line1="2137 Birchwood Dr",
        address_line2="Suite 4",
        city="Redmond",
        state="WA",
        postcode="78214",
        country="United States",
    )
    assert contact_draft(cust) == XeroContactDraft(
        name="A. Datum Corporation",
        contact_number="ACC-1",
        email="ap@adatum.example",
        phone="+44 20 7946 0000",
        address=XeroAddress(
            line1="2137 Birchwood Dr",
            line2="Suite 4",
            city="Redmond",
            region="WA",
            postal_code="78214",
            country="United States",
        ),
    )


def test_i5_contact_draft_without_address_sends_no_address() -> None:
    draft = contact_draft(customer(address_line1="  ", city=None))
    assert draft == XeroContactDraft(name="A. Datum Corporation")


def test_i5_contact_draft_truncates_to_xero_limits() -> None:
    draft = contact_draft(customer(name="N" * 300, number="9" * 60))
    assert (len(draft.name), len(draft.contact_number or "")) == (255, 50)


def test_i5_missing_contact_is_created_when_allowed() -> None:
    decision = decide_missing_contact(customer(), connection())
    assert (decision.action, decision.reason) == (MissingContactAction.CREATE, None)


def test_i5_missing_contact_fails_with_a_reason_when_creation_not_allowed() -> None:
    decision = decide_missing_contact(customer(), connection(create_contacts=False))
    assert decision.action == MissingContactAction.FAIL
    assert decision.reason == (
        "A. Datum Corporation is not a contact in Xero (with that name), and creating contacts is turned off "
        'for connection Contoso UK. Add the contact in Xero or turn on "Create new contacts in Xero", '
        'then set export status back to "No".'
    )


def test_i5_missing_contact_reason_names_the_number_when_matching_by_number() -> None:
    conn = connection(create_contacts=False, match_contacts_by_number=True)
    reason = decide_missing_contact(customer(number="ACC-1"), conn).reason
    assert reason is not None
    assert reason.startswith('A. Datum Corporation is not a contact in Xero (with contact number "ACC-1")')


@pytest.mark.parametrize(
    ("create", "allow_update", "just_created", "expected"),
    [
        (True, True, False, True),
        (True, True, True, False),  # a contact made a moment ago is already current
        (True, False, False, False),
        (False, True, False, False),  # "allow contact update" works only when creating contacts is allowed
        (False, False, False, False),
    ],
)
def test_c3_contact_update_needs_both_settings(
    create: bool, allow_update: bool, just_created: bool, expected: bool
) -> None:
    conn = connection(create_contacts=create, allow_contact_update=allow_update)
    assert should_update_contact(conn, just_created=just_created) is expected


WIDGET = product("WIDGET-1", "Widget", price=Decimal("19.99"), description="A blue widget")


def test_i6_product_without_item_gets_one_when_allowed() -> None:
    inv = invoice([product_line(1, WIDGET, account_code_override="250", tax_type_override="OUTPUT2")])
    assert items_to_create(inv, connection(), {}) == [
        XeroItemDraft(
            code="WIDGET-1",
            name="Widget",
            description="A blue widget",
            unit_price=Decimal("19.99"),
            sales_account_code="250",
            sales_tax_type="OUTPUT2",
        )
    ]


def test_i6_no_items_created_when_not_allowed() -> None:
    inv = invoice([product_line(1, WIDGET)])
    assert lines_needing_items(inv, connection(create_products=False), {}) == []


def test_i6_existing_items_are_used_as_they_are() -> None:
    inv = invoice([product_line(1, WIDGET)])
    assert items_to_create(inv, connection(), {"WIDGET-1": XeroItem(item_id="i-1", code="WIDGET-1")}) == []


def test_i6_write_ins_and_bundle_children_never_create_items() -> None:
    bundle = product_line(1, product("KIT-1", "Kit"), product_type=ProductType.BUNDLE)
    child = product_line(
        2,
        product("CABLE-1", "Cable"),
        product_type=ProductType.REQUIRED_BUNDLE_PRODUCT,
        parent_bundle_line_id=bundle.id,
    )
    inv = invoice([bundle, child, write_in_line(3, "Consulting")])
    assert [d.code for d in items_to_create(inv, connection(), {})] == ["KIT-1"]


def test_i6_a_product_on_two_lines_gets_one_item() -> None:
    inv = invoice([product_line(1, WIDGET), product_line(2, WIDGET, quantity=Decimal(4))])
    assert len(items_to_create(inv, connection(), {})) == 1


def test_i6_item_code_is_cut_to_30_and_name_to_50() -> None:
    long_product = product("P" * 35, "N" * 60)
    draft = item_draft(long_product, connection(), "sales")
    assert (draft.code, draft.name) == ("P" * 30, "N" * 50)


def test_i6_line_with_long_product_number_uses_the_cut_code() -> None:
    long_product = product("P" * 35, "Long")
    inv = invoice([product_line(1, long_product)])
    items = {"P" * 30: XeroItem(item_id="i-1", code="P" * 30)}
    assert items_to_create(inv, connection(), items) == []


def test_i6_item_for_a_bill_fills_purchase_details_with_purchase_default() -> None:
    draft = item_draft(WIDGET, connection(), "purchase")
    assert draft == XeroItemDraft(
        code="WIDGET-1",
        name="Widget",
        description="A blue widget",
        unit_price=Decimal("19.99"),
        purchase_account_code="300",
    )


def test_i6_item_price_falls_back_to_the_line_price() -> None:
    no_list_price = product("GADGET-1", "Gadget")
    inv = invoice([product_line(1, no_list_price, price_per_unit=Decimal("42.50"))])
    [draft] = items_to_create(inv, connection(), {})
    assert (draft.unit_price, draft.sales_account_code) == (Decimal("42.50"), "200")

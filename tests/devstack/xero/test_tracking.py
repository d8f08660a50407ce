"""Reference data through xero-python: tracking categories and options (C4, I15), tracking on lines,
archived account codes and tax rates (I16), and If-Modified-Since on Accounts (C4, B4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from xero_python.accounting import Invoice, LineItem, LineItemTracking, TrackingCategory, TrackingOption
from xero_python.exceptions import AccountingBadRequestException, NotFoundException

from devstack.xero.testing import XeroEmulatorHandle
from tests.devstack.xero.conftest import Sdk
from tests.devstack.xero.helpers import invoice, invoices, line


def categories(sdk: Sdk, **kwargs: Any) -> dict[str, Any]:
    found = sdk.accounting.get_tracking_categories(sdk.tenant_id, **kwargs).tracking_categories
    return {c.name: c for c in found}


def tracked(*pairs: tuple[str, str]) -> list[LineItemTracking]:
    return [LineItemTracking(name=name, option=option) for name, option in pairs]


def create(sdk: Sdk, *lines: LineItem) -> Invoice:
    return sdk.accounting.create_invoices(sdk.tenant_id, invoices(invoice(lines=list(lines)))).invoices[0]


def refused(sdk: Sdk, *lines: LineItem) -> str:
    with pytest.raises(AccountingBadRequestException) as error:
        create(sdk, *lines)
    return str(error.value.reason)


def test_c4_seeded_orgs_have_two_categories_and_archived_options_stay_hidden(sdk: Sdk) -> None:
    active = categories(sdk)
    assert set(active) == {"Region", "Department"}
    assert [o.name for o in active["Region"].options] == ["North", "South"]
    everything = categories(sdk, include_archived=True)
    assert {o.name: o.status for o in everything["Region"].options} == {
        "North": "ACTIVE",
        "South": "ACTIVE",
        "East": "ARCHIVED",
    }
    one = sdk.accounting.get_tracking_category(sdk.tenant_id, active["Region"].tracking_category_id)
    assert [o.name for o in one.tracking_categories[0].options] == ["North", "South", "East"]
    assert set(categories(sdk, where='Name=="region"')) == {"Region"}
    with pytest.raises(NotFoundException):
        sdk.accounting.get_tracking_category(sdk.tenant_id, "00000000-0000-0000-0000-000000000001")


def test_c4_categories_and_options_are_created_renamed_and_archived(sdk: Sdk) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    with pytest.raises(AccountingBadRequestException) as error:
        api.create_tracking_category(tid, TrackingCategory(name="Project"))
    assert error.value.reason == "You can only have 2 active tracking categories"
    department = categories(sdk)["Department"]
    archived = api.update_tracking_category(
        tid, department.tracking_category_id, TrackingCategory(status="ARCHIVED")
    ).tracking_categories[0]
    assert archived.status == "ARCHIVED" and set(categories(sdk)) == {"Region"}
    project = api.create_tracking_category(tid, TrackingCategory(name="Project")).tracking_categories[0]
    assert (project.status, project.options) == ("ACTIVE", [])
    with pytest.raises(AccountingBadRequestException):
        api.create_tracking_category(tid, TrackingCategory(name="region"))  # names are unique
    apollo = api.create_tracking_options(
        tid, project.tracking_category_id, TrackingOption(name="Apollo")
    ).options[0]
    with pytest.raises(AccountingBadRequestException) as error:
        api.create_tracking_options(tid, project.tracking_category_id, TrackingOption(name="APOLLO"))
    assert "already exists" in error.value.reason
    renamed = api.update_tracking_options(
        tid, project.tracking_category_id, apollo.tracking_option_id, TrackingOption(name="Artemis")
    ).options[0]
    assert (renamed.tracking_option_id, renamed.name) == (apollo.tracking_option_id, "Artemis")
    api.update_tracking_options(
        tid, project.tracking_category_id, apollo.tracking_option_id, TrackingOption(status="ARCHIVED")
    )
    assert categories(sdk)["Project"].options == []
    assert categories(sdk, include_archived=True)["Department"].status == "ARCHIVED"


def test_i15_line_tracking_is_matched_by_name_and_stored_with_ids(sdk: Sdk) -> None:
    region = categories(sdk)["Region"]
    north = next(o for o in region.options if o.name == "North")
    made = create(sdk, line(tracking=tracked(("region", "north"), ("Department", "Sales"))))
    stored = made.line_items[0].tracking
    assert [(t.name, t.option) for t in stored] == [("Region", "North"), ("Department", "Sales")]
    assert (stored[0].tracking_category_id, stored[0].tracking_option_id) == (
        region.tracking_category_id,
        north.tracking_option_id,
    )
    by_id = LineItemTracking(
        tracking_category_id=region.tracking_category_id, tracking_option_id=north.tracking_option_id
    )
    assert create(sdk, line(tracking=[by_id])).line_items[0].tracking[0].option == "North"
    note = LineItem(description="Delivered to the north site", tracking=tracked(("Region", "North")))
    assert create(sdk, line(), note).line_items[1].tracking[0].name == "Region"


def test_i16_line_tracking_must_exist_be_active_and_stay_within_two(sdk: Sdk) -> None:
    assert (
        refused(sdk, line(tracking=tracked(("Colour", "Red")))) == "Tracking category 'Colour' does not exist"
    )
    assert refused(sdk, line(tracking=tracked(("Region", "West")))) == (
        "Tracking option 'West' does not exist in tracking category 'Region'"
    )
    assert refused(sdk, line(tracking=tracked(("Region", "East")))) == (
        "Tracking option 'East' in tracking category 'Region' is archived and cannot be used"
    )
    assert refused(sdk, line(tracking=tracked(("Region", "North"), ("Region", "South")))) == (
        "Tracking category 'Region' is used more than once on a line"
    )
    three = tracked(("Region", "North"), ("Department", "Sales"), ("Region", "South"))
    assert refused(sdk, line(tracking=three)) == "A line item can have at most 2 tracking categories"
    department = categories(sdk)["Department"]
    sdk.accounting.update_tracking_category(
        sdk.tenant_id, department.tracking_category_id, TrackingCategory(status="ARCHIVED")
    )
    assert refused(sdk, line(tracking=tracked(("Department", "Sales")))) == (
        "Tracking category 'Department' is archived and cannot be used"
    )
    assert sdk.accounting.get_invoices(sdk.tenant_id).invoices == []


def test_i11_tracking_may_change_on_a_paid_invoice_but_is_still_checked(
    sdk: Sdk, xero: XeroEmulatorHandle
) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    made = api.create_invoices(
        tid, invoices(invoice("AUTHORISED", [line(tracking=tracked(("Region", "North")))]))
    ).invoices[0]
    xero.pay(tid, made.invoice_id)
    line_id = made.line_items[0].line_item_id
    moved = api.update_invoice(
        tid,
        made.invoice_id,
        invoices(Invoice(line_items=[LineItem(line_item_id=line_id, tracking=tracked(("Region", "South")))])),
    ).invoices[0]
    assert moved.status == "PAID" and moved.line_items[0].tracking[0].option == "South"
    with pytest.raises(AccountingBadRequestException) as error:
        api.update_invoice(
            tid,
            made.invoice_id,
            invoices(
                Invoice(line_items=[LineItem(line_item_id=line_id, tracking=tracked(("Region", "East")))])
            ),
        )
    assert "archived" in error.value.reason


def test_c4_used_categories_and_options_are_archived_not_deleted(sdk: Sdk) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    region = categories(sdk, include_archived=True)["Region"]
    create(sdk, line(tracking=tracked(("Region", "North"))))
    with pytest.raises(AccountingBadRequestException) as error:
        api.delete_tracking_category(tid, region.tracking_category_id)
    assert "archive it instead" in error.value.reason
    north, east = (next(o for o in region.options if o.name == n) for n in ("North", "East"))
    with pytest.raises(AccountingBadRequestException):
        api.delete_tracking_options(tid, region.tracking_category_id, north.tracking_option_id)
    gone = api.delete_tracking_options(tid, region.tracking_category_id, east.tracking_option_id).options[0]
    assert (gone.name, gone.status) == ("East", "DELETED")
    assert "East" not in {o.name for o in categories(sdk, include_archived=True)["Region"].options}
    department = categories(sdk)["Department"]
    deleted = api.delete_tracking_category(tid, department.tracking_category_id).tracking_categories[0]
    assert deleted.status == "DELETED" and set(categories(sdk, include_archived=True)) == {"Region"}


def test_i16_archived_account_code_and_tax_rate_are_seeded_and_refused(sdk: Sdk) -> None:
    accounts = {a.code: a.status for a in sdk.accounting.get_accounts(sdk.tenant_id).accounts}
    rates = {r.tax_type: r.status for r in sdk.accounting.get_tax_rates(sdk.tenant_id).tax_rates}
    assert accounts["999"] == "ARCHIVED" and accounts["200"] == "ACTIVE"
    assert rates["TAX001"] == "ARCHIVED" and rates["OUTPUT2"] == "ACTIVE"
    assert (
        refused(sdk, line(account="999", tax="INPUT2"))
        == "Account code '999' is not a valid code for this document."
    )
    assert "TAX001" in refused(sdk, line(tax="TAX001"))


def test_c4_accounts_honour_if_modified_since_and_tax_rates_ignore_it(
    sdk: Sdk, xero: XeroEmulatorHandle
) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    seeded = api.get_accounts(tid).accounts
    watermark = max(a.updated_date_utc for a in seeded)
    assert api.get_accounts(tid, if_modified_since=watermark).accounts == []
    xero.advance_clock(5)
    xero.edit_account(tid, "400", Name="Marketing")
    xero.edit_account(tid, "260", Status="ARCHIVED")
    xero.edit_account(tid, "470", Name="Subscriptions", Type="OVERHEADS", TaxType="INPUT2")
    changed = api.get_accounts(tid, if_modified_since=watermark).accounts
    assert [(a.code, a.name, a.status) for a in changed] == [
        ("400", "Marketing", "ACTIVE"),
        ("260", "Other Revenue", "ARCHIVED"),
        ("470", "Subscriptions", "ACTIVE"),
    ]
    xero.edit_tax_rate(tid, "ZERORATED", Status="ARCHIVED")
    headers = {
        "Authorization": f"Bearer {sdk.token['access_token']}",
        "xero-tenant-id": tid,
        "If-Modified-Since": "2999-01-01T00:00:00",  # the spec declares no If-Modified-Since on TaxRates
    }
    rates = httpx.get(f"{xero.base_url}/api.xro/2.0/TaxRates", headers=headers).json()["TaxRates"]
    assert {r["TaxType"]: r["Status"] for r in rates} == {
        "OUTPUT2": "ACTIVE",
        "INPUT2": "ACTIVE",
        "ZERORATED": "ARCHIVED",
        "NONE": "ACTIVE",
        "TAX001": "ARCHIVED",
    }
    bad = xero.control.post(f"/tenants/{tid}/accounts/610", json={"Status": "ARCHIVED"})
    assert bad.status_code == 400 and "System accounts" in bad.json()["error"]
    assert refused(sdk, line(account="260")).startswith("Account code '260'")
    assert create(sdk, line(account="470", tax="INPUT2")).total == Decimal("115")

"""Invoices through xero-python: create, numbering, tax maths, filters, status machine, summarizeErrors."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from xero_python.accounting import Contact, CurrencyCode, Invoice, LineAmountTypes, LineItem, RequestEmpty
from xero_python.exceptions import AccountingBadRequestException, NotFoundException

from tests.devstack.xero.conftest import Sdk
from tests.devstack.xero.helpers import invoice, invoices, line


def create(sdk: Sdk, inv: Invoice, **kwargs: object) -> Invoice:
    return sdk.accounting.create_invoices(sdk.tenant_id, invoices(inv), **kwargs).invoices[0]


def test_i3_accrec_gets_sequential_numbers_and_totals(sdk: Sdk) -> None:
    first = create(sdk, invoice())
    second = create(sdk, invoice())
    assert (first.invoice_number, second.invoice_number) == ("INV-0001", "INV-0002")
    assert (first.sub_total, first.total_tax, first.total) == (Decimal("100"), Decimal("15"), Decimal("115"))
    assert first.status == "DRAFT" and first.amount_due == Decimal("115")


def test_i12_accrec_number_must_be_unique_but_accpay_need_not(sdk: Sdk) -> None:
    create(sdk, invoice(invoice_number="X-1"))
    with pytest.raises(AccountingBadRequestException) as error:
        create(sdk, invoice(invoice_number="X-1"))
    assert error.value.reason == "Invoice # must be unique."
    bill = invoice(type="ACCPAY", invoice_number="B-1", lines=[line(account="400", tax="INPUT2")])
    assert create(sdk, bill).invoice_number == create(sdk, bill).invoice_number == "B-1"


def test_i4_exclusive_tax_is_rounded_per_line(sdk: Sdk) -> None:
    # 3 x 9.99 = 29.97; 15% = 4.4955 -> 4.50. Two such lines: tax 9.00 (not round(8.991) = 8.99).
    created = create(sdk, invoice(lines=[line("9.99", "3"), line("9.99", "3")]))
    assert created.sub_total == Decimal("59.94")
    assert created.total_tax == Decimal("9.00")
    assert created.total == Decimal("68.94")


def test_i4_inclusive_tax_is_extracted(sdk: Sdk) -> None:
    # 115 inclusive of 15% -> tax 15.00, net 100.00; 10.00 inclusive -> tax 1.30 (1.3043), net 8.70.
    created = create(
        sdk, invoice(lines=[line("115.00"), line("10.00")], line_amount_types=LineAmountTypes.INCLUSIVE)
    )
    assert (created.sub_total, created.total_tax, created.total) == (
        Decimal("108.7"),
        Decimal("16.3"),
        Decimal("125"),
    )


def test_i4_notax_lines_carry_no_tax(sdk: Sdk) -> None:
    created = create(sdk, invoice(lines=[line("50.00", "2")], line_amount_types=LineAmountTypes.NOTAX))
    assert (created.total_tax, created.total) == (Decimal("0"), Decimal("100"))
    assert created.line_items[0].tax_type == "NONE"


def test_i4_unitdp_4_keeps_four_decimal_unit_amounts(sdk: Sdk) -> None:
    # 1000 x 0.1234 = 123.40 at 4 dp; at the default 2 dp the unit is 0.12 and the line 120.00.
    precise = create(sdk, invoice(lines=[line("0.1234", "1000")]), unitdp=4)
    rounded = create(sdk, invoice(lines=[line("0.1234", "1000")]))
    assert precise.line_items[0].unit_amount == Decimal("0.1234")
    assert precise.sub_total == Decimal("123.4")
    assert rounded.sub_total == Decimal("120")


def test_i4_discount_rate_and_amount(sdk: Sdk) -> None:
    # 2 x 50 less 10% = 90.00, tax 13.50; 1 x 80 less 5.00 = 75.00, tax 11.25.
    created = create(
        sdk,
        invoice(
            lines=[
                line("50.00", "2", discount_rate=Decimal("10")),
                line("80.00", discount_amount=Decimal("5")),
            ]
        ),
    )
    assert [li.line_amount for li in created.line_items] == [Decimal("90"), Decimal("75")]
    assert created.total_tax == Decimal("24.75")
    assert created.total == Decimal("189.75")


def test_i4_line_with_amount_needs_account_code_description_only_does_not(sdk: Sdk) -> None:
    with pytest.raises(AccountingBadRequestException) as error:
        create(sdk, invoice(lines=[line(account=None)]))
    assert "Account code" in error.value.reason
    ok = create(sdk, invoice(lines=[line(), LineItem(description="Note: thanks for your business")]))
    assert len(ok.line_items) == 2 and ok.total == Decimal("115")


def test_i6_item_code_supplies_account_and_price(sdk: Sdk) -> None:
    created = create(sdk, invoice(lines=[LineItem(item_code="WIDGET", quantity=Decimal("2"))]))
    assert created.line_items[0].account_code == "200"
    assert created.sub_total == Decimal("50")


def test_i5_contact_by_name_is_matched_or_created(sdk: Sdk) -> None:
    a = create(sdk, invoice(contact="New Customer"))
    b = create(sdk, invoice(contact="new customer"))
    seeded = create(sdk, invoice(contact="Ridgeway University"))
    assert a.contact.contact_id == b.contact.contact_id
    numbered = sdk.accounting.get_contact_by_contact_number(sdk.tenant_id, "CUST-001").contacts[0]
    assert seeded.contact.contact_id == numbered.contact_id


def test_i3_currency_must_be_enabled(sdk: Sdk) -> None:
    assert create(sdk, invoice(currency_code=CurrencyCode.USD)).currency_code.value == "USD"
    with pytest.raises(AccountingBadRequestException) as error:
        create(sdk, invoice(currency_code=CurrencyCode.GBP))
    assert "currency GBP" in error.value.reason


def test_i10_summarized_errors_give_400_but_valid_elements_are_created(sdk: Sdk) -> None:
    with pytest.raises(AccountingBadRequestException) as error:
        sdk.accounting.create_invoices(
            sdk.tenant_id, invoices(invoice(reference="good"), invoice(lines=[line(tax="BOGUS")]))
        )
    body = error.value.error_data
    assert body["ErrorNumber"] == 10 and body["Type"] == "ValidationException"
    assert body["Elements"][0]["HasErrors"] is True and body["Elements"][0]["ValidationErrors"]
    assert [i.reference for i in sdk.accounting.get_invoices(sdk.tenant_id).invoices] == ["good"]


def test_i10_summarize_errors_false_reports_each_element(sdk: Sdk) -> None:
    result = sdk.accounting.create_invoices(
        sdk.tenant_id, invoices(invoice(), invoice(lines=[line(tax="BOGUS")])), summarize_errors=False
    )
    assert [i.status_attribute_string for i in result.invoices] == ["OK", "ERROR"]
    assert "BOGUS" in result.invoices[1].validation_errors[0].message


def test_i7_get_filters(sdk: Sdk) -> None:
    a = create(sdk, invoice(reference="alpha", status="AUTHORISED"))
    b = create(sdk, invoice(reference="beta", contact="Other Co"))
    tid = sdk.tenant_id
    api = sdk.accounting
    assert [i.invoice_id for i in api.get_invoices(tid, where='Status=="AUTHORISED"').invoices] == [
        a.invoice_id
    ]
    assert [
        i.invoice_id for i in api.get_invoices(tid, where='Status!="AUTHORISED" AND Type=="ACCREC"').invoices
    ] == [b.invoice_id]
    assert len(api.get_invoices(tid, where='Reference=="alpha" OR Reference=="beta"').invoices) == 2
    got = api.get_invoices(tid, where=f'Contact.ContactID==Guid("{b.contact.contact_id}")').invoices
    assert [i.invoice_id for i in got] == [b.invoice_id]
    assert [i.invoice_id for i in api.get_invoices(tid, where='Contact.Name=="Other Co"').invoices] == [
        b.invoice_id
    ]
    assert [i.invoice_id for i in api.get_invoices(tid, i_ds=[a.invoice_id]).invoices] == [a.invoice_id]
    assert [i.invoice_id for i in api.get_invoices(tid, invoice_numbers=[b.invoice_number]).invoices] == [
        b.invoice_id
    ]
    assert [i.invoice_id for i in api.get_invoices(tid, contact_i_ds=[a.contact.contact_id]).invoices] == [
        a.invoice_id
    ]
    assert [i.invoice_id for i in api.get_invoices(tid, statuses=["DRAFT"]).invoices] == [b.invoice_id]
    assert [i.invoice_id for i in api.get_invoices(tid, search_term="alp").invoices] == [a.invoice_id]
    summary = api.get_invoices(tid, summary_only=True).invoices
    assert all(not i.line_items for i in summary)
    page = api.get_invoices(tid, page=2, page_size=1)
    assert page.pagination.item_count == 2 and len(page.invoices) == 1


def test_b4_if_modified_since(sdk: Sdk, xero: object) -> None:
    first = create(sdk, invoice())
    later = sdk.accounting.get_invoices(sdk.tenant_id, if_modified_since=first.updated_date_utc).invoices
    assert later == []


def test_bad_where_is_a_query_parse_error(sdk: Sdk) -> None:
    with pytest.raises(AccountingBadRequestException) as error:
        sdk.accounting.get_invoices(sdk.tenant_id, where='Nonsense=="x"')
    assert error.value.error_data["Type"] == "QueryParseException"


def test_x2_status_machine(sdk: Sdk) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    draft = create(sdk, invoice())
    submitted = api.update_invoice(tid, draft.invoice_id, invoices(Invoice(status="SUBMITTED"))).invoices[0]
    assert submitted.status == "SUBMITTED"
    approved = api.update_invoice(tid, draft.invoice_id, invoices(Invoice(status="AUTHORISED"))).invoices[0]
    assert approved.status == "AUTHORISED"
    with pytest.raises(AccountingBadRequestException):
        api.update_invoice(tid, draft.invoice_id, invoices(Invoice(status="DELETED")))
    with pytest.raises(AccountingBadRequestException):
        api.update_invoice(tid, draft.invoice_id, invoices(Invoice(status="DRAFT")))
    voided = api.update_invoice(tid, draft.invoice_id, invoices(Invoice(status="VOIDED"))).invoices[0]
    assert voided.status == "VOIDED" and voided.amount_due == Decimal("0")
    with pytest.raises(AccountingBadRequestException):
        api.update_invoice(tid, draft.invoice_id, invoices(Invoice(reference="too late")))
    other = create(sdk, invoice())
    with pytest.raises(AccountingBadRequestException):
        api.update_invoice(tid, other.invoice_id, invoices(Invoice(status="VOIDED")))
    deleted = api.update_invoice(tid, other.invoice_id, invoices(Invoice(status="DELETED"))).invoices[0]
    assert deleted.status == "DELETED"


def test_i11_paid_invoice_allows_only_limited_edits(sdk: Sdk, xero: object) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    inv = create(sdk, invoice(status="AUTHORISED"))
    xero.pay(tid, inv.invoice_id)  # type: ignore[attr-defined]
    paid = api.get_invoice(tid, inv.invoice_id).invoices[0]
    assert paid.status == "PAID" and paid.amount_paid == Decimal("115") and paid.amount_due == Decimal("0")
    edited = api.update_invoice(tid, inv.invoice_id, invoices(Invoice(reference="PO-9"))).invoices[0]
    assert edited.reference == "PO-9"
    with pytest.raises(AccountingBadRequestException) as error:
        api.update_invoice(tid, inv.invoice_id, invoices(Invoice(line_items=[line("1.00")])))
    assert "payment" in error.value.reason
    with pytest.raises(AccountingBadRequestException):
        api.update_invoice(tid, inv.invoice_id, invoices(Invoice(status="VOIDED")))


def test_i11_post_updates_by_id_and_creates_without(sdk: Sdk) -> None:
    inv = create(sdk, invoice())
    result = sdk.accounting.update_or_create_invoices(
        sdk.tenant_id, invoices(Invoice(invoice_id=inv.invoice_id, reference="upd"), invoice(reference="new"))
    )
    assert [i.reference for i in result.invoices] == ["upd", "new"]
    assert result.invoices[0].invoice_id == inv.invoice_id


def test_i8_online_invoice_and_email(sdk: Sdk) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    draft = create(sdk, invoice())
    with pytest.raises(AccountingBadRequestException):
        api.get_online_invoice(tid, draft.invoice_id)
    with pytest.raises(AccountingBadRequestException):
        api.email_invoice(tid, draft.invoice_id, RequestEmpty())
    approved = create(sdk, invoice(status="AUTHORISED"))
    url = api.get_online_invoice(tid, approved.invoice_id).online_invoices[0].online_invoice_url
    assert approved.invoice_id in url
    api.email_invoice(tid, approved.invoice_id, RequestEmpty())
    assert api.get_invoice(tid, approved.invoice_id).invoices[0].sent_to_contact is True


def test_unknown_invoice_is_plain_text_404(sdk: Sdk, xero: object) -> None:
    with pytest.raises(NotFoundException):
        sdk.accounting.get_invoice(sdk.tenant_id, "00000000-0000-0000-0000-000000000001")
    raw = httpx.get(
        f"{xero.base_url}/api.xro/2.0/Invoices/00000000-0000-0000-0000-000000000001",  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {sdk.token['access_token']}", "xero-tenant-id": sdk.tenant_id},
    )
    assert raw.status_code == 404 and raw.text == "The resource you're looking for cannot be found"


def test_request_body_is_validated_against_spec(needs_spec: None, sdk: Sdk, xero: object) -> None:
    raw = httpx.put(
        f"{xero.base_url}/api.xro/2.0/Invoices",  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {sdk.token['access_token']}", "xero-tenant-id": sdk.tenant_id},
        json={"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "A"}, "Status": "NOT-A-STATUS"}]},
    )
    assert raw.status_code == 400 and raw.json()["Type"] == "PostDataInvalidException"
    assert sdk.accounting.get_invoices(sdk.tenant_id).invoices == []


def test_i11_contact_update_on_paid_invoice_is_allowed(sdk: Sdk, xero: object) -> None:
    inv = create(sdk, invoice(status="AUTHORISED"))
    xero.pay(sdk.tenant_id, inv.invoice_id)  # type: ignore[attr-defined]
    moved = sdk.accounting.update_invoice(
        sdk.tenant_id, inv.invoice_id, invoices(Invoice(contact=Contact(name="Renamed Co")))
    )
    assert moved.invoices[0].contact.name == "Renamed Co"

"""XeroClient against the Xero emulator: reference data (C4) with If-Modified-Since, tracking on lines (I15),
and credit notes raised in Dynamics (I14) with their number, tracking, allocations and lookup."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connector.adapters.xero.client import XeroClient
from connector.domain.xero_records import (
    XeroCreditNoteDraft,
    XeroInvoiceDraft,
    XeroLineItem,
    XeroLineTracking,
)
from connector.errors import NotFoundError, XeroValidationError
from connector.settings import load_settings
from devstack.xero.testing import SeededOrganisation, XeroEmulatorHandle, running_xero_emulator
from tests.fakes.storage import MemoryTokenStore
from tests.integration.xero.test_xero_client_emulator import token_set

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def xero() -> Iterator[XeroEmulatorHandle]:
    with running_xero_emulator() as handle:
        yield handle


@pytest.fixture
def org(xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> tuple[SeededOrganisation, XeroClient]:
    org = xero.seed_organisation(name=f"Org {uuid.uuid4().hex[:6]}", country="NZ")
    monkeypatch.setenv("XERO_API_BASE_URL", xero.base_url + "/api.xro/2.0")
    monkeypatch.setenv("XERO_CONNECTIONS_BASE_URL", xero.base_url)
    monkeypatch.setenv("XERO_IDENTITY_BASE_URL", xero.base_url)
    monkeypatch.setenv("XERO_CLIENT_ID", org.client_id)
    monkeypatch.setenv("XERO_CLIENT_SECRET", org.client_secret)
    store = MemoryTokenStore()
    store.save("conn", token_set(org.token))
    return org, XeroClient(load_settings(), "conn", org.tenant_id, store)


def test_c4_reference_reads_include_archived_rows(org: tuple[SeededOrganisation, XeroClient]) -> None:
    _, client = org
    rates = {rate.tax_type: rate for rate in client.get_tax_rates()}
    assert rates["TAX001"].status == "ARCHIVED" and rates["OUTPUT2"].status == "ACTIVE"
    accounts = {account.code: account for account in client.get_accounts()}
    assert accounts["999"].status == "ARCHIVED" and accounts["200"].account_id
    assert accounts["200"].updated_at is not None
    themes = client.get_branding_themes()
    assert sorted((t.sort_order, t.name) for t in themes) == [(0, "Standard"), (1, "Special Projects")]
    categories = {c.name: c for c in client.get_tracking_categories()}
    assert set(categories) == {"Region", "Department"}
    assert {o.name: o.status for o in categories["Region"].options} == {
        "North": "ACTIVE",
        "South": "ACTIVE",
        "East": "ARCHIVED",
    }


def test_c4_accounts_if_modified_since_returns_only_changes(
    xero: XeroEmulatorHandle, org: tuple[SeededOrganisation, XeroClient]
) -> None:
    seeded, client = org
    watermark = max(a.updated_at for a in client.get_accounts() if a.updated_at is not None)
    assert client.get_accounts(watermark) == []
    xero.advance_clock(5)
    xero.edit_account(seeded.tenant_id, "400", Status="ARCHIVED")
    changed = client.get_accounts(watermark)
    assert [(a.code, a.status) for a in changed] == [("400", "ARCHIVED")]
    request = [r for r in xero.request_log(tenant=seeded.tenant_id) if str(r["path"]).endswith("/Accounts")]
    assert len(request) == 3


def test_i15_invoice_lines_carry_tracking_by_name(org: tuple[SeededOrganisation, XeroClient]) -> None:
    _, client = org
    contact = client.find_contact_by_name("Ridgeway University")
    assert contact is not None
    line = XeroLineItem(
        description="Widget",
        quantity=Decimal(1),
        unit_amount=Decimal("10.00"),
        account_code="200",
        tracking=(
            XeroLineTracking(category="Region", option="North"),
            XeroLineTracking(category="Department", option="Sales"),
        ),
    )
    draft = XeroInvoiceDraft(type="ACCREC", contact_id=contact.contact_id, line_items=[line])
    created = client.create_invoice(draft, uuid.uuid4().hex)
    raw = client._accounting.get_invoice(client.tenant_id, created.invoice_id).invoices[0]  # the wire's view
    assert [(t.name, t.option) for t in raw.line_items[0].tracking] == [
        ("Region", "North"),
        ("Department", "Sales"),
    ]
    archived = line.model_copy(update={"tracking": (XeroLineTracking(category="Region", option="East"),)})
    with pytest.raises(XeroValidationError):
        client.create_invoice(draft.model_copy(update={"line_items": [archived]}), uuid.uuid4().hex)


def test_i14_credit_note_with_number_tracking_allocation_and_lookup(
    org: tuple[SeededOrganisation, XeroClient],
) -> None:
    _, client = org
    contact = client.find_contact_by_name("Ridgeway University")
    assert contact is not None
    line = XeroLineItem(
        description="Refund", quantity=Decimal(1), unit_amount=Decimal("20.00"), account_code="200"
    )
    invoice = client.create_invoice(
        XeroInvoiceDraft(
            type="ACCREC", contact_id=contact.contact_id, status="AUTHORISED", line_items=[line]
        ),
        uuid.uuid4().hex,
    )
    day = dt.date(2026, 11, 2)
    tracked = line.model_copy(update={"tracking": (XeroLineTracking(category="Region", option="South"),)})
    draft = XeroCreditNoteDraft(
        type="ACCRECCREDIT",
        contact_id=contact.contact_id,
        date=day,
        status="AUTHORISED",
        credit_note_number=f"CN-D365-{uuid.uuid4().hex[:6]}",
        line_items=[tracked],
    )
    note = client.create_credit_note(draft, uuid.uuid4().hex)
    assert (note.type, note.credit_note_number, note.total) == (
        "ACCRECCREDIT",
        draft.credit_note_number,
        invoice.total,
    )
    assert note.contact_id == contact.contact_id and note.date == day and note.allocations == ()
    client.allocate_credit_note(note.credit_note_id, invoice.invoice_id, note.total, uuid.uuid4().hex, day)
    again = client.get_credit_note(note.credit_note_id)
    assert again.remaining_credit == 0 and again.status == "PAID"
    assert [(a.invoice_id, a.amount) for a in again.allocations] == [(invoice.invoice_id, note.total)]
    found = client.find_credit_notes(contact.contact_id, day, "ACCRECCREDIT")
    assert [n.credit_note_id for n in found] == [note.credit_note_id]
    assert client.find_credit_notes(contact.contact_id, day + dt.timedelta(days=1), "ACCRECCREDIT") == []
    with pytest.raises(NotFoundError):
        client.get_credit_note(str(uuid.uuid4()))

"""The bulk look-ups the connector's backlog and back-sync use (issue 11; I2 batches, I7 "look in Xero
first", B4 reconcile): many ORs on Url, the IDs filter, and If-Modified-Since with paging, oldest change
first; and a 10,000-invoice organisation that stays quick to build and to query."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from xero_python.accounting import Contact, Contacts, CreditNote, CreditNotes, Invoice

from devstack.xero.documents import INVOICE, DocumentBook
from devstack.xero.testing import SeededOrganisation, XeroEmulatorHandle
from tests.devstack.xero.conftest import Sdk
from tests.devstack.xero.helpers import invoice, invoices, line


def dynamics_url(record_id: uuid.UUID) -> str:
    return f"https://contoso.crm6.dynamics.com/main.aspx?etn=invoice&id={record_id}&pagetype=entityrecord"


def test_i7_fifty_urls_in_one_where_find_exactly_those_invoices(sdk: Sdk, xero: XeroEmulatorHandle) -> None:
    urls = [dynamics_url(uuid.uuid4()) for _ in range(60)]
    made = sdk.accounting.create_invoices(sdk.tenant_id, invoices(*(invoice(url=u) for u in urls))).invoices
    by_url = {i.url: i.invoice_id for i in made}
    asked = urls[5:55]
    missing = [dynamics_url(uuid.uuid4()) for _ in range(3)]  # "a create may have happened": it did not
    where = " OR ".join(f'Url=="{u}"' for u in [*asked, *missing])
    cursor = xero.request_count()["last_seq"]
    found = sdk.accounting.get_invoices(sdk.tenant_id, where=where).invoices
    assert sorted(i.invoice_id for i in found) == sorted(by_url[u] for u in asked)
    assert xero.request_count(since=cursor)["count"] == 1


def test_i2_ids_filter_reads_fifty_invoices_in_one_call(sdk: Sdk) -> None:
    made = sdk.accounting.create_invoices(sdk.tenant_id, invoices(*(invoice() for _ in range(55)))).invoices
    wanted = [i.invoice_id for i in made[:50]]
    found = sdk.accounting.get_invoices(sdk.tenant_id, i_ds=wanted).invoices
    assert sorted(i.invoice_id for i in found) == sorted(wanted)
    upper = [str(i).upper() for i in wanted[:3]]
    assert len(sdk.accounting.get_invoices(sdk.tenant_id, i_ds=upper).invoices) == 3


def changed_pages(fetch: Any, records: str, key: str, size: int) -> list[list[str]]:
    """Every page of a changed-since listing, as ids (`records`: the result's list, `key`: its id)."""
    pages, page = [], 1
    while got := [getattr(r, key) for r in getattr(fetch(page=page, page_size=size), records)]:
        pages.append(got)
        page += 1
    return pages


def test_b4_invoices_changed_since_come_oldest_change_first_page_by_page(
    sdk: Sdk, xero: XeroEmulatorHandle
) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    first, second, third, untouched = api.create_invoices(
        tid, invoices(*(invoice() for _ in range(4)))
    ).invoices
    watermark = max(i.updated_date_utc for i in (first, second, third, untouched))
    for changed in (third, first, second):
        xero.advance_clock(1)
        api.update_invoice(
            tid, changed.invoice_id, invoices(Invoice(reference=f"edit {changed.invoice_number}"))
        )
    pages = changed_pages(
        lambda **p: api.get_invoices(tid, if_modified_since=watermark, **p), "invoices", "invoice_id", 2
    )
    assert pages == [[third.invoice_id, first.invoice_id], [second.invoice_id]]
    newest_first = api.get_invoices(tid, if_modified_since=watermark, order="UpdatedDateUTC DESC").invoices
    assert [i.invoice_id for i in newest_first] == [second.invoice_id, first.invoice_id, third.invoice_id]


def test_b4_contacts_and_credit_notes_changed_since_come_oldest_change_first(
    sdk: Sdk, xero: XeroEmulatorHandle
) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    a, b = api.create_contacts(tid, Contacts(contacts=[Contact(name="Alpha"), Contact(name="Beta")])).contacts
    note = CreditNote(type="ACCRECCREDIT", contact=Contact(contact_id=a.contact_id), line_items=[line()])
    n1, n2 = api.create_credit_notes(tid, CreditNotes(credit_notes=[note, note])).credit_notes
    watermark = max(r.updated_date_utc for r in (a, b, n1, n2))
    xero.advance_clock(1)
    api.update_contact(tid, b.contact_id, Contacts(contacts=[Contact(name="Beta 2")]))
    xero.advance_clock(1)
    api.update_contact(tid, a.contact_id, Contacts(contacts=[Contact(name="Alpha 2")]))
    api.update_credit_note(tid, n2.credit_note_id, CreditNotes(credit_notes=[CreditNote(reference="late")]))
    xero.advance_clock(1)
    api.update_credit_note(tid, n1.credit_note_id, CreditNotes(credit_notes=[CreditNote(reference="later")]))
    contacts = changed_pages(
        lambda **p: api.get_contacts(tid, if_modified_since=watermark, **p), "contacts", "contact_id", 1
    )
    assert contacts == [[b.contact_id], [a.contact_id]]
    notes = changed_pages(
        lambda **p: api.get_credit_notes(tid, if_modified_since=watermark, **p),
        "credit_notes",
        "credit_note_id",
        5,
    )
    assert notes == [[n2.credit_note_id, n1.credit_note_id]]


def test_i2_ten_thousand_invoices_build_and_answer_bulk_look_ups_quickly(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    tenant = xero.state.tenants[org.tenant_id]
    clock = xero.emulator.clock
    book = DocumentBook(tenant, INVOICE, clock.now(), clock.today(), lambda *_: None)
    record_ids = [uuid.uuid4() for _ in range(10_000)]
    started = time.perf_counter()
    with xero.state.lock:
        for record_id in record_ids:
            element = {
                "Type": "ACCREC",
                "Contact": {"Name": "Ridgeway University"},
                "Url": dynamics_url(record_id),
                "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}],
            }
            assert not book.save(element, doc_id=None, allow_create=True, allow_update=False).errors
    built = time.perf_counter() - started
    assert tenant.invoices and {i["InvoiceNumber"] for i in tenant.invoices.values()} >= {
        "INV-0001",
        "INV-10000",
    }
    assert built < 10, f"10,000 creates took {built:.1f}s: numbering is no longer linear"
    headers = {"Authorization": f"Bearer {org.token['access_token']}", "xero-tenant-id": org.tenant_id}
    with httpx.Client(base_url=xero.base_url + "/api.xro/2.0", headers=headers, timeout=30) as client:
        where = " OR ".join(f'Url=="{dynamics_url(r)}"' for r in record_ids[::200])
        started = time.perf_counter()
        found = client.get("/Invoices", params={"where": where, "summaryOnly": "true"}).json()["Invoices"]
        by_where = time.perf_counter() - started
        ids = ",".join(i["InvoiceID"] for i in found)
        started = time.perf_counter()
        by_ids = client.get("/Invoices", params={"IDs": ids}).json()["Invoices"]
        by_id_seconds = time.perf_counter() - started
    assert len(found) == 50 and {i["InvoiceID"] for i in by_ids} == {i["InvoiceID"] for i in found}
    assert by_where < 2 and by_id_seconds < 2, f"where {by_where:.2f}s, IDs {by_id_seconds:.2f}s"

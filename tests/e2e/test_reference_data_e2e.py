"""Reference data, tracking and credit notes end to end on devstack (C4, I14, I15, I16): the reference-data
timer fills the tables; a user's line overrides and tracking option reach the Xero invoice; an archived
account fails the invoice before any Xero call; a Dynamics credit note reaches Xero allocated to its
invoice, and comes back when Xero changes it."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.schema import INVOICE_TYPE_VALUES
from connector.adapters.storage.blob import blob_service_from_settings
from connector.adapters.storage.watermarks import BlobWatermarkStore
from connector.bootstrap import REFERENCE_STATE_CONTAINER
from connector.domain.dynamics import ExportStatus, XeroDetails
from connector.services.reference_data import last_synced
from connector.settings import get_settings
from devstack.scenario import Scenario, run, sync_history, wait_for, xero_details

pytestmark = pytest.mark.e2e

WRITES = ("POST", "PATCH", "PUT", "DELETE")


def sync_reference_data(scenario: Scenario) -> datetime:
    """Fire the reference-data timer on the host, as its schedule would, and wait until it is done."""
    state = BlobWatermarkStore(blob_service_from_settings(get_settings()), REFERENCE_STATE_CONTAINER)

    def done_at() -> datetime | None:
        return asyncio.run(last_synced(state, scenario.connection.id))["tracking_option"]

    before = done_at()
    response = httpx.post(
        f"{scenario.platform.host_url}/admin/functions/reference_data_timer",
        json={},
        headers={"x-functions-key": "local-master-key"},
    )
    assert response.status_code == 202
    finished: datetime = wait_for(lambda: (at := done_at()) is not None and at != before and at)
    return finished


def rows(scenario: Scenario, table: str) -> dict[str, dict[str, Any]]:
    assert scenario.platform.dataverse is not None
    return {row["xc_name"]: row for row in scenario.platform.dataverse.state.rows[table].values()}


def row_id(scenario: Scenario, table: str, name: str) -> str:
    return str(rows(scenario, table)[name][f"{table}id"])


def draft_invoice(scenario: Scenario, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Created without Date Delivered, so nothing is sent while the user is still picking values."""
    assert scenario.platform.dataverse is not None
    return scenario.platform.dataverse.ui_create_invoice(
        account_id=scenario.account_id("Contoso Ltd"),
        name="Tracked work",
        currency="NZD",
        lines=lines,
        **extra,
    )


def pick(line_id: str, **binds: str) -> None:
    """The user picks lookups on a line (what the line form's override fields save)."""

    async def save(client: DataverseClient) -> None:
        body = {f"{nav}@odata.bind": target for nav, target in binds.items()}
        await client.transport.send("PATCH", f"invoicedetails({line_id})", json_body=body)

    run(save)


def deliver(scenario: Scenario, invoice_id: str) -> None:
    assert scenario.platform.dataverse is not None
    scenario.platform.dataverse.ui_set_date_delivered(invoice_id, date.today())


def settled(invoice_id: str, status: ExportStatus) -> XeroDetails:
    details: XeroDetails = wait_for(
        lambda: (d := xero_details(invoice_id)) is not None and d.export_status == status and d
    )
    return details


def test_c4_timer_fills_the_tables_and_a_second_run_writes_nothing_to_dataverse(scenario: Scenario) -> None:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    sync_reference_data(scenario)
    accounts = rows(scenario, "xc_xeroaccount")
    assert accounts["200 - Sales"]["statecode"] == 0 and accounts["999 - Archived Sundry"]["statecode"] == 1
    taxes = {row["xc_taxtype"]: row["statecode"] for row in rows(scenario, "xc_xerotaxtype").values()}
    assert taxes["OUTPUT2"] == 0 and taxes["TAX001"] == 1
    assert set(rows(scenario, "xc_xerobrandingtheme")) == {"Standard", "Special Projects"}
    assert rows(scenario, "xc_xerotrackingoption")["Region: East"]["statecode"] == 1
    dataverse.clear_requests()
    sync_reference_data(scenario)
    requests = dataverse.requests()
    assert any("xc_xerotrackingoptions" in r["path"] for r in requests)  # read to compare…
    assert [r for r in requests if r["method"] in WRITES] == []  # …and nothing written


def test_i15_overrides_and_a_tracking_option_picked_in_dynamics_reach_the_xero_invoice(
    scenario: Scenario,
) -> None:
    sync_reference_data(scenario)
    created = draft_invoice(scenario, [{"write_in": "Survey", "quantity": 1, "price": "200.00"}])
    [line_id] = created["line_ids"]
    south = row_id(scenario, "xc_xerotrackingoption", "Region: South")
    pick(
        line_id,
        xc_AccountCodeId=f"/xc_xeroaccounts({row_id(scenario, 'xc_xeroaccount', '260 - Other Revenue')})",
        xc_TaxTypeId=f"/xc_xerotaxtypes({row_id(scenario, 'xc_xerotaxtype', '15% GST on Income')})",
        xc_TrackingOption1Id=f"/xc_xerotrackingoptions({south})",
    )
    deliver(scenario, created["id"])
    details = settled(created["id"], ExportStatus.YES)
    assert scenario.platform.xero is not None and details.xero_invoice_id is not None
    invoice = scenario.platform.xero.state.tenants[scenario.tenant_id].invoices[details.xero_invoice_id]
    [line] = invoice["LineItems"]
    assert (line["AccountCode"], line["TaxType"]) == ("260", "OUTPUT2")
    assert [(t["Name"], t["Option"]) for t in line["Tracking"]] == [("Region", "South")]


def test_i16_an_archived_account_fails_the_invoice_before_any_xero_call(scenario: Scenario) -> None:
    xero = scenario.platform.xero
    assert xero is not None
    sync_reference_data(scenario)
    created = draft_invoice(scenario, [{"write_in": "Sundries", "quantity": 1, "price": "20.00"}])
    pick(
        created["line_ids"][0],
        xc_AccountCodeId=f"/xc_xeroaccounts({row_id(scenario, 'xc_xeroaccount', '999 - Archived Sundry')})",
    )
    since = xero.request_count(tenant=scenario.tenant_id)["last_seq"]
    deliver(scenario, created["id"])
    settled(created["id"], ExportStatus.FAILED)
    assert sync_history(created["id"])[-1] == (
        "Not sent to Xero: Line 1: account code 999 is archived in Xero's chart of accounts. "
        'Fix the invoice, then set export status back to "No".'
    )
    work = [
        r
        for r in xero.request_log(since=since, tenant=scenario.tenant_id)
        if r["method"] in WRITES or any(p in r["path"] for p in ("/Contacts", "/Items"))
    ]
    assert work == []  # no contact lookup, no item lookup, no create: nothing reached Xero


def credit_note_for(scenario: Scenario, invoice_id: str, price: str) -> str:
    assert scenario.platform.dataverse is not None
    created = scenario.platform.dataverse.ui_create_invoice(
        account_id=scenario.account_id("Contoso Ltd"),
        name="Refund: damaged part",
        currency="NZD",
        date_delivered=date.today().isoformat(),
        lines=[{"write_in": "Damaged part", "quantity": 1, "price": price}],
        columns={
            "xc_invoicetype": INVOICE_TYPE_VALUES["credit_note"],
            "xc_CreditNoteOfId@odata.bind": f"/invoices({invoice_id})",
        },
    )
    return str(created["id"])


def synced_invoice(scenario: Scenario) -> tuple[str, XeroDetails]:
    created = draft_invoice(scenario, [{"write_in": "Parts", "quantity": 2, "price": "50.00"}])
    deliver(scenario, created["id"])
    return str(created["id"]), settled(created["id"], ExportStatus.YES)


@pytest.mark.connection(default_invoice_status="AUTHORISED")
def test_i14_a_dynamics_credit_note_reaches_xero_allocated_to_its_invoice(scenario: Scenario) -> None:
    xero = scenario.platform.xero
    assert xero is not None
    invoice_id, invoice = synced_invoice(scenario)
    note_id = credit_note_for(scenario, invoice_id, "40.00")
    note = wait_for(
        lambda: (
            (d := xero_details(note_id)) and d.export_status == ExportStatus.YES and d.credit_note_id and d
        )
    )
    tenant = xero.state.tenants[scenario.tenant_id]
    [in_xero] = [n for n in tenant.credit_notes.values() if n["CreditNoteID"] == note.credit_note_id]
    assert (in_xero["Type"], in_xero["Total"]) == ("ACCRECCREDIT", Decimal("46.00"))
    assert [(a["Invoice"]["InvoiceID"], a["Amount"]) for a in in_xero["Allocations"]] == [
        (invoice.xero_invoice_id, Decimal("46.00"))
    ]
    assert (note.xero_status, note.amount_due) == ("PAID", Decimal("0"))
    assert sync_history(note_id)[-2:] == [
        f"Created Xero credit note {note.credit_note_number} as AUTHORISED, total NZD 46.00.",
        f"Xero credit note {note.credit_note_number} was allocated to invoice {invoice.xero_invoice_number}: "
        "NZD 46.00.",
    ]
    # The invoice it credits comes back too: Xero's amount due after the allocation.
    wait_for(lambda: (d := xero_details(invoice_id)) and d.amount_due == Decimal("69.00"))
    assert not [
        i
        for i in tenant.invoices.values()
        if str(i.get("Url", "")).endswith(f"id={note_id}&pagetype=entityrecord")
    ]


def test_i14_a_draft_credit_note_comes_back_when_xero_approves_it_and_is_then_allocated(
    scenario: Scenario,
) -> None:
    xero = scenario.platform.xero
    assert xero is not None
    invoice_id, invoice = synced_invoice(scenario)
    assert invoice.xero_invoice_id is not None
    xero.approve(scenario.tenant_id, invoice.xero_invoice_id)
    note_id = credit_note_for(scenario, invoice_id, "40.00")
    note = wait_for(lambda: (d := xero_details(note_id)) and d.export_status == ExportStatus.YES and d)
    assert note.xero_status == "DRAFT" and note.credit_note_id is not None
    assert "once it is approved there" in sync_history(note_id)[-1]
    xero.approve(scenario.tenant_id, note.credit_note_id, kind="credit-notes")  # a Xero user approves it
    back = wait_for(lambda: (d := xero_details(note_id)) and d.xero_status == "PAID" and d)
    assert back.amount_due == Decimal("0")
    said = (
        f"Xero credit note {note.credit_note_number} was allocated to invoice {invoice.xero_invoice_number}"
    )
    assert any(line.startswith(said) for line in sync_history(note_id))


def test_c4_i14_i15_the_demo_act_shows_reference_data_a_tracked_line_and_a_credit_note(
    scenario: Scenario,
) -> None:
    from rich.console import Console

    from devstack.demo_reference_data import show_reference_data

    console = Console(record=True, width=200)
    shown = show_reference_data(scenario, console)
    text = console.export_text()
    assert "Reference data from Xero, in Dynamics" in text and "Region: East" in text
    assert "Region: South" in text and "260" in text  # the tracked line, as Xero has it
    assert shown is True  # allocated once Xero approves it: back-sync hands credit notes over
    assert "allocated" in text

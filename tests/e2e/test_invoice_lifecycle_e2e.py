"""After the first create, on devstack (issue 14): updates by Xero's rules (I11), email once (I8), and a
backfill that is safe on a live tenant (I1). Dynamics UI → webhook → queue → handler → Xero emulator.

One test per row of the update rules; each starts a fresh platform (about 20 s), so the file stays
within a few minutes.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.schema import INVOICE_TYPE_VALUES
from connector.adapters.storage.blob import blob_service_from_settings
from connector.adapters.storage.token_store import BlobTokenStore
from connector.adapters.xero.client import XeroClient
from connector.domain.dynamics import ExportStatus, XeroDetails
from connector.domain.xero_records import XeroInvoiceDraft, XeroLineItem
from connector.settings import get_settings
from connector.setup.cli import app
from devstack.scenario import Scenario, run, sync_history, wait_for, xero_details
from tests.e2e.test_reference_data_e2e import pick, row_id, sync_reference_data

pytestmark = pytest.mark.e2e

UPDATED = "with the changes from Dynamics."


def create(scenario: Scenario, *, price: str = "100.00", name: str = "Consulting", **extra: Any) -> str:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    created = dataverse.ui_create_invoice(
        account_id=scenario.account_id("Contoso Ltd"),
        name=name,
        currency="NZD",
        description="Consulting, November",
        date_delivered=date.today().isoformat(),
        lines=[
            {
                "write_in": "Consulting",
                "quantity": "1",
                "price": price,
                "tax": str(Decimal(price) * Decimal("0.15")),
            }
        ],
        **extra,
    )
    return str(created["id"])


def exported(invoice_id: str) -> XeroDetails:
    details: XeroDetails = wait_for(
        lambda: (d := xero_details(invoice_id)) is not None and d.export_status == ExportStatus.YES and d
    )
    return details


def in_xero(scenario: Scenario, xero_id: str | None) -> dict[str, Any]:
    assert scenario.platform.xero is not None and xero_id is not None
    return scenario.platform.xero.state.tenants[scenario.tenant_id].invoices[xero_id]


def ready_to_update(details: XeroDetails) -> None:
    """The user sets export status "Ready to update" on the invoice's Xero details."""

    async def work(client: DataverseClient) -> None:
        await client.update_xero_details(details.id, {"export_status": ExportStatus.READY_TO_UPDATE}, None)

    run(work)


def history_line(invoice_id: str, text: str, timeout: float = 30) -> list[str]:
    lines: list[str] = wait_for(
        lambda: (h := sync_history(invoice_id)) and any(text in line for line in h) and h, timeout
    )
    return lines


def edit_line(line_id: str, **columns: Any) -> None:
    async def work(client: DataverseClient) -> None:
        await client.transport.send("PATCH", f"invoicedetails({line_id})", json_body=columns)

    run(work)


def line_ids(scenario: Scenario, invoice_id: str) -> list[str]:
    assert scenario.platform.dataverse is not None
    rows = scenario.platform.dataverse.state.rows["invoicedetail"].values()
    return [
        str(row["invoicedetailid"])
        for row in rows
        if str(getattr(row.get("invoiceid"), "id", "")) == invoice_id
    ]


def emails(scenario: Scenario, xero_id: str | None) -> int:
    assert scenario.platform.xero is not None
    counted = scenario.platform.xero.request_count(
        tenant=scenario.tenant_id, method="POST", path=f"/Invoices/{xero_id}/Email$"
    )
    return int(counted["count"])


def run_sweep(scenario: Scenario) -> None:
    response = httpx.post(
        f"{scenario.platform.host_url}/admin/functions/sweep_timer",
        json={},
        headers={"x-functions-key": "local-master-key"},
    )
    assert response.status_code == 202


# --- I11: one per row of the update rules ------------------------------------------------------------------


@pytest.mark.connection(allow_invoice_update=True)
def test_i11_a_draft_edit_reaches_xero_in_place(scenario: Scenario) -> None:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    invoice_id = create(scenario)
    details = exported(invoice_id)
    before = in_xero(scenario, details.xero_invoice_id)
    dataverse.ui_edit_invoice(invoice_id, description="Consulting, November and December")
    edit_line(line_ids(scenario, invoice_id)[0], quantity="2")
    ready_to_update(details)
    history_line(invoice_id, UPDATED)
    after = in_xero(scenario, details.xero_invoice_id)
    assert (after["Status"], after["Reference"], after["Total"]) == (
        "DRAFT",
        "Consulting, November and December",
        Decimal("230.00"),
    )
    assert [li["LineItemID"] for li in after["LineItems"]] == [li["LineItemID"] for li in before["LineItems"]]
    assert exported(invoice_id).total == Decimal("230.00")


@pytest.mark.connection(allow_invoice_update=True, default_invoice_status="AUTHORISED")
def test_i11_an_authorised_edit_takes_everything_but_a_step_back(scenario: Scenario) -> None:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    invoice_id = create(scenario)
    details = exported(invoice_id)
    edit_line(line_ids(scenario, invoice_id)[0], priceperunit="120.00")
    dataverse.ui_edit_invoice(invoice_id, description="Consulting, revised price")
    ready_to_update(details)
    history_line(invoice_id, UPDATED)
    after = in_xero(scenario, details.xero_invoice_id)
    assert (after["Status"], after["Reference"], after["Total"], after["AmountDue"]) == (
        "AUTHORISED",
        "Consulting, revised price",
        Decimal("138.00"),
        Decimal("138.00"),
    )


@pytest.mark.connection(allow_invoice_update=True, default_invoice_status="AUTHORISED")
def test_i11_a_part_paid_invoice_takes_text_dates_and_line_fields_and_keeps_its_amounts(
    scenario: Scenario,
) -> None:
    dataverse, xero = scenario.platform.dataverse, scenario.platform.xero
    assert dataverse is not None and xero is not None
    sync_reference_data(scenario)  # account codes and tracking options to pick on the line
    invoice_id = create(scenario)
    details = exported(invoice_id)
    xero.pay(scenario.tenant_id, details.xero_invoice_id or "", "40.00")
    new_due = date.today() + timedelta(days=45)
    dataverse.ui_edit_invoice(invoice_id, description="Consulting, paid in part", duedate=new_due.isoformat())
    [line_id] = line_ids(scenario, invoice_id)
    edit_line(line_id, description="Senior consultant", priceperunit="150.00")
    other_revenue = row_id(scenario, "xc_xeroaccount", "260 - Other Revenue")
    south = row_id(scenario, "xc_xerotrackingoption", "Region: South")
    pick(
        line_id,
        xc_AccountCodeId=f"/xc_xeroaccounts({other_revenue})",
        xc_TrackingOption1Id=f"/xc_xerotrackingoptions({south})",
    )
    ready_to_update(details)
    lines = history_line(invoice_id, "has payments")
    after = in_xero(scenario, details.xero_invoice_id)
    assert (after["Reference"], after["DueDate"]) == ("Consulting, paid in part", new_due)
    [line] = after["LineItems"]
    assert (line["Description"], line["AccountCode"]) == ("Consulting\nSenior consultant", "260")
    assert [(t["Name"], t["Option"]) for t in line["Tracking"]] == [("Region", "South")]
    assert (line["UnitAmount"], after["Total"], after["AmountDue"]) == (
        Decimal("100.00"),
        Decimal("115.00"),
        Decimal("75.00"),
    )
    assert any(UPDATED in text for text in lines)
    assert "the unit price of line 1 stayed as they are in Xero" in lines[-1]
    written = exported(invoice_id)
    assert (written.amount_paid, written.amount_due) == (Decimal("40.00"), Decimal("75.00"))
    invoice = run(lambda client: client.get_invoice_snapshot(uuid.UUID(invoice_id))).invoice
    assert invoice.amount_due == Decimal("75.00")  # shown on the Dynamics invoice too


@pytest.mark.connection(allow_invoice_update=True, default_invoice_status="AUTHORISED")
def test_i11_a_paid_bill_is_refused_with_sync_history(scenario: Scenario) -> None:
    dataverse, xero = scenario.platform.dataverse, scenario.platform.xero
    assert dataverse is not None and xero is not None
    invoice_id = create(scenario, columns={"xc_invoicetype": INVOICE_TYPE_VALUES["purchase"]})
    details = exported(invoice_id)
    assert in_xero(scenario, details.xero_invoice_id)["Type"] == "ACCPAY"
    dataverse.ui_edit_invoice(invoice_id, description="Too late to change")
    xero.pay(scenario.tenant_id, details.xero_invoice_id or "")
    since = xero.request_count(tenant=scenario.tenant_id)["last_seq"]
    ready_to_update(details)
    history_line(invoice_id, "The bill is paid in Xero; paid bills are never updated.")
    assert exported(invoice_id).export_status == ExportStatus.YES
    writes = [r for r in xero.request_log(since=since, tenant=scenario.tenant_id) if r["method"] != "GET"]
    assert writes == []  # read, and nothing sent


# --- I8: email once --------------------------------------------------------------------------------------


@pytest.mark.connection(default_invoice_status="AUTHORISED", send_email=True)
def test_i8_an_invoice_created_authorised_is_emailed_once(scenario: Scenario) -> None:
    invoice_id = create(scenario)
    details = wait_for(lambda: (d := xero_details(invoice_id)) and d.emailed_on and d)
    assert in_xero(scenario, details.xero_invoice_id)["SentToContact"] is True
    run_sweep(scenario)
    history_line(invoice_id, "was emailed to the customer from Xero.")
    assert emails(scenario, details.xero_invoice_id) == 1


@pytest.mark.connection(send_email=True)
def test_i8_an_invoice_approved_later_in_xero_is_emailed_once(scenario: Scenario) -> None:
    xero = scenario.platform.xero
    assert xero is not None
    invoice_id = create(scenario)
    details = exported(invoice_id)
    assert emails(scenario, details.xero_invoice_id) == 0
    xero.advance_clock(60)  # a person, a minute later: not the echo of the connector's own write
    xero.approve(scenario.tenant_id, details.xero_invoice_id or "")
    wait_for(lambda: (d := xero_details(invoice_id)) and d.emailed_on)
    lines = history_line(invoice_id, "was emailed")
    assert any("is now AUTHORISED in Xero" in text for text in lines)
    assert emails(scenario, details.xero_invoice_id) == 1


@pytest.mark.connection(default_invoice_status="AUTHORISED", send_email=True)
def test_i8_an_email_that_fails_is_a_warning_then_sent_by_the_sweep_never_twice(scenario: Scenario) -> None:
    xero = scenario.platform.xero
    assert xero is not None
    xero.add_fault("status", method="POST", path="/Email$", status=503)
    invoice_id = create(scenario)
    history_line(invoice_id, "could not be emailed from Xero yet")
    pending = wait_for(lambda: (d := xero_details(invoice_id)) and d.email_pending and d)
    assert pending.emailed_on is None
    run_sweep(scenario)
    wait_for(lambda: (d := xero_details(invoice_id)) and d.emailed_on)
    run_sweep(scenario)
    history_line(invoice_id, "was emailed to the customer from Xero.")
    assert emails(scenario, pending.xero_invoice_id) == 2  # the 503, then the one email


# --- I1: a backfill on a tenant that already holds some of the invoices ---------------------------------


@pytest.mark.env(
    **{"AzureWebJobs.invoice_sync.Disabled": "true", "AzureWebJobs.sweep_timer.Disabled": "true"}
)
def test_i1_backfill_dry_run_then_run_then_sweep_links_what_xero_has_and_sends_the_rest_once(
    scenario: Scenario,
) -> None:
    """Invoices from before the connector: two of them were entered in Xero by hand already."""
    dataverse, xero = scenario.platform.dataverse, scenario.platform.xero
    assert dataverse is not None and xero is not None
    bill = {"columns": {"xc_invoicetype": INVOICE_TYPE_VALUES["purchase"]}}
    sale_in_xero, sale_new = create(scenario), create(scenario, price="80.00")
    bill_in_xero = create(scenario, price="60.00", name="SUP-4411", **bill)
    bill_other_total = create(scenario, price="61.00", name="SUP-4412", **bill)
    cancelled = create(scenario, price="10.00")
    dataverse.ui_cancel(cancelled)
    rows = dataverse.state.rows["invoice"]
    by_hand = {
        "sale": _enter_in_xero(scenario, "ACCREC", rows[sale_in_xero]["invoicenumber"], Decimal("100.00")),
        "bill": _enter_in_xero(scenario, "ACCPAY", "SUP-4411", Decimal("60.00")),  # 69.00, as in Dynamics
        "other": _enter_in_xero(scenario, "ACCPAY", "SUP-4412", Decimal("99.00")),  # not 70.15: another bill
    }
    runner = CliRunner(env={"COLUMNS": "250"})
    dry = runner.invoke(app, ["backfill-xero-details", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would create 2 (export status No" in dry.output and "link 2 (already in Xero" in dry.output
    assert "skip 1; 0 already had Xero details. 5 invoice(s) in all." in dry.output
    assert all(xero_details(i) is None for i in (sale_in_xero, sale_new, bill_in_xero, cancelled))

    real = runner.invoke(app, ["backfill-xero-details"])
    assert real.exit_code == 0, real.output
    assert "Created 2 (export status No" in real.output and "linked 2 (already in Xero" in real.output
    linked = xero_details(sale_in_xero)
    assert linked is not None and (linked.export_status, linked.xero_invoice_id) == (
        ExportStatus.YES,
        by_hand["sale"],
    )
    assert (xero_details(bill_in_xero) or linked).xero_invoice_id == by_hand["bill"]
    assert xero_details(cancelled) is None

    again = runner.invoke(app, ["backfill-xero-details"])
    assert "Created 0" in again.output and "4 already had Xero details" in again.output

    run_sweep(scenario)
    sent = [exported(i) for i in (sale_new, bill_other_total)]
    tenant = xero.state.tenants[scenario.tenant_id]
    assert len(tenant.invoices) == 3 + 2  # the three entered by hand, and the two sent by the sweep
    assert {s.xero_invoice_id for s in sent}.isdisjoint(by_hand.values())
    numbers = [i.get("InvoiceNumber") for i in tenant.invoices.values() if i["Type"] == "ACCREC"]
    assert len(numbers) == len(set(numbers))


def _enter_in_xero(scenario: Scenario, type_: str, number: str, net: Decimal) -> str:
    """What a person typed into Xero before the connector: an approved invoice or bill for Contoso Ltd
    with this number, one line of `net` plus 15% GST."""
    settings = get_settings()
    store = BlobTokenStore(blob_service_from_settings(settings), settings.token_container)
    client = XeroClient(settings, str(scenario.connection.id), scenario.tenant_id, store)
    line = XeroLineItem(
        description="Entered by hand",
        quantity=Decimal(1),
        unit_amount=net,
        account_code="200" if type_ == "ACCREC" else "300",
    )
    draft = XeroInvoiceDraft(
        type=type_, contact_name="Contoso Ltd", invoice_number=number, status="AUTHORISED", line_items=[line]
    )
    return client.create_invoice(draft, f"by-hand-{uuid.uuid4()}").invoice_id

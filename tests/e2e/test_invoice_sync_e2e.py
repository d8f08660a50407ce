"""Invoice sync end to end on devstack: Dataverse webhook → queue → Xero invoice → written back (I2, I7)."""

from __future__ import annotations

import time
from datetime import date

import httpx
import pytest

from connector.adapters.dataverse.client import DataverseClient
from connector.domain.dynamics import ExportStatus, XeroDetails
from devstack.scenario import Scenario, run, wait_for, xero_details

pytestmark = pytest.mark.e2e


def test_i2_webhook_to_queue_to_xero_invoice(scenario: Scenario) -> None:
    dataverse, xero = scenario.platform.dataverse, scenario.platform.xero
    assert dataverse is not None and xero is not None
    created = dataverse.ui_create_invoice(
        account_id=scenario.account_id("Contoso Ltd"),
        name="Website rebuild",
        currency="NZD",
        date_delivered=date.today().isoformat(),
        lines=[
            {"product_number": "WID-001", "quantity": 3, "price": "10.00"},
            {"write_in": "Design work", "quantity": 2, "price": "150.00"},
        ],
    )
    details = wait_for(
        lambda: (d := xero_details(created["id"])) is not None and d.export_status == ExportStatus.YES and d,
        timeout=30,
    )
    tenant = xero.state.tenants[scenario.tenant_id]
    invoices = [i for i in tenant.invoices.values() if i["InvoiceID"] == details.xero_invoice_id]
    assert len(invoices) == 1
    assert details.xero_invoice_number == invoices[0]["InvoiceNumber"]


def create(scenario: Scenario, **overrides: object) -> str:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    body: dict[str, object] = {
        "account_id": scenario.account_id("Contoso Ltd"),
        "name": "Consulting",
        "currency": "NZD",
        "date_delivered": date.today().isoformat(),
        "lines": [{"write_in": "Consulting", "quantity": "1", "price": "100.00", "tax": "15.00"}],
        **overrides,
    }
    return str(dataverse.ui_create_invoice(**body)["id"])


def exported(invoice_id: str) -> XeroDetails:
    details: XeroDetails = wait_for(
        lambda: (d := xero_details(invoice_id)) is not None and d.export_status == ExportStatus.YES and d
    )
    return details


def xero_invoices_for(scenario: Scenario, invoice_id: str) -> list[dict[str, object]]:
    assert scenario.platform.xero is not None
    tenant = scenario.platform.xero.state.tenants[scenario.tenant_id]
    return [i for i in tenant.invoices.values() if invoice_id in str(i.get("Url", ""))]


def run_sweep(scenario: Scenario) -> None:
    response = httpx.post(
        f"{scenario.platform.host_url}/admin/functions/sweep_timer",
        json={},
        headers={"x-functions-key": "local-master-key"},
    )
    assert response.status_code == 202


@pytest.mark.env(**{"AzureWebJobs.invoice_sync.Disabled": "true"})
def test_i2_sweep_catches_an_invoice_whose_webhooks_were_lost(scenario: Scenario) -> None:
    invoice_id = create(scenario)
    time.sleep(1)
    assert xero_details(invoice_id) is None  # nothing processed the webhook messages
    run_sweep(scenario)
    details = exported(invoice_id)
    assert [i["InvoiceID"] for i in xero_invoices_for(scenario, invoice_id)] == [details.xero_invoice_id]


def test_i10_failure_then_fix_then_retry(scenario: Scenario) -> None:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    invoice_id = create(scenario, currency="GBP")  # not enabled in the Xero organisation
    failed = wait_for(
        lambda: (d := xero_details(invoice_id)) is not None and d.export_status == ExportStatus.FAILED and d
    )
    nzd = scenario.dynamics["currencies"]["NZD"]
    dataverse.ui_edit_invoice(
        invoice_id, **{"transactioncurrencyid@odata.bind": f"/transactioncurrencies({nzd})"}
    )

    async def set_no(client: DataverseClient) -> None:
        await client.update_xero_details(failed.id, {"export_status": ExportStatus.NO}, None)

    run(set_no)  # the user sets export status back to "No": the webhook retries at once
    exported(invoice_id)
    assert len(xero_invoices_for(scenario, invoice_id)) == 1


def test_o3_a_429_from_xero_is_waited_out(scenario: Scenario) -> None:
    xero = scenario.platform.xero
    assert xero is not None
    xero.add_fault("rate_limit", method="PUT", path="/Invoices", retry_after=2, problem="minute")
    invoice_id = create(scenario)
    exported(invoice_id)
    assert len(xero_invoices_for(scenario, invoice_id)) == 1
    statuses = [
        r["status"] for r in xero.request_log() if r["method"] == "PUT" and r["path"].endswith("/Invoices")
    ]
    assert statuses[0] == 429 and statuses[-1] == 200


def test_no_duplicate_after_xero_commits_then_times_out(scenario: Scenario) -> None:
    xero = scenario.platform.xero
    assert xero is not None
    xero.add_fault("commit_then_timeout", method="PUT", path="/Invoices", delay=5)
    invoice_id = create(scenario)
    details = wait_for(
        lambda: (d := xero_details(invoice_id)) is not None and d.export_status == ExportStatus.YES and d,
        timeout=60,
    )
    invoices = xero_invoices_for(scenario, invoice_id)
    assert [i["InvoiceID"] for i in invoices] == [details.xero_invoice_id]  # exactly one, adopted or replayed

"""Invoice sync end to end on devstack: Dataverse webhook → queue → Xero invoice → written back (I2, I7)."""

from __future__ import annotations

from datetime import date

import pytest

from connector.domain.dynamics import ExportStatus
from devstack.scenario import Scenario, wait_for, xero_details

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

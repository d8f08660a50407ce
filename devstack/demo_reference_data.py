"""The demo's reference-data act (C4, I14, I15): Xero's tax rates, accounts, branding themes and tracking in
Dynamics; a line with an account, a tax type and a tracking option picked from them, in Xero; and a credit
note raised in Dynamics, in Xero and allocated to the invoice it credits.

`show_reference_data(scenario, console)` runs it on a platform `devstack.scenario.set_up` prepared and
prints three tables; `make demo` can call it after its own acts.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.schema import INVOICE_TYPE_VALUES
from connector.adapters.storage.blob import blob_service_from_settings
from connector.adapters.storage.watermarks import BlobWatermarkStore
from connector.bootstrap import REFERENCE_STATE_CONTAINER
from connector.domain.dynamics import ExportStatus, XeroDetails
from connector.services.reference_data import last_synced
from connector.settings import get_settings
from devstack.scenario import Scenario, run, sync_history, wait_for, xero_details

TABLES = {
    "xc_xerotaxtype": "Tax rates",
    "xc_xeroaccount": "Chart of accounts",
    "xc_xerobrandingtheme": "Branding themes",
    "xc_xerotrackingcategory": "Tracking categories",
    "xc_xerotrackingoption": "Tracking options",
}


def sync_reference_data(scenario: Scenario, timeout: float = 30.0) -> datetime:
    """Fire the reference-data timer on the host, as its daily schedule would; wait until it is done."""
    state = BlobWatermarkStore(blob_service_from_settings(get_settings()), REFERENCE_STATE_CONTAINER)

    def done_at() -> datetime | None:
        return asyncio.run(last_synced(state, scenario.connection.id))["tracking_option"]

    before = done_at()
    response = httpx.post(
        f"{scenario.platform.host_url}/admin/functions/reference_data_timer",
        json={},
        headers={"x-functions-key": "local-master-key"},
    )
    response.raise_for_status()
    finished: datetime = wait_for(lambda: (at := done_at()) is not None and at != before and at, timeout)
    return finished


def _rows(scenario: Scenario, table: str) -> list[dict[str, Any]]:
    assert scenario.platform.dataverse is not None
    return list(scenario.platform.dataverse.state.rows[table].values())


def _row_id(scenario: Scenario, table: str, name: str) -> str:
    return next(str(row[f"{table}id"]) for row in _rows(scenario, table) if row["xc_name"] == name)


def reference_table(scenario: Scenario) -> Table:
    table = Table(title="Reference data from Xero, in Dynamics", show_lines=True)
    for column in ("Table", "Active rows", "Inactive (archived or deleted in Xero)"):
        table.add_column(column)
    for name, label in TABLES.items():
        rows = _rows(scenario, name)
        active = sorted(str(r["xc_name"]) for r in rows if r.get("statecode", 0) == 0)
        inactive = sorted(str(r["xc_name"]) for r in rows if r.get("statecode", 0) != 0)
        table.add_row(label, ", ".join(active), ", ".join(inactive) or "-")
    return table


def _settled(invoice_id: str, timeout: float = 30.0) -> XeroDetails:
    details: XeroDetails = wait_for(
        lambda: (d := xero_details(invoice_id)) is not None and d.export_status == ExportStatus.YES and d,
        timeout,
    )
    return details


def tracked_invoice(scenario: Scenario) -> tuple[str, XeroDetails]:
    """A user creates an invoice, picks an account, a tax type and a tracking option on its line, then sets
    Date Delivered: the connector sends it with them."""
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    created = dataverse.ui_create_invoice(
        account_id=scenario.account_id("Contoso Ltd"),
        name="Site survey (tracked)",
        currency="NZD",
        lines=[{"write_in": "Site survey", "quantity": 1, "price": "200.00", "tax": "30.00"}],
    )
    binds = {
        "xc_AccountCodeId": f"/xc_xeroaccounts({_row_id(scenario, 'xc_xeroaccount', '260 - Other Revenue')})",
        "xc_TaxTypeId": f"/xc_xerotaxtypes({_row_id(scenario, 'xc_xerotaxtype', '15% GST on Income')})",
        "xc_TrackingOption1Id": (
            f"/xc_xerotrackingoptions({_row_id(scenario, 'xc_xerotrackingoption', 'Region: South')})"
        ),
    }

    async def pick(client: DataverseClient) -> None:
        body = {f"{nav}@odata.bind": target for nav, target in binds.items()}
        await client.transport.send("PATCH", f"invoicedetails({created['line_ids'][0]})", json_body=body)

    run(pick)
    dataverse.ui_set_date_delivered(created["id"], date.today())
    return str(created["id"]), _settled(created["id"])


def tracked_table(scenario: Scenario, details: XeroDetails) -> Table:
    assert scenario.platform.xero is not None and details.xero_invoice_id is not None
    invoice = scenario.platform.xero.state.tenants[scenario.tenant_id].invoices[details.xero_invoice_id]
    table = Table(title=f"Xero invoice {details.xero_invoice_number}: its line", show_lines=True)
    for column in ("Description", "Account", "Tax type", "Tracking"):
        table.add_column(column)
    for line in invoice["LineItems"]:
        tracking = ", ".join(f"{t['Name']}: {t['Option']}" for t in line.get("Tracking") or []) or "-"
        table.add_row(
            str(line.get("Description")), str(line.get("AccountCode")), str(line.get("TaxType")), tracking
        )
    return table


def credit_note(
    scenario: Scenario, invoice_id: str, invoice: XeroDetails, timeout: float = 45.0
) -> tuple[Table, bool]:
    """The invoice is approved in Xero; a credit note raised in Dynamics names it, reaches Xero (as a
    draft, the connection's default status) and, once a Xero user approves it, is allocated to it."""
    xero, dataverse = scenario.platform.xero, scenario.platform.dataverse
    assert xero is not None and dataverse is not None and invoice.xero_invoice_id is not None
    xero.approve(scenario.tenant_id, invoice.xero_invoice_id)
    created = dataverse.ui_create_invoice(
        account_id=scenario.account_id("Contoso Ltd"),
        name="Refund: survey shortened",
        currency="NZD",
        date_delivered=date.today().isoformat(),
        lines=[{"write_in": "Survey shortened", "quantity": 1, "price": "50.00", "tax": "7.50"}],
        columns={
            "xc_invoicetype": INVOICE_TYPE_VALUES["credit_note"],
            "xc_CreditNoteOfId@odata.bind": f"/invoices({invoice_id})",
        },
    )
    note_id = str(created["id"])
    note = _settled(note_id, timeout)
    if note.credit_note_id and note.xero_status in ("DRAFT", "SUBMITTED"):
        xero.approve(scenario.tenant_id, note.credit_note_id, kind="credit-notes")
        try:
            note = wait_for(lambda: (d := xero_details(note_id)) and d.xero_status == "PAID" and d, 15)
        except TimeoutError:
            note = xero_details(note_id) or note
    table = Table(title="A credit note raised in Dynamics", show_lines=True)
    for column in ("Dynamics", "Xero credit note", "Status", "Credit left", "Sync history on allocation"):
        table.add_column(column, overflow="fold")
    history = sync_history(note_id)
    said = next((h for h in reversed(history) if "allocat" in h), history[-1] if history else "")
    table.add_row(
        "Refund: survey shortened",
        str(note.credit_note_number),
        str(note.xero_status),
        str(note.amount_due),
        said,
    )
    return table, note.xero_status == "PAID" and note.amount_due == 0


def show_reference_data(scenario: Scenario, console: Console) -> bool:
    """The whole act; True when the tracked line and an allocated credit note reached Xero."""
    with console.status("Pulling tax rates, accounts, branding themes and tracking from Xero…"):
        sync_reference_data(scenario)
    console.print(reference_table(scenario))
    with console.status("A line with an account, a tax type and a tracking option, to Xero…"):
        invoice_id, details = tracked_invoice(scenario)
    console.print(tracked_table(scenario, details))
    with console.status("A credit note raised in Dynamics, to Xero and allocated…"):
        table, allocated = credit_note(scenario, invoice_id, details)
    console.print(table)
    assert scenario.platform.xero is not None and details.xero_invoice_id is not None
    line = scenario.platform.xero.state.tenants[scenario.tenant_id].invoices[details.xero_invoice_id][
        "LineItems"
    ][0]
    return allocated and bool(line.get("Tracking"))

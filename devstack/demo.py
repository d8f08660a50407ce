"""`make demo`: the whole round trip on the local platform, acting as a user in Dynamics, then a table."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from connector.adapters.dataverse import DataverseClient
from connector.domain.dynamics import ExportStatus, XeroDetails
from connector.provisioning.schema import INVOICE_TYPE_VALUES
from connector.settings import get_settings
from devstack.platform import LocalPlatform
from devstack.scenario import Scenario, run, set_up, wait_for

# Wide enough for the table even when output is not a terminal (CI logs, pipes).
console = Console(width=200)
GST = Decimal("0.15")


@dataclass
class Case:
    title: str
    invoice_id: str = ""
    number: str = ""
    expect: set[ExportStatus] = field(default_factory=lambda: {ExportStatus.YES})


def line(
    product: str | None = None, *, write_in: str | None = None, qty: str = "1", price: str, **extra: Any
) -> dict[str, Any]:
    """A Dynamics line with its tax worked out as Dynamics would (15% GST, per line)."""
    amount = Decimal(qty) * Decimal(price) - Decimal(extra.get("discount", "0"))
    body: dict[str, Any] = {
        "quantity": qty,
        "price": price,
        "tax": str((amount * GST).quantize(Decimal("0.01"))),
    }
    if product is not None:
        body["product_number"] = product
    if write_in is not None:
        body["write_in"] = write_in
    body.update(extra)
    return body


def create_invoices(scenario: Scenario, today: date) -> list[Case]:
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    prefix = get_settings().dataverse_publisher_prefix
    contoso, fabrikam, obrien = (
        scenario.account_id(n) for n in ("Contoso Ltd", "Fabrikam Inc", "O'Brien & Sons")
    )
    delivered = today.isoformat()
    plans: list[tuple[Case, dict[str, Any]]] = [
        (
            Case("Existing products"),
            {
                "account_id": contoso,
                "name": "Widgets and gadgets",
                "lines": [
                    line("WID-001", qty="3", price="10.00"),
                    line("GAD-002", qty="2", price="25.50", discount="1.00"),
                ],
            },
        ),
        (
            Case("Write-in products"),
            {
                "account_id": contoso,
                "name": "Design workshop",
                "lines": [
                    line(write_in="Design workshop (2 days)", qty="2", price="450.00"),
                    line(write_in="Travel", price="86.9565"),
                ],
            },
        ),
        (
            Case("Note line"),
            {
                "account_id": contoso,
                "name": "Consulting with a note",
                "lines": [
                    line("SRV-001", qty="4", price="120.00"),
                    {"write_in": "Delivered on site at the Wellington office", "quantity": "0", "price": "0"},
                ],
            },
        ),
        (
            Case("Bundle"),
            {
                "account_id": contoso,
                "name": "Starter bundle",
                "lines": [
                    line("BND-001", price="99.00", producttypecode=2),
                    {
                        "product_number": "WID-001",
                        "quantity": "2",
                        "price": "0",
                        "producttypecode": 3,
                        "parent": 0,
                    },
                    {
                        "product_number": "GAD-002",
                        "quantity": "1",
                        "price": "0",
                        "producttypecode": 3,
                        "parent": 0,
                    },
                ],
            },
        ),
        (
            Case("Purchase invoice (bill)"),
            {
                "account_id": fabrikam,
                "name": "SUP-7781",
                "lines": [line(write_in="Packaging materials", qty="10", price="4.20")],
                "columns": {f"{prefix}_invoicetype": INVOICE_TYPE_VALUES["purchase"]},
            },
        ),
        (
            Case("Future-dated (waits for its day)", expect={ExportStatus.NO}),
            {
                "account_id": contoso,
                "name": "Next week's delivery",
                "date_delivered": (today + timedelta(days=7)).isoformat(),
                "lines": [line("WID-001", qty="5", price="10.00")],
            },
        ),
        (
            Case("New customer (contact created)"),
            {"account_id": obrien, "name": "First order", "lines": [line("GAD-002", qty="4", price="25.50")]},
        ),
        (
            Case("Fails Xero validation, fixed, retried", expect={ExportStatus.FAILED}),
            {
                "account_id": contoso,
                "name": "Sterling order",
                "currency": "GBP",
                "lines": [line("WID-001", qty="1", price="10.00")],
            },
        ),
    ]
    cases = []
    for case, body in plans:
        body = {"currency": "NZD", "date_delivered": delivered, **body}
        created = dataverse.ui_create_invoice(**body)
        case.invoice_id = created["id"]
        cases.append(case)
    return cases


async def _details(client: DataverseClient, invoice_id: str) -> XeroDetails | None:
    return await client.get_xero_details(UUID(invoice_id))


def statuses(cases: list[Case]) -> dict[str, XeroDetails | None]:
    async def work(client: DataverseClient) -> dict[str, XeroDetails | None]:
        return {case.invoice_id: await _details(client, case.invoice_id) for case in cases}

    result: dict[str, XeroDetails | None] = run(work)
    return result


def settled(cases: list[Case]) -> bool:
    found = statuses(cases)
    return all((d := found[c.invoice_id]) is not None and d.export_status in c.expect for c in cases)


def fix_and_retry(scenario: Scenario, case: Case) -> None:
    """As a user: change the currency to one Xero has enabled, then set export status back to "No"."""
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    nzd = scenario.dynamics["currencies"]["NZD"]
    dataverse.ui_edit_invoice(
        case.invoice_id, **{"transactioncurrencyid@odata.bind": f"/transactioncurrencies({nzd})"}
    )

    async def work(client: DataverseClient) -> None:
        details = await _details(client, case.invoice_id)
        assert details is not None
        await client.update_xero_details(details.id, {"export_status": ExportStatus.NO}, None)

    run(work)
    case.expect = {ExportStatus.YES}


def report(scenario: Scenario, cases: list[Case]) -> Table:
    prefix = get_settings().dataverse_publisher_prefix

    async def work(client: DataverseClient) -> list[tuple[Case, Any, XeroDetails | None, str]]:
        rows = []
        for case in cases:
            snapshot = await client.get_invoice_snapshot(UUID(case.invoice_id))
            history = await client.get_json(
                f"{prefix}_synchistories",
                {
                    "$select": f"{prefix}_detail",
                    "$filter": f"{prefix}_dynamicsinvoiceid eq '{case.invoice_id}'",
                    "$orderby": f"{prefix}_occurredon desc,createdon desc",
                    "$top": "1",
                },
            )
            last = history["value"][0][f"{prefix}_detail"] if history["value"] else "—"
            rows.append((case, snapshot.invoice, snapshot.xero_details, last))
        return rows

    table = Table(title="Dynamics → Xero: the demo's invoices", show_lines=True)
    for column in (
        "Case",
        "Dynamics invoice",
        "Xero number",
        "Xero status",
        "Total (Xero)",
        "Export status",
        "Last sync history",
    ):
        table.add_column(column, overflow="fold")
    for case, invoice, details, last in run(work):
        total = (
            f"{invoice.currency_code} {details.total:,.2f}" if details and details.total is not None else "—"
        )
        table.add_row(
            case.title,
            invoice.number,
            (details.xero_invoice_number if details else None) or "—",
            (details.xero_status if details else None) or "—",
            total,
            details.export_status.value if details else "—",
            last,
        )
    return table


def run_demo(keep: bool = False) -> int:
    started = time.monotonic()
    with LocalPlatform() as platform:
        console.print(f"[bold]Local platform up[/bold]: Functions host {platform.host_url}")
        scenario = set_up(platform)
        console.print(
            f"Schema provisioned, webhooks registered, connected to Xero tenant {scenario.tenant_id}."
        )
        today = datetime.now(ZoneInfo(scenario.connection.time_zone)).date()
        cases = create_invoices(scenario, today)
        console.print(f"Created {len(cases)} invoices in Dynamics; waiting for Xero…")
        try:
            wait_for(lambda: settled(cases), timeout=20)
            failing = next(case for case in cases if ExportStatus.FAILED in case.expect)
            console.print(
                f"'{failing.title}': Xero refused it; fixing the currency, export status back to No."
            )
            fix_and_retry(scenario, failing)
            wait_for(lambda: settled(cases), timeout=20)
        except TimeoutError:
            console.print(report(scenario, cases))
            console.print("[red]The demo did not reach the expected results in time.[/red]")
            return 1
        console.print(report(scenario, cases))
        console.print(f"Done in {time.monotonic() - started:.1f}s.")
        if keep:
            stop = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            console.print("Platform left running (--keep); Ctrl-C stops it.")
            stop.wait()
    return 0

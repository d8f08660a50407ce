"""`make demo`: the whole round trip on the local platform, acting as a user in Dynamics, then a table.

The console shows the story (numbered steps, a progress line while it waits, the two tables); the
platform's own log lines go to a file under .devstack/, whose path it prints. With `--traces`, each
invoice's trace trees and the custom metrics, from in-memory OpenTelemetry exporters.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.status import Status
from rich.table import Table

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.schema import INVOICE_TYPE_VALUES
from connector.domain.dynamics import ExportStatus, XeroDetails
from connector.settings import get_settings
from devstack.demo_reference_data import show_reference_data
from devstack.local_platform import LocalPlatform
from devstack.oidc import ADMIN_USER
from devstack.paths import REPO_ROOT
from devstack.scenario import Scenario, invoice_state, run, set_up, sync_history, wait_for

if TYPE_CHECKING:
    from devstack.demo_traces import TraceRecorder

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


@dataclass
class XeroSideAction:
    """What a Xero (or Dynamics) user does to one of the synced invoices, and when it has landed."""

    title: str
    case: Case
    act: Callable[[], object]
    # (Xero details, Dynamics statecode/statuscode, the invoice's status in Xero itself) → done?
    landed: Callable[[XeroDetails | None, tuple[int, int], str], bool]


def xero_side(scenario: Scenario, cases: list[Case]) -> list[XeroSideAction]:
    """B2 and X1–X2 on the local stack: payments in Xero, a cancel after approval, a cancel of a draft,
    a delete of an approved invoice."""
    xero, dataverse = scenario.platform.xero, scenario.platform.dataverse
    assert xero is not None and dataverse is not None
    by_title = {case.title: case for case in cases}
    found = statuses(cases)
    tenant = scenario.tenant_id

    def xero_id(case: Case) -> str:
        details = found[case.invoice_id]
        assert details is not None and details.xero_invoice_id is not None
        return details.xero_invoice_id

    def pay(case: Case, amount: str | None) -> Callable[[], object]:
        def act() -> None:
            xero.approve(tenant, xero_id(case))
            xero.pay(tenant, xero_id(case), amount)

        return act

    def approve_then(case: Case, dynamics_action: Callable[[str], object]) -> Callable[[], object]:
        def act() -> None:
            xero.approve(tenant, xero_id(case))  # the cancel and delete handlers read Xero's own status
            dynamics_action(case.invoice_id)

        return act

    return [
        XeroSideAction(
            "Approved and paid in full in Xero",
            by_title["Existing products"],
            pay(by_title["Existing products"], None),
            lambda d, state, status: state == (2, 100001),
        ),
        XeroSideAction(
            "Approved and paid NZD 500.00 in Xero",
            by_title["Write-in products"],
            pay(by_title["Write-in products"], "500.00"),
            lambda d, state, status: d is not None and d.amount_paid == Decimal("500.00"),
        ),
        XeroSideAction(
            "Approved in Xero, then cancelled in Dynamics",
            by_title["Note line"],
            approve_then(by_title["Note line"], dataverse.ui_cancel),
            lambda d, state, status: d is not None and bool(d.credit_note_id) and d.amount_due == 0,
        ),
        XeroSideAction(
            "Cancelled in Dynamics while a draft",
            by_title["Bundle"],
            lambda: dataverse.ui_cancel(by_title["Bundle"].invoice_id),
            lambda d, state, status: status == "DELETED",
        ),
        XeroSideAction(
            "Approved in Xero, then deleted in Dynamics",
            by_title["New customer (contact created)"],
            approve_then(by_title["New customer (contact created)"], dataverse.ui_delete),
            lambda d, state, status: status == "VOIDED",
        ),
    ]


def dynamics_state(invoice_id: str) -> tuple[int, int]:
    try:
        return invoice_state(invoice_id)
    except Exception:  # deleted in Dynamics
        return (-1, -1)


def xero_status_of(scenario: Scenario, xero_invoice_id: str | None) -> str:
    assert scenario.platform.xero is not None
    invoice = scenario.platform.xero.state.tenants[scenario.tenant_id].invoices.get(xero_invoice_id or "")
    return str(invoice["Status"]) if invoice else "—"


def landed(scenario: Scenario, action: XeroSideAction) -> bool:
    details = statuses([action.case])[action.case.invoice_id]
    status = xero_status_of(scenario, details.xero_invoice_id if details else None)
    return action.landed(details, dynamics_state(action.case.invoice_id), status)


STATE_WORDS = {(0, 1): "Active", (2, 100001): "Paid", (3, 100003): "Canceled", (-1, -1): "Deleted"}


def xero_side_report(scenario: Scenario, actions: list[XeroSideAction]) -> Table:
    table = Table(title="Back from Xero, cancellations and deletions", show_lines=True)
    for column in (
        "Invoice",
        "What happened",
        "Xero status",
        "Amount due",
        "Credit note",
        "Dynamics",
        "Last sync history",
    ):
        table.add_column(column, overflow="fold")
    found = statuses([action.case for action in actions])
    for action in actions:
        details = found[action.case.invoice_id]
        state = dynamics_state(action.case.invoice_id)
        history = sync_history(action.case.invoice_id)
        table.add_row(
            action.case.title,
            action.title,
            xero_status_of(scenario, details.xero_invoice_id if details else None),
            f"{details.amount_due:,.2f}" if details and details.amount_due is not None else "—",
            (details.credit_note_number or details.credit_note_id or "—") if details else "—",
            STATE_WORDS.get(state, str(state)),
            history[-1] if history else "—",
        )
    return table


def settled_count(cases: list[Case]) -> int:
    found = statuses(cases)
    return sum(1 for c in cases if (d := found[c.invoice_id]) is not None and d.export_status in c.expect)


def send_logs_to_file() -> Path:
    """The platform's log lines (host, connector, emulators) go to a file, so the story stays readable."""
    directory = REPO_ROOT / ".devstack"
    directory.mkdir(exist_ok=True)
    path = directory / f"demo-{datetime.now():%Y%m%d-%H%M%S}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("azure", "httpx", "urllib3", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return path


def wait_showing(status: Status, text: str, done: Callable[[], int], total: int, timeout: float) -> None:
    """wait_for, with the progress on the spinner line: "text 3/8"."""

    def check() -> bool:
        count = done()
        status.update(f"{text} {count}/{total}")
        return count >= total

    wait_for(check, timeout=timeout, interval=0.5)


def step(number: int, text: str) -> None:
    console.print(f"[bold cyan]{number}/{STEPS}[/bold cyan] {text}")


STEPS = 6


def run_demo(keep: bool = False, traces: bool = False) -> int:
    started = time.monotonic()
    log_path = send_logs_to_file()
    console.print(f"Platform logs: {log_path}")
    recorder = None
    if traces:
        from devstack.demo_traces import TraceRecorder  # OpenTelemetry's SDK only when asked

        recorder = TraceRecorder().install()
    with console.status("Starting Azurite, both emulators and the Functions host…"):
        platform = LocalPlatform().start()
    try:
        step(1, f"Local platform up: Functions host {platform.host_url}")
        code = _story(platform, recorder)
        console.print(f"Done in {time.monotonic() - started:.1f}s. Platform logs: {log_path}")
        # The admin console, signed in at the local OpenID provider standing in for Entra ID.
        console.print(f"Admin console: {platform.host_url}/api/console (sign in as {ADMIN_USER})")
        if code == 0 and keep:
            stop = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            console.print("Platform left running (--keep); Ctrl-C stops it.")
            stop.wait()
        return code
    finally:
        platform.stop()


def _story(platform: LocalPlatform, recorder: TraceRecorder | None) -> int:
    with console.status("Provisioning the schema, registering webhooks, connecting Xero…"):
        scenario = set_up(platform)
    step(2, f"Set up as a customer would: schema, webhooks, connected to Xero tenant {scenario.tenant_id}.")
    today = datetime.now(ZoneInfo(scenario.connection.time_zone)).date()
    cases = create_invoices(scenario, today)
    step(3, f"As a Sales user: created {len(cases)} invoices in Dynamics.")
    try:
        with console.status("Waiting for Xero…") as status:
            wait_showing(status, "Invoices settled:", lambda: settled_count(cases), len(cases), 20)
            failing = next(case for case in cases if ExportStatus.FAILED in case.expect)
            console.print(
                f"    '{failing.title}': Xero refused it; fixing the currency, export status back to No."
            )
            fix_and_retry(scenario, failing)
            wait_showing(status, "Invoices settled:", lambda: settled_count(cases), len(cases), 20)
    except TimeoutError:
        console.print(report(scenario, cases))
        console.print("[red]The demo did not reach the expected results in time.[/red]")
        return 1
    console.print(report(scenario, cases))
    step(
        4, "As users in Xero and Dynamics: payments, an approval then a cancel, a cancelled draft, a delete."
    )
    actions = xero_side(scenario, cases)
    for action in actions:
        action.act()
    try:
        # The connector keeps inside Xero's 60 calls a minute: by now the demo has used most of this
        # minute's budget, so some of these wait for the next one, as they would in production.
        with console.status("Waiting for Dynamics…") as status:
            text = "Landed (inside Xero's 60 calls/minute, some wait for the next minute):"

            def landed_count() -> int:
                return sum(1 for action in actions if landed(scenario, action))

            wait_showing(status, text, landed_count, len(actions), 150)
    except TimeoutError:
        console.print(xero_side_report(scenario, actions))
        console.print("[red]The Xero side did not reach the expected results in time.[/red]")
        return 1
    console.print(xero_side_report(scenario, actions))
    step(5, "Reference data from Xero in Dynamics, a tracked line, and a credit note raised in Dynamics.")
    if not show_reference_data(scenario, console):
        console.print("[red]The reference-data act did not reach the expected results.[/red]")
        return 1
    if recorder is not None:
        step(6, "The telemetry: each invoice's traces, then the custom metrics.")
        for case in cases:
            console.print(recorder.trees(case.invoice_id, case.title))
        console.print(recorder.metrics_table())
    else:
        step(6, "Telemetry: run `make demo ARGS=--traces` to see each invoice's trace tree and the metrics.")
    return 0

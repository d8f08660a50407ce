"""`python -m connector backfill-xero-details` (I1, O4): the plan or the run, with a progress bar, what
happens to each invoice, and the counts."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.storage.blob import blob_service_from_settings
from connector.adapters.storage.rate_limit import blob_rate_limiter
from connector.adapters.storage.token_store import BlobTokenStore
from connector.adapters.xero.client import XeroClient, XeroClientFactory
from connector.domain.dynamics import ConnectionSettings
from connector.settings import get_settings
from connector.setup.backfill import Action, BackfillFilters, BackfillReport, backfill_xero_details

SHOWN = 50  # invoices listed one by one; the counts cover them all

_VERBS = {
    Action.LINK: ("Would link", "Linked"),
    Action.CREATE: ("Would create", "Created"),
    Action.SKIP: ("Would skip", "Skipped"),
}


async def run_backfill(
    client: DataverseClient, console: Console, filters: BackfillFilters, *, dry_run: bool
) -> BackfillReport:
    settings = get_settings()
    blobs = blob_service_from_settings(settings)
    xero = XeroClientFactory(
        settings, BlobTokenStore(blobs, settings.token_container), limiter=blob_rate_limiter(blobs)
    )

    def xero_for(connection: ConnectionSettings) -> XeroClient:
        return xero.for_connection(str(connection.id), connection.tenant_id)

    with Progress(console=console) as progress:
        task = progress.add_task("Checking invoices" if dry_run else "Creating Xero details", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = await backfill_xero_details(client, xero_for, filters, dry_run=dry_run, progress=advance)
    console.print(items_table(report))
    console.print(counts_line(report))
    return report


def items_table(report: BackfillReport) -> Table:
    title = f"Backfill on connection {report.connection_name}" + (
        " (dry run: nothing written)" if report.dry_run else ""
    )
    table = Table(title=title)
    for column in ("Invoice", "What happens", "Why"):
        table.add_column(column, overflow="fold")
    shown = [item for item in report.items if item.action != Action.ALREADY_HAD][:SHOWN]
    for item in shown:
        verb = _VERBS[item.action][0 if report.dry_run else 1]
        table.add_row(item.number or str(item.invoice_id), verb, item.detail)
    hidden = len(report.items) - report.already_had - len(shown)
    if hidden > 0:
        table.caption = f"and {hidden} more"
    return table


def counts_line(report: BackfillReport) -> str:
    """Exact counts: "Would create 3 …, link 2 …, skip 1; 4 already had …" (a dry run) or "Created 3 …"."""
    create, link, skip = (
        ("Would create", "link", "skip") if report.dry_run else ("Created", "linked", "skipped")
    )
    return (
        f"{create} {report.created} (export status No, sent by the sweep when eligible), {link} "
        f"{report.linked} (already in Xero: export status Yes), {skip} {report.skipped}; "
        f"{report.already_had} already had Xero details. {len(report.items)} invoice(s) in all."
    )

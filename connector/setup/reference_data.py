"""`python -m connector sync-reference-data` (C4, O4): the same service the timer runs, with a progress
bar per table and a summary per connection."""

from __future__ import annotations

from uuid import UUID

from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.storage.blob import blob_service_from_settings
from connector.adapters.storage.rate_limit import blob_rate_limiter
from connector.adapters.storage.token_store import BlobTokenStore
from connector.adapters.xero.client import XeroClient, XeroClientFactory
from connector.bootstrap import reference_data_dependencies
from connector.domain.dynamics import ConnectionSettings
from connector.domain.reference_data import TABLE_LABELS, ReferenceTable
from connector.services.reference_data import ConnectionResult, TableResult, sync_reference_data
from connector.settings import get_settings


async def connection_ids(client: DataverseClient, wanted: str | None) -> list[UUID] | None:
    """None for every connection; else the one whose id or name (case-insensitive) is `wanted`."""
    if wanted is None:
        return None
    for connection in await client.list_connections():
        if wanted.strip().lower() in (str(connection.id), connection.name.strip().lower()):
            return [connection.id]
    raise LookupError(f"no connection is called {wanted!r}")


def summary(results: list[ConnectionResult]) -> Table:
    table = Table(title="Reference data from Xero")
    for column in ("Connection", "Table", "In Xero", "New", "Changed", "Deactivated", "Unchanged"):
        table.add_column(column)
    for result in results:
        if result.error is not None:
            table.add_row(result.connection.name, "[red]failed[/red]", result.error, "", "", "", "")
        for done in result.tables:
            read = f"{done.read} changed" if done.incremental else str(done.read)
            counts = (done.created, done.updated, done.deactivated, done.unchanged)
            table.add_row(result.connection.name, TABLE_LABELS[done.table], read, *map(str, counts))
    return table


async def run_reference_sync(client: DataverseClient, console: Console, wanted: str | None) -> bool:
    """Sync one connection (by name or id) or all; True when every connection synced."""
    settings = get_settings()
    blobs = blob_service_from_settings(settings)
    xero = XeroClientFactory(
        settings, BlobTokenStore(blobs, settings.token_container), limiter=blob_rate_limiter(blobs)
    )

    def xero_for(connection: ConnectionSettings) -> XeroClient:
        return xero.for_connection(str(connection.id), connection.tenant_id)

    deps = reference_data_dependencies(client, xero_for, blobs)
    ids = await connection_ids(client, wanted)
    with Progress(console=console) as progress:
        tasks: dict[tuple[UUID, ReferenceTable], TaskID] = {}

        def on_table(connection: ConnectionSettings, table: ReferenceTable, done: TableResult | None) -> None:
            label = f"{connection.name}: {TABLE_LABELS[table]}"
            if done is None:
                tasks[(connection.id, table)] = progress.add_task(label, total=None)
                return
            rows = max(done.read, 1)
            progress.update(tasks[(connection.id, table)], total=rows, completed=rows)

        results = await sync_reference_data(deps, connection_ids=ids, progress=on_table)
    console.print(summary(results))
    return all(result.error is None for result in results)

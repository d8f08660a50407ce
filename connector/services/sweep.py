"""The sweep (I2, B4): per connection, send every eligible invoice the events missed, in batches."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings, ExportStatus
from connector.domain.messages import InvoiceSyncMessage, SweepMessage
from connector.domain.sync.eligibility import local_today
from connector.errors import AuthorisationError
from connector.ports import DataverseSweepPort
from connector.services.connection_health import connection_lost
from connector.services.sync_attempt import SyncAttempt, SyncDependencies, SyncResult, load_attempt
from connector.services.sync_batch import sync_batch
from connector.telemetry import get_logger, log_step

logger = get_logger("services.sweep")

Reconcile = Callable[[ConnectionSettings], Awaitable[object]]
# New invoices are looked at for this long; older ones without Xero details are the backfill's job.
MISSED_INVOICE_WINDOW = timedelta(days=2)


@dataclass
class SweepDependencies:
    dataverse: DataverseSweepPort
    sync: SyncDependencies
    reconcile: Reconcile | None = None


async def sweep(message: SweepMessage, deps: SweepDependencies) -> Counter[str]:
    """Returns how many invoices ended in each SyncResult, across connections."""
    if message.connection_id is not None:
        connections = [await deps.dataverse.get_connection(message.connection_id)]
    else:
        connections = await deps.dataverse.list_connections()
    totals: Counter[str] = await _sync_missed_invoices(message, deps)
    for connection in connections:
        if connection.needs_reconnect:
            log_step(
                logger,
                "sweep.skipped",
                logging.WARNING,
                connection=connection.name,
                reason="reconnect needed",
            )
            continue
        try:
            totals.update(await _sweep_connection(connection, message, deps))
            if deps.reconcile is not None:
                await deps.reconcile(connection)
        except AuthorisationError:
            # One organisation's lost authorisation must not stop the others: it waits for a reconnect.
            await connection_lost(deps.sync.dataverse, connection)
    return totals


async def _load(invoice_id: UUID, message: SweepMessage, deps: SweepDependencies) -> SyncAttempt | SyncResult:
    """Load one invoice as if its own sync message had arrived, from this sweep."""
    sync_message = InvoiceSyncMessage(
        invoice_id=invoice_id,
        organization="",
        message_name="Sweep",
        correlation_id=message.correlation_id,
        event_time=message.scheduled_for,
    )
    return await load_attempt(sync_message, deps.sync)


async def _sync_missed_invoices(message: SweepMessage, deps: SweepDependencies) -> Counter[str]:
    """I1 for new invoices whose webhooks were all lost: set them up (Xero details, default connection)
    and send the eligible ones, per connection, in batches."""
    since = deps.sync.clock() - MISSED_INVOICE_WINDOW
    by_connection: dict[UUID, list[SyncAttempt]] = defaultdict(list)
    for invoice_id in await deps.dataverse.list_recent_invoice_ids_without_xero_details(since):
        loaded = await _load(invoice_id, message, deps)
        if isinstance(loaded, SyncAttempt) and loaded.details.export_status == ExportStatus.NO:
            by_connection[loaded.connection.id].append(loaded)
    results: Counter[str] = Counter()
    for attempts in by_connection.values():
        results.update(result.value for result in await sync_batch(attempts))
    return results


async def _sweep_connection(
    connection: ConnectionSettings, message: SweepMessage, deps: SweepDependencies
) -> Counter[str]:
    today = local_today(deps.sync.clock(), connection.time_zone)
    invoice_ids = await deps.dataverse.list_eligible_invoice_ids(connection.id, today)
    attempts: list[SyncAttempt] = []
    results: Counter[str] = Counter()
    for invoice_id in invoice_ids:
        loaded = await _load(invoice_id, message, deps)
        if isinstance(loaded, SyncAttempt) and loaded.details.export_status == ExportStatus.NO:
            attempts.append(loaded)
        elif not isinstance(loaded, SyncAttempt):
            results[loaded.value] += 1
    results.update(result.value for result in await sync_batch(attempts))
    log_step(
        logger,
        "sweep.connection_done",
        connection=connection.name,
        found=len(invoice_ids),
        correlation_id=message.correlation_id,
        **{f"n_{name}": count for name, count in results.items()},
    )
    return results

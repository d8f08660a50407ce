"""reconcile (B4): a scheduled If-Modified-Since pull per connection that catches missed webhooks.

Every modified invoice the connector tracks gets the same update as its webhook would have given it
(`apply_invoice_update`), so running both, or either twice, is harmless. The connection's watermark
moves to the run's start after a whole pull; a pull cut short (a page limit, a spent budget, an error)
moves it only to the last change applied, so the next run resumes there instead of paging again from
the start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from connector.domain.back_sync.rules import back_sync
from connector.domain.dynamics import ConnectionSettings, TrackedInvoice
from connector.domain.sync.eligibility import local_today
from connector.domain.xero_records import XeroInvoice
from connector.ports import WatermarkStore
from connector.services.back_sync import BackSyncDependencies, EventResult, apply_invoice_update
from connector.services.upkeep import upkeep
from connector.telemetry import get_logger, log_step

logger = get_logger("services.reconcile")

# A page of GET /Invoices (Xero allows up to 1,000): a backlog the sweep just created costs one call per
# 500, and a page of invoices with their lines stays well inside the memory a 10,000 backlog may use.
PAGE_SIZE = 500


@dataclass(kw_only=True)
class ReconcileDependencies(BackSyncDependencies):
    watermarks: WatermarkStore
    # Webhooks carry changes within seconds; the pull only catches what they lost, so an idle
    # organisation is asked at most this often (the sweep runs every few minutes).
    min_interval: timedelta = timedelta(0)
    # How far back the very first pull of a connection looks.
    first_lookback: timedelta = timedelta(days=1)
    # Pull again a little before the last run started: Xero's UpdatedDateUTC and our clock may differ,
    # and an invoice changed while we paged may have moved behind us. Re-applying is harmless.
    overlap: timedelta = timedelta(minutes=5)
    # Bound on one run; a bigger backlog continues from the last invoice seen on the next run.
    max_pages: int = 10


@dataclass
class ReconcileReport:
    connection_id: str
    since: datetime
    watermark: datetime | None  # the new watermark (None: not advanced)
    seen: int = 0  # modified invoices Xero returned
    tracked: int = 0  # of those, invoices the connector created
    updated: int = 0  # tracked invoices that had something written
    paid: int = 0  # of those, marked Paid in Dynamics
    more: bool = False  # stopped at max_pages; the next run carries on


async def reconcile(
    connection: ConnectionSettings,
    deps: ReconcileDependencies,
    *,
    force: bool = False,
    correlation_id: str = "reconcile",
) -> ReconcileReport:
    """Pull invoices changed since the connection's watermark and apply them; then advance it. `force`:
    whatever the interval (Xero events were left to it)."""
    started = deps.clock()
    stored = await deps.watermarks.get(connection.id)
    since = stored if stored is not None else started - deps.first_lookback
    if connection.needs_reconnect:
        log_step(logger, "reconcile.skipped", logging.WARNING, connection=connection.name, reason="reconnect")
        return ReconcileReport(connection_id=str(connection.id), since=since, watermark=None)
    if not force and stored is not None and started - (stored + deps.overlap) < deps.min_interval:
        await upkeep(connection, deps, correlation_id=correlation_id)  # B2 as days pass, I8, links: each run
        return ReconcileReport(connection_id=str(connection.id), since=since, watermark=None)

    clock_start = time.monotonic()
    report = ReconcileReport(connection_id=str(connection.id), since=since, watermark=None)
    progress = _Progress()
    try:
        await _pull(connection, deps, since, report, progress, correlation_id)
    except BaseException:
        if progress.applied_through is not None:
            await deps.watermarks.set(connection.id, _resume_from(since, progress.applied_through))
        raise
    watermark = _next_watermark(since, started - deps.overlap, progress.applied_through, report.more)
    await deps.watermarks.set(connection.id, watermark)
    log_step(
        logger,
        "reconcile.done",
        connection=connection.name,
        since=since.isoformat(),
        watermark=watermark.isoformat(),
        seen=report.seen,
        tracked=report.tracked,
        updated=report.updated,
        paid=report.paid,
        more=report.more,
        duration_ms=round((time.monotonic() - clock_start) * 1000),
        correlation_id=correlation_id,
    )
    report.watermark = watermark
    await upkeep(connection, deps, correlation_id=correlation_id)  # after the pull events may wait for
    return report


@dataclass
class _Progress:
    applied_through: datetime | None = None  # the change time of the last invoice fully handled


async def _pull(
    connection: ConnectionSettings,
    deps: ReconcileDependencies,
    since: datetime,
    report: ReconcileReport,
    progress: _Progress,
    correlation_id: str,
) -> None:
    """Apply every tracked invoice Xero changed since `since`, page by page, oldest change first."""
    xero = deps.xero_for(connection)
    for page in range(1, deps.max_pages + 1):
        invoices = await asyncio.to_thread(xero.get_invoices_modified_since, since, page, PAGE_SIZE)
        ids = [xero_invoice.invoice_id for xero_invoice in invoices]
        tracked = {t.details.xero_invoice_id: t for t in await deps.dataverse.find_tracked_invoices(ids)}
        today = local_today(deps.clock(), connection.time_zone)
        for xero_invoice in invoices:
            report.seen += 1
            found = tracked.get(xero_invoice.invoice_id)
            if found is not None:  # else B5: not ours
                report.tracked += 1
                await _apply(xero_invoice, found, connection, deps, report, today, correlation_id)
            if xero_invoice.updated_at is not None:
                progress.applied_through = _aware(xero_invoice.updated_at)
        if len(invoices) < PAGE_SIZE:
            return
    report.more = True


async def _apply(
    xero_invoice: XeroInvoice,
    found: TrackedInvoice,
    connection: ConnectionSettings,
    deps: ReconcileDependencies,
    report: ReconcileReport,
    today: date,
    correlation_id: str,
) -> None:
    # Already applied (by its webhook): no write. A PAID one whose Dynamics invoice is still active is
    # not: it must be marked Paid.
    state = found.invoice.state if found.invoice is not None else None
    decision = back_sync(found.details, xero_invoice, today=today, dynamics_state=state)
    if not decision.changed_fields and not decision.mark_paid:
        return
    # The online link waits for upkeep: one call per invoice would hold up the pages behind it.
    result = await apply_invoice_update(
        xero_invoice, found, connection, deps, correlation_id, online_url=False
    )
    report.updated += result in (EventResult.UPDATED, EventResult.PAID)
    report.paid += result == EventResult.PAID


def _aware(at: datetime) -> datetime:
    """Xero's UpdatedDateUTC is UTC, but may come back without a zone."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _resume_from(since: datetime, applied_through: datetime) -> datetime:
    """Where a cut-short pull resumes: a second before the last change applied, never backwards. Changes
    are pulled strictly after the watermark, other invoices may share the last one's time, and Xero may
    compare at a coarser precision than the SDK sends; re-applying the few read twice is harmless."""
    return max(since, applied_through - timedelta(seconds=1))


def _next_watermark(
    since: datetime, run_start: datetime, last_updated_at: datetime | None, more: bool
) -> datetime:
    """Never backwards. After a cut-short run, only up to the last change actually applied."""
    if more:
        return _resume_from(since, last_updated_at) if last_updated_at is not None else since
    return max(since, run_start)

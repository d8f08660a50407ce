"""Upkeep of tracked invoices that no Xero event announces (run by reconcile, per connection):

- B2: days pass, and an unpaid invoice becomes overdue, or more overdue, without Xero changing it, so
  `If-Modified-Since` never returns it. Its overdue amount and days overdue are worked out from Xero
  details (amount due, due date), in the connection's time zone: Dataverse reads, no Xero call.
- I8: emails that failed on the way are tried again.
- I7/B2: online invoice links left out when the Xero budget was short (reconcile never fetches them, and
  an event does not wait for one) are fetched, a few per run, until the budget says stop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal

from connector.budget import waiting_for_xero_at_most
from connector.domain.back_sync.rules import overdue_figures
from connector.domain.dynamics import ConnectionSettings
from connector.domain.sync.eligibility import local_today
from connector.errors import ConcurrencyConflictError, NotFoundError, RetryableError, XeroValidationError
from connector.services.back_sync import LINK_WAIT_SECONDS, BackSyncDependencies
from connector.services.email_invoice import EmailContext, EmailResult, retry_pending_emails
from connector.telemetry import get_logger, log_step

logger = get_logger("services.upkeep")

# Links fetched per run at most: one Xero call each, and the rest of the run comes first.
ONLINE_URLS_PER_RUN = 25


@dataclass
class UpkeepReport:
    overdue_refreshed: int = 0
    online_urls: int = 0
    emails: dict[EmailResult, int] | None = None


async def upkeep(
    connection: ConnectionSettings, deps: BackSyncDependencies, *, correlation_id: str = "reconcile"
) -> UpkeepReport:
    report = UpkeepReport(overdue_refreshed=await refresh_overdue(connection, deps))
    if connection.send_email:
        email = EmailContext(
            deps.dataverse, deps.xero_for(connection), connection, deps.clock(), correlation_id
        )
        report.emails = await retry_pending_emails(email, deps.dataverse)
    report.online_urls = await fill_online_urls(connection, deps)
    if report.overdue_refreshed or report.emails or report.online_urls:
        log_step(
            logger,
            "upkeep.done",
            connection=connection.name,
            overdue_refreshed=report.overdue_refreshed,
            online_urls=report.online_urls,
            **{f"emails_{result.value}": n for result, n in (report.emails or {}).items()},
            correlation_id=correlation_id,
        )
    return report


async def refresh_overdue(connection: ConnectionSettings, deps: BackSyncDependencies) -> int:
    """B2 as days pass: rewrite the overdue figures that today moved on; how many were written. Each
    write is conditional on the record's ETag, so a back-sync landing meanwhile (a payment) wins."""
    today = local_today(deps.clock(), connection.time_zone)
    written = 0
    for details in await deps.dataverse.list_overdue_candidates(connection.id, today):
        amount, days = overdue_figures(
            details.xero_status or "", details.amount_due or Decimal(0), details.due_date, today
        )
        if (details.amount_overdue, details.days_overdue) == (amount, days):
            continue
        try:
            await deps.dataverse.update_xero_details(
                details.id, {"amount_overdue": amount, "days_overdue": days}, details.etag
            )
        except ConcurrencyConflictError:
            log_step(logger, "upkeep.overdue_skipped", logging.DEBUG, invoice_id=details.invoice_id)
            continue
        written += 1
    return written


async def fill_online_urls(connection: ConnectionSettings, deps: BackSyncDependencies) -> int:
    """Fetch the online links still missing, stopping at the first budget refusal; how many were written."""
    xero, written = deps.xero_for(connection), 0
    for details in await deps.dataverse.list_missing_online_urls(connection.id, ONLINE_URLS_PER_RUN):
        if details.xero_invoice_id is None:
            continue
        try:
            with waiting_for_xero_at_most(LINK_WAIT_SECONDS):
                url = await asyncio.to_thread(xero.get_online_invoice_url, details.xero_invoice_id)
        except RetryableError:
            break  # the budget, or Xero, says not now: the next run carries on
        except (NotFoundError, XeroValidationError):
            continue  # gone from Xero, or no link to give: its own event or reconcile says so
        if not url:
            continue
        try:
            await deps.dataverse.update_xero_details(details.id, {"online_invoice_url": url}, details.etag)
        except ConcurrencyConflictError:
            continue  # a back-sync landed meanwhile; the next run looks again
        written += 1
    return written

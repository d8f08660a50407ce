"""Upkeep of tracked invoices that no Xero event announces (run by reconcile, per connection):

- B2: days pass, and an unpaid invoice becomes overdue, or more overdue, without Xero changing it, so
  `If-Modified-Since` never returns it. Its overdue amount and days overdue are worked out from Xero
  details (amount due, due date), in the connection's time zone: Dataverse reads, no Xero call.
- I8: emails that failed on the way are tried again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from connector.domain.back_sync.rules import overdue_figures
from connector.domain.dynamics import ConnectionSettings
from connector.domain.sync.eligibility import local_today
from connector.errors import ConcurrencyConflictError
from connector.services.back_sync import BackSyncDependencies
from connector.services.email_invoice import EmailContext, EmailResult, retry_pending_emails
from connector.telemetry import get_logger, log_step

logger = get_logger("services.upkeep")


@dataclass
class UpkeepReport:
    overdue_refreshed: int = 0
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
    if report.overdue_refreshed or report.emails:
        log_step(
            logger,
            "upkeep.done",
            connection=connection.name,
            overdue_refreshed=report.overdue_refreshed,
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

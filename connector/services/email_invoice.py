"""email_invoice (I8): Xero emails a sales invoice to its customer once, when it becomes AUTHORISED.

"Once" is kept twice over: the day it went is remembered on Xero details (`emailed_on`), and every
attempt for one Xero invoice carries the same Idempotency-Key, so a retry after a lost answer is
replayed by Xero rather than sent again. An email that fails on the way is a Warning in sync history and
stays pending on Xero details; reconcile's upkeep tries it again (`retry_pending_emails`), so it is never
lost. A refusal in Xero's words (nothing a retry would change) is a Warning too, and is not retried.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings, XeroDetails
from connector.domain.sync import lifecycle_history
from connector.domain.sync.history import HistoryContext
from connector.domain.sync.invoice import idempotency_key
from connector.domain.xero_records import XeroInvoice
from connector.errors import ConnectorError, NotFoundError, XeroValidationError
from connector.ports import DataverseHistory, DataverseUpkeepQueries, DataverseXeroDetails, XeroPort
from connector.telemetry import get_logger, log_step

logger = get_logger("services.email_invoice")


class EmailDataverse(DataverseXeroDetails, DataverseHistory, Protocol):
    """What sending an email writes: Xero details and sync history."""


class EmailResult(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # on the way: pending, tried again
    REFUSED = "refused"  # by Xero, in its words: not tried again
    NOT_DUE = "not_due"


@dataclass(frozen=True)
class EmailContext:
    dataverse: EmailDataverse
    xero: XeroPort
    connection: ConnectionSettings
    now: datetime
    correlation_id: str


def email_key(connection_id: UUID | str, xero_invoice_id: str) -> str:
    """One key per Xero invoice: however often it is tried, Xero sends one email."""
    return idempotency_key(connection_id, xero_invoice_id, "email", "once")


async def email_if_due(
    ctx: EmailContext, details: XeroDetails, invoice: XeroInvoice, *, became_authorised: bool
) -> EmailResult:
    """Email `invoice` (what Xero says it is now) when "send email" is on, it has just become AUTHORISED
    (or its email is pending) and it was never emailed. Never raises for Xero's answer."""
    if not ctx.connection.send_email or details.emailed_on is not None or details.invoice_id is None:
        return EmailResult.NOT_DUE
    if not (became_authorised or details.email_pending):
        return EmailResult.NOT_DUE
    if invoice.status != "AUTHORISED" or invoice.type != "ACCREC":
        if details.email_pending:  # paid, voided or changed meanwhile: nothing left to email
            await ctx.dataverse.update_xero_details(details.id, {"email_pending": False}, None)
            _log(ctx, details, "email.dropped", status=invoice.status)
        return EmailResult.NOT_DUE
    history = HistoryContext(
        invoice_id=details.invoice_id,
        at=ctx.now,
        correlation_id=ctx.correlation_id,
        connection_id=ctx.connection.id,
    )
    kind, number = invoice.type, invoice.invoice_number or details.xero_invoice_number
    try:
        key = email_key(ctx.connection.id, invoice.invoice_id)
        await asyncio.to_thread(ctx.xero.email_invoice, invoice.invoice_id, key)
    except (XeroValidationError, NotFoundError) as exc:
        messages = exc.messages if isinstance(exc, XeroValidationError) else [str(exc)]
        await ctx.dataverse.update_xero_details(details.id, {"email_pending": False}, None)
        await ctx.dataverse.add_sync_history(
            lifecycle_history.email_refused(history, invoice_type=kind, number=number, messages=messages)
        )
        _log(ctx, details, "email.refused", logging.WARNING)
        return EmailResult.REFUSED
    except ConnectorError as exc:
        if not details.email_pending:  # one Warning per failure, not one per retry
            await ctx.dataverse.update_xero_details(details.id, {"email_pending": True}, None)
            entry = lifecycle_history.email_failed(
                history, invoice_type=kind, number=number, reason=str(exc) or type(exc).__name__
            )
            await ctx.dataverse.add_sync_history(entry)
        _log(ctx, details, "email.failed", logging.WARNING, error=type(exc).__name__)
        return EmailResult.FAILED
    changes = {"emailed_on": ctx.now, "email_pending": False, "last_xero_write": ctx.now}
    await ctx.dataverse.update_xero_details(details.id, changes, None)
    await ctx.dataverse.add_sync_history(lifecycle_history.emailed(history, invoice_type=kind, number=number))
    _log(ctx, details, "email.sent")
    return EmailResult.SENT


class PendingEmailDataverse(EmailDataverse, DataverseUpkeepQueries, Protocol):
    """Emailing, plus finding the emails that wait."""


async def retry_pending_emails(ctx: EmailContext, dataverse: PendingEmailDataverse) -> dict[EmailResult, int]:
    """I8: try again every email of this connection that failed on the way, reading the invoices from
    Xero in bulk first (one call per 50), since one may have been paid or voided meanwhile."""
    pending = [d for d in await dataverse.list_emails_pending(ctx.connection.id) if d.xero_invoice_id]
    results: dict[EmailResult, int] = {}
    if not pending or not ctx.connection.send_email:
        return results
    ids = [d.xero_invoice_id for d in pending if d.xero_invoice_id]
    current = {i.invoice_id: i for i in await asyncio.to_thread(ctx.xero.get_invoices_by_ids, ids)}
    for details in pending:
        invoice = current.get(details.xero_invoice_id or "")
        if invoice is None:
            await dataverse.update_xero_details(details.id, {"email_pending": False}, None)
            continue
        result = await email_if_due(ctx, details, invoice, became_authorised=False)
        results[result] = results.get(result, 0) + 1
    return results


def _log(
    ctx: EmailContext, details: XeroDetails, step: str, level: int = logging.INFO, **extra: object
) -> None:
    log_step(
        logger,
        step,
        level,
        invoice_id=details.invoice_id,
        connection=ctx.connection.name,
        xero_invoice_id=details.xero_invoice_id,
        correlation_id=ctx.correlation_id,
        **extra,
    )

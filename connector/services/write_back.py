"""The result in Dynamics: Xero details, totals and sync history (I7), email (I8), or Failed (I10)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from connector.domain.dynamics import (
    ExportStatus,
    InvoiceTotals,
    SyncHistoryEntry,
)
from connector.domain.sync import history
from connector.domain.sync.lines import rounding_difference
from connector.domain.sync.pending_create import refused_marker
from connector.domain.xero_records import XeroInvoice
from connector.ports import SyncWrite
from connector.services.claims import release_changes
from connector.services.email_invoice import EmailContext, email_if_due
from connector.services.sync_attempt import SyncAttempt, SyncResult
from connector.telemetry import get_logger, log_step

logger = get_logger("services.write_back")


@dataclass(frozen=True)
class Outcome:
    """What one attempt ended with in Xero, to be written back."""

    attempt: SyncAttempt
    invoice: XeroInvoice
    result: SyncResult
    edited_since: bool = False  # the user changed the invoice after its create was sent


async def write_back(
    attempt: SyncAttempt, created: XeroInvoice, result: SyncResult, *, edited_since: bool = False
) -> None:
    """I7: Xero details (the Xero id must never be lost), totals and history in one atomic write;
    then I8 email. `edited_since`: the user's change goes to Xero next, as an update (I11)."""
    online_url = None
    if created.status in ("AUTHORISED", "PAID") and created.type == "ACCREC":  # bills have none
        online_url = await asyncio.to_thread(attempt.xero.get_online_invoice_url, created.invoice_id)
    outcome = Outcome(attempt, created, result, edited_since)
    write = sync_write(outcome, online_url)
    await attempt.deps.dataverse.commit_sync_result(
        write.details_id, write.details_changes, write.invoice_totals, write.history
    )
    await _after_write_back(outcome)


async def write_back_all(outcomes: list[Outcome]) -> None:
    """A batch's write-backs in one round trip. The online invoice link is left for back-sync to fill
    in: fetching it here would cost one Xero call per invoice of a backlog."""
    if not outcomes:
        return
    await outcomes[0].attempt.deps.dataverse.commit_sync_results([sync_write(o, None) for o in outcomes])
    for outcome in outcomes:
        await _after_write_back(outcome)


def sync_write(outcome: Outcome, online_url: str | None) -> SyncWrite:
    attempt, created = outcome.attempt, outcome.invoice
    changes: dict[str, object] = {
        "xero_invoice_id": created.invoice_id,
        "xero_invoice_number": created.invoice_number,
        "xero_status": created.status,
        "xero_url": xero_deep_link(created),
        "online_invoice_url": online_url,
        "export_status": ExportStatus.READY_TO_UPDATE if outcome.edited_since else ExportStatus.YES,
        "exported_on": attempt.now,
        "amount_due": created.amount_due,
        "amount_paid": created.amount_paid,
        "amount_credited": created.amount_credited,
        "total": created.total,
        "total_tax": created.total_tax,
        "due_date": created.due_date,
        "claimed_until": None,
        "claimed_by": None,
        "pending_create": None,
        "last_xero_write": attempt.now,
    }
    return SyncWrite(
        attempt.details.id, changes, _changed_totals(attempt, created), _history(attempt, created)
    )


async def _after_write_back(outcome: Outcome) -> None:
    attempt, created, connection = outcome.attempt, outcome.invoice, outcome.attempt.connection
    if outcome.edited_since:
        again = attempt.message.model_copy(update={"message_name": "ExportStatusChanged"})
        await asyncio.to_thread(attempt.deps.queues.send, attempt.deps.sync_queue, again.model_dump_json())
    email = EmailContext(
        attempt.deps.dataverse, attempt.xero, connection, attempt.now, attempt.ctx.correlation_id
    )
    await email_if_due(email, attempt.details, created, became_authorised=created.status == "AUTHORISED")
    log_step(
        logger,
        f"sync.{outcome.result.value}",
        invoice_id=attempt.invoice.id,
        connection=connection.name,
        xero_invoice_id=created.invoice_id,
        xero_number=created.invoice_number,
        correlation_id=attempt.message.correlation_id,
    )


def _changed_totals(attempt: SyncAttempt, created: XeroInvoice) -> InvoiceTotals | None:
    """Only when Xero's figures differ: an unchanged write would still fire the invoice's update webhook."""
    invoice = attempt.invoice
    if (
        (invoice.total_tax, invoice.total_amount, invoice.amount_due)
        == (created.total_tax, created.total, created.amount_due)
    ) and (created.due_date is None or created.due_date == invoice.due_date):
        return None
    return InvoiceTotals(
        invoice_id=invoice.id,
        total_tax=created.total_tax,
        total_amount=created.total if created.total != invoice.total_amount else None,
        due_date=created.due_date,
        amount_due=created.amount_due,
    )


def _history(attempt: SyncAttempt, created: XeroInvoice) -> list[SyncHistoryEntry]:
    invoice = attempt.invoice
    entries: list[SyncHistoryEntry] = [
        history.created(
            attempt.ctx,
            invoice_type=created.type,
            number=created.invoice_number,
            status=created.status,
            total=created.total,
            currency_code=created.currency_code or invoice.currency_code,
        )
    ]
    if invoice.total_tax and rounding_difference(invoice.total_amount, created.total) is not None:
        entries.append(
            history.rounding_warning(
                attempt.ctx,
                dynamics_total=invoice.total_amount,
                xero_total=created.total,
                currency_code=invoice.currency_code,
            )
        )
    return entries


def xero_deep_link(invoice: XeroInvoice) -> str:
    path = "AccountsPayable/Edit.aspx" if invoice.type == "ACCPAY" else "AccountsReceivable/View.aspx"
    return f"https://go.xero.com/{path}?InvoiceID={invoice.invoice_id}"


async def fail(attempt: SyncAttempt, entry: SyncHistoryEntry | None, *, create_refused: bool = False) -> None:
    """I10: export status Failed, the claim released, and the reason in sync history. Only when Xero
    refused the create itself is the pending create forgotten: nothing was made."""
    dataverse = attempt.deps.dataverse
    if entry is not None:
        await dataverse.add_sync_history(entry)
    changes: dict[str, object] = {"export_status": ExportStatus.FAILED, **release_changes(attempt)}
    if create_refused:
        changes["pending_create"] = refused_marker(attempt.details.pending_create)
    await dataverse.update_xero_details(attempt.details.id, changes, None)
    log_step(
        logger,
        "sync.failed",
        logging.WARNING,
        invoice_id=attempt.invoice.id,
        correlation_id=attempt.ctx.correlation_id,
    )

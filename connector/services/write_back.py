"""The result in Dynamics: Xero details, totals and sync history (I7), email (I8), or Failed (I10)."""

from __future__ import annotations

import asyncio
import logging

from connector.domain.dynamics import (
    ExportStatus,
    InvoiceTotals,
    SyncHistoryEntry,
)
from connector.domain.sync import history
from connector.domain.sync.lines import rounding_difference
from connector.domain.xero_records import XeroInvoice
from connector.services.sync_attempt import SyncAttempt, SyncResult
from connector.telemetry import get_logger, log_step

logger = get_logger("services.write_back")


async def write_back(
    attempt: SyncAttempt, created: XeroInvoice, result: SyncResult, *, edited_since: bool = False
) -> None:
    """I7: Xero details first (the Xero id must never be lost), then totals, then history; I8 email.
    `edited_since`: the user changed the invoice after the create was sent, so the change goes to Xero
    next, as an update (I11)."""
    xero, dataverse, connection = attempt.xero, attempt.deps.dataverse, attempt.connection
    online_url = None
    if created.status in ("AUTHORISED", "PAID"):
        online_url = await asyncio.to_thread(xero.get_online_invoice_url, created.invoice_id)
    changes: dict[str, object] = {
        "xero_invoice_id": created.invoice_id,
        "xero_invoice_number": created.invoice_number,
        "xero_status": created.status,
        "xero_url": xero_deep_link(created),
        "online_invoice_url": online_url,
        "export_status": ExportStatus.READY_TO_UPDATE if edited_since else ExportStatus.YES,
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
    }
    await dataverse.commit_sync_result(
        attempt.details.id, changes, _changed_totals(attempt, created), _history(attempt, created)
    )
    if edited_since:
        again = attempt.message.model_copy(update={"message_name": "ExportStatusChanged"})
        await asyncio.to_thread(attempt.deps.queues.send, attempt.deps.sync_queue, again.model_dump_json())
    if connection.send_email and created.status == "AUTHORISED":
        await asyncio.to_thread(xero.email_invoice, created.invoice_id, attempt.key("email"))
    log_step(
        logger,
        f"sync.{result.value}",
        invoice_id=attempt.invoice.id,
        connection=connection.name,
        xero_invoice_id=created.invoice_id,
        xero_number=created.invoice_number,
        correlation_id=attempt.message.correlation_id,
    )


def _changed_totals(attempt: SyncAttempt, created: XeroInvoice) -> InvoiceTotals | None:
    """Only when Xero's figures differ: an unchanged write would still fire the invoice's update webhook."""
    invoice = attempt.invoice
    if (invoice.total_tax, invoice.total_amount) == (created.total_tax, created.total) and (
        created.due_date is None or created.due_date == invoice.due_date
    ):
        return None
    return InvoiceTotals(
        invoice_id=invoice.id,
        total_tax=created.total_tax,
        total_amount=created.total,
        due_date=created.due_date,
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
    changes: dict[str, object] = {
        "export_status": ExportStatus.FAILED,
        "claimed_until": None,
        "claimed_by": None,
    }
    if create_refused:
        changes["pending_create"] = None
    await dataverse.update_xero_details(attempt.details.id, changes, None)
    log_step(
        logger,
        "sync.failed",
        logging.WARNING,
        invoice_id=attempt.invoice.id,
        correlation_id=attempt.ctx.correlation_id,
    )

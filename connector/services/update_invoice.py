"""update_invoice (I11): push a Dynamics change to an invoice already in Xero, by Xero's rules.

What may change is decided from Xero's current state, read first (one call): a draft or submitted
invoice takes everything; an authorised one everything but a step back in status; one with payments
only the fields Xero allows, the rest reported in sync history; a paid bill nothing. Whatever Xero still
refuses lands in sync history word for word, with export status Failed, as for creates.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from connector.domain.back_sync.rules import overdue_figures
from connector.domain.dynamics import ExportStatus, InvoiceState, SyncAction
from connector.domain.sync import history, lifecycle_history
from connector.domain.sync.eligibility import (
    UpdateDecision,
    decide_update,
    local_today,
    update_settings_refusal,
)
from connector.domain.sync.invoice import full_invoice_update, locked_changes, paid_invoice_update
from connector.domain.sync.pending_create import draft_fingerprint
from connector.domain.xero_records import XeroInvoice, XeroInvoiceDraft
from connector.errors import AuthorisationError, NotFoundError, XeroValidationError
from connector.services.claims import claim, release
from connector.services.connection_health import connection_lost
from connector.services.email_invoice import EmailContext, email_if_due
from connector.services.prepare import prepare
from connector.services.sync_attempt import SyncAttempt, SyncResult
from connector.services.write_back import fail
from connector.telemetry import get_logger

logger = get_logger("services.update_invoice")


async def update_invoice(attempt: SyncAttempt) -> SyncResult:
    invoice, details, connection = attempt.invoice, attempt.details, attempt.connection
    refusal = update_settings_refusal(details, connection)  # before any Xero call
    if refusal is not None:
        await _refuse(attempt, refusal)
        return SyncResult.FAILED
    await claim(attempt)
    try:
        assert details.xero_invoice_id is not None
        current = await asyncio.to_thread(attempt.xero.get_invoice, details.xero_invoice_id)
        decision = decide_update(invoice, details, connection, current)
        if not decision.allowed:
            await _refuse(attempt, decision, current)
            return SyncResult.FAILED
        draft = await prepare(attempt)
        if draft is None:
            return SyncResult.FAILED  # already marked Failed, the claim given back
        sent, kept = _what_to_send(draft, current, decision)
        key = attempt.key(f"update-{draft_fingerprint(sent)}-{_stamp(current.updated_at)}")
        updated = await asyncio.to_thread(attempt.xero.update_invoice, current.invoice_id, sent, key)
    except XeroValidationError as exc:
        await fail(attempt, history.validation_failed(attempt.ctx, exc.messages, action=SyncAction.UPDATE))
        return SyncResult.FAILED
    except NotFoundError:
        await fail(attempt, lifecycle_history.not_in_xero(attempt.ctx))
        return SyncResult.FAILED
    except AuthorisationError:
        await release(attempt)
        await connection_lost(attempt.deps.dataverse, connection, ctx=attempt.ctx)
        return SyncResult.WAITING_FOR_RECONNECT
    except BaseException:
        await release(attempt)
        raise
    await _write_back(attempt, updated, kept)
    await email_if_due(
        _email_context(attempt), details, updated, became_authorised=current.status != "AUTHORISED"
    )
    return SyncResult.UPDATED


def _what_to_send(
    draft: XeroInvoiceDraft, current: XeroInvoice, decision: UpdateDecision
) -> tuple[XeroInvoiceDraft, list[str]]:
    """The update itself, and the changes Xero keeps fixed (reported, not sent)."""
    if decision.scope == "paid_fields_only":
        return paid_invoice_update(draft, current), locked_changes(draft, current)
    return full_invoice_update(draft, current, decision.status or current.status), []


def _stamp(at: datetime | None) -> str:
    """Xero's last change of the invoice: a new state of it gets a new key, so no stale answer is
    replayed (the same update of the same state keeps its key)."""
    return at.isoformat() if at is not None else "unknown"


async def _refuse(attempt: SyncAttempt, decision: UpdateDecision, current: XeroInvoice | None = None) -> None:
    """Nothing to push (a paid bill, a voided invoice, updates off): say why, and the invoice is back to
    "Yes" with the claim (if any) given back."""
    await attempt.deps.dataverse.add_sync_history(history.update_refused(attempt.ctx, decision.reason or ""))
    changes: dict[str, object] = {"export_status": ExportStatus.YES}
    if current is not None:
        changes.update(xero_status=current.status, claimed_until=None, claimed_by=None)
    etag = None if current is not None else attempt.details.etag
    await attempt.deps.dataverse.update_xero_details(attempt.details.id, changes, etag)


async def _write_back(attempt: SyncAttempt, updated: XeroInvoice, kept: list[str]) -> None:
    invoice, dataverse = attempt.invoice, attempt.deps.dataverse
    today = local_today(attempt.now, attempt.connection.time_zone)
    amount_overdue, days_overdue = overdue_figures(
        updated.status, updated.amount_due, updated.due_date, today
    )
    await dataverse.update_xero_details(
        attempt.details.id,
        {
            "xero_status": updated.status,
            "xero_invoice_number": updated.invoice_number,
            "export_status": ExportStatus.YES,
            "amount_due": updated.amount_due,
            "amount_paid": updated.amount_paid,
            "amount_credited": updated.amount_credited,
            "total": updated.total,
            "total_tax": updated.total_tax,
            "due_date": updated.due_date,
            "amount_overdue": amount_overdue,
            "days_overdue": days_overdue,
            "claimed_until": None,
            "claimed_by": None,
            "last_xero_write": attempt.now,
        },
        None,
    )
    if invoice.state == InvoiceState.ACTIVE:  # a Paid or cancelled invoice is read-only in Dynamics
        await dataverse.update_invoice_totals(
            invoice.id,
            total_tax=updated.total_tax,
            total_amount=updated.total,
            due_date=updated.due_date,
            amount_due=updated.amount_due,
        )
    number = updated.invoice_number or attempt.details.xero_invoice_number
    await dataverse.add_sync_history(history.updated(attempt.ctx, invoice_type=updated.type, number=number))
    if kept:
        entry = lifecycle_history.amounts_kept(
            attempt.ctx, invoice_type=updated.type, number=number, changes=kept
        )
        await dataverse.add_sync_history(entry)


def _email_context(attempt: SyncAttempt) -> EmailContext:
    return EmailContext(
        attempt.deps.dataverse, attempt.xero, attempt.connection, attempt.now, attempt.ctx.correlation_id
    )

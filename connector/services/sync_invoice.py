"""sync_invoice (I1–I13): one Dynamics invoice to Xero, exactly once, with the result written back."""

from __future__ import annotations

import asyncio
import logging

from connector.domain.dynamics import (
    ExportStatus,
)
from connector.domain.messages import InvoiceSyncMessage
from connector.domain.sync import history
from connector.domain.sync.pending_create import PendingCreate
from connector.domain.xero_records import XeroInvoice, XeroInvoiceDraft
from connector.errors import (
    AuthorisationError,
    NotFoundError,
    RateLimitedError,
    XeroValidationError,
)
from connector.services.claims import (
    claim,
    find_previous_creates,
    pending_create,
    record_pending_create,
    release,
)
from connector.services.connection_health import connection_lost
from connector.services.prepare import prepare
from connector.services.sync_attempt import SyncAttempt, SyncDependencies, SyncResult, load_attempt
from connector.services.sync_credit_note import sync_credit_note
from connector.services.update_invoice import update_invoice
from connector.services.write_back import fail, write_back
from connector.telemetry import get_logger, log_step

logger = get_logger("services.sync_invoice")


async def sync_invoice(message: InvoiceSyncMessage, deps: SyncDependencies) -> SyncResult:
    """Re-read the invoice, check it, claim it, send it, write back. Safe to run any number of times."""
    if deps.recently_synced.covers(message):
        log_step(
            logger, "sync.already_seen", invoice_id=message.invoice_id, message_name=message.message_name
        )
        return SyncResult.NOT_ELIGIBLE
    loaded = await load_attempt(message, deps)
    if isinstance(loaded, SyncResult):
        return loaded
    if loaded.invoice.invoice_type == "credit_note":  # I14: its own Xero document type
        return await sync_credit_note(loaded)
    if loaded.details.export_status == ExportStatus.READY_TO_UPDATE:
        return await update_invoice(loaded)
    result = await _create(loaded)
    if result in (SyncResult.CREATED, SyncResult.ADOPTED):
        deps.recently_synced.note(loaded.invoice.id)
    return result


async def _create(attempt: SyncAttempt) -> SyncResult:
    if not attempt.claimed_at_setup:
        await claim(attempt, PendingCreate.unprepared())
    try:
        pending = pending_create(attempt)
        # A create may have reached Xero before: look for it first. A failure here raises, and the
        # record stays, so the next attempt looks again instead of creating a second invoice.
        previous = (await find_previous_creates([attempt])).get(attempt.invoice.id) if pending else None
        draft = await prepare(attempt)
        if draft is None:
            return SyncResult.FAILED  # already marked Failed, the claim given back
        create = PendingCreate.for_draft(draft, attempt.connection.id, attempt.invoice.id, attempt.generation)
        if previous is not None:
            edited = pending is not None and pending.fingerprint != create.fingerprint
            await write_back(attempt, previous, SyncResult.ADOPTED, edited_since=edited)
            return SyncResult.ADOPTED
        await record_pending_create(attempt, create)
        created = await _send(attempt, draft, create)
    except XeroValidationError as exc:
        await fail(attempt, history.validation_failed(attempt.ctx, exc.messages))
        return SyncResult.FAILED
    except AuthorisationError:
        await release(attempt)
        await connection_lost(attempt.deps.dataverse, attempt.connection, ctx=attempt.ctx)
        return SyncResult.WAITING_FOR_RECONNECT
    except RateLimitedError as exc:
        await release(attempt, exc)
        # The sweep finds every invoice still waiting (export status "No") and sends 50 per call.
        sweeps, correlation_id = attempt.deps.sweeps, attempt.ctx.correlation_id
        if sweeps is None or not await sweeps.hand_off(
            exc, attempt.connection.id, correlation_id=correlation_id
        ):
            raise
        log_step(logger, "sync.left_for_sweep", invoice_id=attempt.invoice.id, reason=str(exc))
        return SyncResult.LEFT_FOR_SWEEP
    except BaseException as exc:
        await release(attempt, exc)
        raise
    if created is None:
        return SyncResult.FAILED
    await write_back(attempt, created, SyncResult.CREATED)
    return SyncResult.CREATED


async def _send(attempt: SyncAttempt, draft: XeroInvoiceDraft, create: PendingCreate) -> XeroInvoice | None:
    """The create itself. Xero refusing it is positive evidence that nothing was made."""
    attempt.sending = True
    try:
        return await asyncio.to_thread(attempt.xero.create_invoice, draft, create.key)
    except XeroValidationError as exc:
        await fail(attempt, history.validation_failed(attempt.ctx, exc.messages), create_refused=True)
        return None


async def sync_gave_up(
    message: InvoiceSyncMessage, reason: str, deps: SyncDependencies, attempts: int
) -> None:
    """O2: the last retry failed. Export status Failed and a sync-history line, so the user sees it.
    A pending create is left as it is: if it may have reached Xero, the next attempt looks there first."""
    try:
        snapshot = await deps.dataverse.get_invoice_snapshot(message.invoice_id)
    except NotFoundError:
        return
    details = snapshot.xero_details
    if details is None or details.export_status == ExportStatus.YES:
        return
    ctx = history.HistoryContext(
        invoice_id=message.invoice_id,
        at=deps.clock(),
        correlation_id=message.correlation_id,
        connection_id=details.connection_id,
    )
    await deps.dataverse.update_xero_details(details.id, {"export_status": ExportStatus.FAILED}, None)
    await deps.dataverse.add_sync_history(history.gave_up(ctx, attempts, reason))
    log_step(logger, "sync.gave_up", logging.ERROR, invoice_id=message.invoice_id, reason=reason)

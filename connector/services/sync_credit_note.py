"""sync_credit_note (I14): a credit note raised in Dynamics to Xero, exactly once, allocated to the invoice
it credits when the amounts allow; and back from Xero when Xero changes it.

Exactly once as for invoices: the create is recorded on Xero details (pending create) before it is sent,
every attempt of one create carries one Idempotency-Key, and the record is cleared only by positive
evidence: the write-back, the credit note found in Xero, or Xero refusing the create.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import date
from typing import Protocol, cast
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    ExportStatus,
    InvoiceTotals,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.domain.sync import credit_note as notes
from connector.domain.sync import history
from connector.domain.sync.credit_note import AllocationAction
from connector.domain.sync.eligibility import local_today
from connector.domain.sync.invoice import idempotency_key
from connector.domain.sync.pending_create import FINGERPRINT_LENGTH, PendingCreate
from connector.domain.xero_records import CreditNoteType, XeroCreditNote, XeroCreditNoteDraft
from connector.errors import (
    AuthorisationError,
    ConcurrencyConflictError,
    NotFoundError,
    RetryableError,
    XeroValidationError,
)
from connector.ports import InvoiceSnapshotView, XeroPort
from connector.services.back_sync import BackSyncDependencies, EventResult
from connector.services.claims import claim, pending_create, record_pending_create, release
from connector.services.connection_health import connection_lost
from connector.services.prepare import ensure_items, resolve_contact
from connector.services.sync_attempt import SyncAttempt, SyncResult
from connector.services.validate_invoice import check_before_sending
from connector.services.write_back import fail
from connector.telemetry import get_logger, log_step

logger = get_logger("services.sync_credit_note")


class CreditNoteXero(XeroPort, Protocol):
    """The reads a Dynamics credit note needs beyond XeroPort (XeroClient has them)."""

    def get_credit_note(self, credit_note_id: str) -> XeroCreditNote:
        """NotFoundError when Xero has no such credit note."""

    def find_credit_notes(
        self, contact_id: str, on: date | None, type_: CreditNoteType
    ) -> list[XeroCreditNote]:
        """The contact's credit notes of one type and date."""


def _xero(attempt: SyncAttempt) -> CreditNoteXero:
    return cast(CreditNoteXero, attempt.xero)


def pending_for(draft: XeroCreditNoteDraft, attempt: SyncAttempt) -> PendingCreate:
    """The key every attempt of this create carries: derived from what is sent, as for invoices, and
    from how many creates Xero refused (so a fix made in Xero is not met by the old refusal)."""
    fingerprint = hashlib.sha256(draft.model_dump_json().encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]
    generation = attempt.generation
    revision = f"{fingerprint}:{generation}" if generation else fingerprint
    key = idempotency_key(attempt.connection.id, attempt.invoice.id, "credit-note-create", revision)
    return PendingCreate(key, fingerprint)


async def sync_credit_note(attempt: SyncAttempt) -> SyncResult:
    """Claim, check (I16), contact and items, create (or find the earlier create), allocate, write back."""
    if attempt.details.credit_note_id:
        # Already in Xero (export status set back to "No" by hand): a second create would duplicate it.
        await attempt.deps.dataverse.add_sync_history(notes.update_not_sent(attempt.ctx))
        await attempt.deps.dataverse.update_xero_details(
            attempt.details.id, {"export_status": ExportStatus.YES}, None
        )
        return SyncResult.NOT_ELIGIBLE
    if not attempt.claimed_at_setup:
        await claim(attempt)
    try:
        credited = await _credited_invoice(attempt)
        purchase = credited is not None and credited.invoice.invoice_type == "purchase"
        if not await check_before_sending(attempt, purchase=purchase):
            return SyncResult.FAILED
        made = await _create(attempt, purchase)
    except XeroValidationError as exc:
        await fail(attempt, history.validation_failed(attempt.ctx, exc.messages))
        return SyncResult.FAILED
    except AuthorisationError:
        await release(attempt)
        await connection_lost(attempt.deps.dataverse, attempt.connection, ctx=attempt.ctx)
        return SyncResult.WAITING_FOR_RECONNECT
    except BaseException:
        await release(attempt)
        raise
    if made is None:
        return SyncResult.FAILED
    note, adopted = made
    entries = [notes.created(attempt.ctx, note, adopted=adopted)]
    note, allocated = await _allocate(attempt, note, credited)
    await _write_back(attempt, note, entries + allocated)
    log_step(
        logger,
        "credit_note.adopted" if adopted else "credit_note.created",
        invoice_id=attempt.invoice.id,
        connection=attempt.connection.name,
        credit_note_id=note.credit_note_id,
        xero_number=note.credit_note_number,
        correlation_id=attempt.ctx.correlation_id,
    )
    return SyncResult.ADOPTED if adopted else SyncResult.CREATED


async def _credited_invoice(attempt: SyncAttempt) -> InvoiceSnapshotView | None:
    credited_id = attempt.invoice.credits_invoice_id
    if credited_id is None:
        return None
    try:
        return await attempt.deps.dataverse.get_invoice_snapshot(credited_id)
    except NotFoundError:
        return None


async def _create(attempt: SyncAttempt, purchase: bool) -> tuple[XeroCreditNote, bool] | None:
    """(credit note, found from an earlier attempt); None when the credit note failed (already written)."""
    contact_id = await resolve_contact(attempt)
    if contact_id is None:
        await fail(attempt, entry=None)
        return None
    items = await ensure_items(attempt)
    draft = notes.build_credit_note_draft(
        attempt.invoice, attempt.connection, items, contact_id, purchase=purchase
    )
    create = pending_for(draft, attempt)
    if pending_create(attempt) is not None:
        # An earlier attempt may have created it and lost the answer: look in Xero before sending again.
        found = await asyncio.to_thread(_xero(attempt).find_credit_notes, contact_id, draft.date, draft.type)
        previous = [note for note in found if notes.matches_draft(note, draft)]
        if previous:
            return previous[0], True
    await record_pending_create(attempt, create)
    attempt.sending = True
    try:
        return await asyncio.to_thread(attempt.xero.create_credit_note, draft, create.key), False
    except XeroValidationError as exc:
        # Xero refusing the create is positive evidence that nothing was made.
        await fail(attempt, history.validation_failed(attempt.ctx, exc.messages), create_refused=True)
        return None


def _credited_number(credited: InvoiceSnapshotView) -> str:
    details = credited.xero_details
    return (
        (details.xero_invoice_number if details else None) or credited.invoice.name or credited.invoice.number
    )


async def allocate_to_credited(
    xero: CreditNoteXero,
    connection: ConnectionSettings,
    credit_note_invoice_id: UUID,
    note: XeroCreditNote,
    credited: InvoiceSnapshotView,
    ctx: history.HistoryContext,
) -> tuple[XeroCreditNote, list[SyncHistoryEntry]]:
    """Allocate all of the credit to the credited invoice when it fits; sync history says so either way.
    Returns the credit note as Xero has it afterwards."""
    number = _credited_number(credited)
    details = credited.xero_details
    xero_invoice = None
    if details is not None and details.xero_invoice_id:
        try:
            xero_invoice = await asyncio.to_thread(xero.get_invoice, details.xero_invoice_id)
        except NotFoundError:
            xero_invoice = None
    decision = notes.decide_allocation(note, xero_invoice, number)
    if decision.action != AllocationAction.ALLOCATE or xero_invoice is None or decision.amount is None:
        return note, [notes.allocation_entry(ctx, note, decision, number)]
    key = idempotency_key(connection.id, credit_note_invoice_id, "credit-note-allocate", note.credit_note_id)
    try:
        await asyncio.to_thread(
            xero.allocate_credit_note,
            note.credit_note_id,
            xero_invoice.invoice_id,
            decision.amount,
            key,
            local_today(ctx.at, connection.time_zone),
        )
    except XeroValidationError as exc:
        return note, [notes.allocation_refused(ctx, note, number, exc.messages)]
    after = await asyncio.to_thread(xero.get_credit_note, note.credit_note_id)
    return after, [notes.allocation_entry(ctx, note, decision, number)]


async def _allocate(
    attempt: SyncAttempt, note: XeroCreditNote, credited: InvoiceSnapshotView | None
) -> tuple[XeroCreditNote, list[SyncHistoryEntry]]:
    if credited is None:
        if attempt.invoice.credits_invoice_id is None:
            return note, []
        missing = notes.AllocationDecision(
            action=AllocationAction.NOT_ALLOCATED, reason="that invoice is no longer in Dynamics"
        )
        return note, [notes.allocation_entry(attempt.ctx, note, missing, "it credits")]
    return await allocate_to_credited(
        _xero(attempt), attempt.connection, attempt.invoice.id, note, credited, attempt.ctx
    )


async def _write_back(attempt: SyncAttempt, note: XeroCreditNote, entries: list[SyncHistoryEntry]) -> None:
    """Xero details, Xero's totals on the Dynamics credit note, and sync history in one atomic write."""
    invoice = attempt.invoice
    changes = {**notes.details_of(note), **notes.exported_now(attempt.now), "last_xero_write": attempt.now}
    totals = None
    if (invoice.total_tax, invoice.total_amount) != (note.total_tax, note.total):
        totals = InvoiceTotals(invoice_id=invoice.id, total_tax=note.total_tax, total_amount=note.total)
    await attempt.deps.dataverse.commit_sync_result(attempt.details.id, changes, totals, entries)


# --- back from Xero ---------------------------------------------------------------------------------


async def apply_credit_note_event(
    credit_note_id: str,
    details: XeroDetails,
    connection: ConnectionSettings,
    deps: BackSyncDependencies,
    correlation_id: str,
) -> EventResult:
    """B2 for a credit note raised in Dynamics: status, remaining credit and allocations made in Xero.
    A credit note that was a draft is allocated to the invoice it credits once Xero has it approved."""
    dataverse, xero = deps.dataverse, cast(CreditNoteXero, deps.xero_for(connection))
    snapshot = None
    if details.invoice_id is not None:
        try:
            snapshot = await dataverse.get_invoice_snapshot(details.invoice_id)
        except NotFoundError:
            snapshot = None
    details = (snapshot.xero_details if snapshot else None) or details
    try:
        note = await asyncio.to_thread(xero.get_credit_note, credit_note_id)
    except NotFoundError:
        return EventResult.IGNORED
    ctx = history.HistoryContext(
        invoice_id=details.invoice_id or UUID(int=0),
        at=deps.clock(),
        correlation_id=correlation_id,
        connection_id=connection.id,
    )
    allocated: list[SyncHistoryEntry] = []
    credited_id = snapshot.invoice.credits_invoice_id if snapshot else None
    if credited_id and details.xero_status in ("DRAFT", "SUBMITTED") and note.status == "AUTHORISED":
        credited = await _snapshot_or_none(deps, credited_id)
        if credited is not None and not note.allocations:
            note, allocated = await allocate_to_credited(xero, connection, credited_id, note, credited, ctx)
            for entry in allocated:  # said at once: a retry of this event will not allocate again
                await dataverse.add_sync_history(entry)
    changes = notes.changed_details(details, note)
    # When the connector just allocated it, the allocation's own entry says what the credit went to.
    entries = notes.changed_in_xero(ctx, details, note, credit=not allocated) if snapshot else []
    if changes:
        try:
            await dataverse.update_xero_details(details.id, changes, details.etag)
        except ConcurrencyConflictError:
            raise RetryableError("Xero details changed while this event was applied; retrying") from None
    for entry in entries:
        await dataverse.add_sync_history(entry)
    log_step(
        logger,
        "credit_note.back_sync",
        invoice_id=details.invoice_id,
        credit_note_id=credit_note_id,
        xero_status=note.status,
        changed=",".join(sorted(changes)) or None,
        correlation_id=correlation_id,
    )
    return EventResult.UPDATED if changes else EventResult.UNCHANGED


async def _snapshot_or_none(deps: BackSyncDependencies, invoice_id: UUID) -> InvoiceSnapshotView | None:
    try:
        return await deps.dataverse.get_invoice_snapshot(invoice_id)
    except NotFoundError:
        return None


async def sync_credit_notes_apart(attempts: list[SyncAttempt]) -> tuple[list[SyncAttempt], list[SyncResult]]:
    """For the sweep: credit notes go one by one through sync_credit_note, never into an invoice batch.
    Returns the invoices left for the batch, and the credit notes' results."""
    invoices = [attempt for attempt in attempts if attempt.invoice.invoice_type != "credit_note"]
    results = [
        await sync_credit_note(attempt)
        for attempt in attempts
        if attempt.invoice.invoice_type == "credit_note"
    ]
    return invoices, results

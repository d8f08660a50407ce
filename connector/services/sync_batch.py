"""sync_batch (I2): a backlog of one connection, up to 50 invoices per Xero call.

Each chunk is claimed just before it is sent and given back when it is not, so a budget that runs out
mid-backlog leaves only that chunk to retry, never the whole backlog claimed. Per chunk: one Xero lookup
for creates that may have reached Xero before, one claim write per invoice (recording its create), one
Xero create, one Dataverse write-back.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from connector.domain.sync import history
from connector.domain.sync.pending_create import PendingCreate, batch_key
from connector.domain.xero_records import XeroInvoice, XeroInvoiceDraft
from connector.errors import ClaimedElsewhereError, XeroValidationError
from connector.services.claims import (
    claim,
    claimed_elsewhere,
    find_previous_creates,
    pending_create,
    record_pending_create,
    release_all,
)
from connector.services.prepare import prepare, prewarm_items
from connector.services.sync_attempt import SyncAttempt, SyncResult
from connector.services.write_back import Outcome, fail, write_back_all
from connector.telemetry import get_logger

logger = get_logger("services.sync_batch")

# Xero recommends batches of up to 50 elements.
BATCH_SIZE = 50

Ready = list[tuple[SyncAttempt, XeroInvoiceDraft, PendingCreate]]


async def sync_batch(attempts: list[SyncAttempt]) -> list[SyncResult]:
    """Invoices of one connection created in batches of up to 50 per Xero call, with
    summarizeErrors=false so each element succeeds or fails on its own."""
    results: list[SyncResult] = []
    for start in range(0, len(attempts), BATCH_SIZE):
        results += await _sync_chunk(attempts[start : start + BATCH_SIZE])
    return results


async def _sync_chunk(chunk: list[SyncAttempt]) -> list[SyncResult]:
    free = [attempt for attempt in chunk if not claimed_elsewhere(attempt)]  # the others finish on their own
    if not free:
        return []
    held = [attempt for attempt in free if attempt.claimed_at_setup]
    try:
        await prewarm_items(free)
        # Creates that may have reached Xero before: one lookup for all of them, before anything is claimed.
        previous = await find_previous_creates([attempt for attempt in free if pending_create(attempt)])
        results: list[SyncResult] = []
        prepared: list[tuple[SyncAttempt, XeroInvoiceDraft]] = []
        for attempt in free:
            draft = await _prepare_or_fail(attempt)
            if draft is None:
                results.append(SyncResult.FAILED)
            else:
                prepared.append((attempt, draft))
        claimed, adopted, ready = await _claim_all(prepared, previous)
        held = claimed
        created = await _create(ready) if ready else []
    except BaseException as exc:
        await release_all(held, exc)  # pending creates stay: only positive evidence clears them
        raise
    await write_back_all(adopted + [outcome for outcome in created if outcome.result == SyncResult.CREATED])
    return results + [o.result for o in adopted] + [o.result for o in created]


async def _prepare_or_fail(attempt: SyncAttempt) -> XeroInvoiceDraft | None:
    try:
        return await prepare(attempt)
    except XeroValidationError as exc:
        await fail(attempt, history.validation_failed(attempt.ctx, exc.messages))
        return None


async def _claim_all(
    prepared: list[tuple[SyncAttempt, XeroInvoiceDraft]], previous: dict[UUID, XeroInvoice]
) -> tuple[list[SyncAttempt], list[Outcome], Ready]:
    """One write per invoice: the claim, and the create about to be sent (adopted ones need no create)."""
    claimed: list[SyncAttempt] = []
    adopted: list[Outcome] = []
    ready: Ready = []
    for attempt, draft in prepared:
        create = PendingCreate.for_draft(draft, attempt.connection.id, attempt.invoice.id, attempt.generation)
        found = previous.get(attempt.invoice.id)
        try:
            if attempt.claimed_at_setup and found is None:
                await record_pending_create(attempt, create)
            elif not attempt.claimed_at_setup:
                await claim(attempt, None if found is not None else create)
        except ClaimedElsewhereError:
            continue  # its own message will finish it
        claimed.append(attempt)
        if found is not None:
            pending = pending_create(attempt)
            edited = pending is not None and pending.fingerprint != create.fingerprint
            adopted.append(Outcome(attempt, found, SyncResult.ADOPTED, edited))
        else:
            ready.append((attempt, draft, create))
    return claimed, adopted, ready


async def _create(ready: Ready) -> list[Outcome]:
    first = ready[0][0]
    key = batch_key(first.connection.id, [create.key for _, _, create in ready])
    for attempt, _, _ in ready:
        attempt.sending = True
    created = await asyncio.to_thread(first.xero.create_invoices, [draft for _, draft, _ in ready], key)
    outcomes: list[Outcome] = []
    for (attempt, _, _), element in zip(ready, created, strict=True):
        if element.validation_errors:
            entry = history.validation_failed(attempt.ctx, element.validation_errors)
            await fail(attempt, entry, create_refused=True)
            outcomes.append(Outcome(attempt, element, SyncResult.FAILED))
        else:
            outcomes.append(Outcome(attempt, element, SyncResult.CREATED))
    return outcomes

"""sync_batch (I2): a backlog of one connection, up to 50 invoices per Xero call.

Each chunk is claimed just before it is sent and given back when it is not, so a budget that runs out
mid-backlog leaves only that chunk to retry, never the whole backlog claimed.
"""

from __future__ import annotations

import asyncio

from connector.domain.sync import history
from connector.domain.sync.pending_create import PendingCreate, batch_key
from connector.domain.xero_records import XeroInvoiceDraft
from connector.errors import ClaimedElsewhereError, XeroValidationError
from connector.services.claims import (
    claim,
    find_previous_creates,
    pending_create,
    record_pending_create,
    release,
)
from connector.services.prepare import prepare, prewarm_items
from connector.services.sync_attempt import SyncAttempt, SyncResult
from connector.services.write_back import fail, write_back
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
    claimed = await _claim_all(chunk)
    results: list[SyncResult] = []
    ready: Ready = []
    try:
        if claimed:
            await prewarm_items(claimed)
        # Creates that may have reached Xero before: one lookup for all of them.
        adopted = await find_previous_creates([a for a in claimed if pending_create(a)])
        for attempt in list(claimed):
            draft = await _prepare_or_fail(attempt)
            if draft is None:
                claimed.remove(attempt)
                results.append(SyncResult.FAILED)
                continue
            create = PendingCreate.for_draft(draft, attempt.connection.id, attempt.invoice.id)
            previous = adopted.get(attempt.invoice.id)
            if previous is not None:
                pending = pending_create(attempt)
                edited = pending is not None and pending.fingerprint != create.fingerprint
                claimed.remove(attempt)
                await write_back(attempt, previous, SyncResult.ADOPTED, edited_since=edited)
                results.append(SyncResult.ADOPTED)
                continue
            await record_pending_create(attempt, create)
            ready.append((attempt, draft, create))
        if ready:
            results += await _create(ready)
    except BaseException:
        for attempt in claimed:
            await release(attempt)  # pending creates stay: only positive evidence clears them
        raise
    return results


async def _claim_all(chunk: list[SyncAttempt]) -> list[SyncAttempt]:
    claimed = []
    for attempt in chunk:
        try:
            if not attempt.claimed_at_setup:
                await claim(attempt)
        except ClaimedElsewhereError:
            continue  # its own message will finish it
        claimed.append(attempt)
    return claimed


async def _prepare_or_fail(attempt: SyncAttempt) -> XeroInvoiceDraft | None:
    try:
        return await prepare(attempt)
    except XeroValidationError as exc:
        await fail(attempt, history.validation_failed(attempt.ctx, exc.messages))
        return None


async def _create(ready: Ready) -> list[SyncResult]:
    first = ready[0][0]
    key = batch_key(first.connection.id, [create.key for _, _, create in ready])
    created = await asyncio.to_thread(first.xero.create_invoices, [draft for _, draft, _ in ready], key)
    results: list[SyncResult] = []
    for (attempt, _, _), element in zip(ready, created, strict=True):
        if element.validation_errors:
            entry = history.validation_failed(attempt.ctx, element.validation_errors)
            await fail(attempt, entry, create_refused=True)
            results.append(SyncResult.FAILED)
        else:
            await write_back(attempt, element, SyncResult.CREATED)
            results.append(SyncResult.CREATED)
    return results

"""sync_batch (I2): a backlog of one connection, up to 50 invoices per Xero call."""

from __future__ import annotations

import asyncio

from connector.domain.sync import history
from connector.domain.sync.invoice import idempotency_key
from connector.domain.xero_records import XeroInvoiceDraft
from connector.errors import (
    ClaimedElsewhereError,
    RateLimitedError,
    XeroValidationError,
)
from connector.services.claims import claim, find_previous_create, release
from connector.services.prepare import prepare, prewarm_items
from connector.services.sync_attempt import SyncAttempt, SyncResult
from connector.services.write_back import fail, write_back
from connector.telemetry import get_logger

logger = get_logger("services.sync_batch")

# Xero recommends batches of up to 50 elements.
BATCH_SIZE = 50


async def sync_batch(attempts: list[SyncAttempt]) -> list[SyncResult]:
    """I2 backlog: invoices of one connection created in batches of up to 50 per Xero call, with
    summarizeErrors=false so each element succeeds or fails on its own."""
    results: list[SyncResult] = []
    ready: list[tuple[SyncAttempt, XeroInvoiceDraft]] = []
    claimed: list[SyncAttempt] = []  # claimed and not yet finished: released if the batch stops early
    try:
        if attempts:
            await prewarm_items(attempts)
        for attempt in attempts:
            try:
                stale_claim = False if attempt.claimed_at_setup else await claim(attempt)
            except ClaimedElsewhereError:
                continue  # its own message will finish it
            claimed.append(attempt)
            try:
                draft = await prepare(attempt)
            except XeroValidationError as exc:
                await fail(attempt, history.validation_failed(attempt.ctx, exc.messages))
                draft = None
            if draft is None:
                claimed.remove(attempt)
                results.append(SyncResult.FAILED)
                continue
            previous = await find_previous_create(attempt, attempt.xero, draft.url) if stale_claim else None
            if previous is not None:
                claimed.remove(attempt)
                await write_back(attempt, previous, SyncResult.ADOPTED)
                results.append(SyncResult.ADOPTED)
            else:
                ready.append((attempt, draft))
    except BaseException:
        for attempt in claimed:
            await release(attempt, create_attempted=False)
        raise
    for start in range(0, len(ready), BATCH_SIZE):
        results.extend(await _create_chunk(ready[start : start + BATCH_SIZE]))
    return results


async def _create_chunk(chunk: list[tuple[SyncAttempt, XeroInvoiceDraft]]) -> list[SyncResult]:
    first = chunk[0][0]
    revision = ",".join(sorted(attempt.key("create") for attempt, _ in chunk))
    key = idempotency_key(first.connection.id, "batch", "create-batch", revision)
    try:
        created = await asyncio.to_thread(first.xero.create_invoices, [draft for _, draft in chunk], key)
    except BaseException as exc:
        # A 429 (Xero's or our own budget's) means nothing was created; anything else might have been.
        for attempt, _ in chunk:
            await release(attempt, create_attempted=not isinstance(exc, RateLimitedError))
        raise
    results: list[SyncResult] = []
    for (attempt, _), element in zip(chunk, created, strict=True):
        if element.validation_errors:
            await fail(attempt, history.validation_failed(attempt.ctx, element.validation_errors))
            results.append(SyncResult.FAILED)
        else:
            await write_back(attempt, element, SyncResult.CREATED)
            results.append(SyncResult.CREATED)
    return results

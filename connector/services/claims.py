"""Claims and the crash window: an ETag write on Xero details, so two workers never run one invoice's
create at once; and the pending-create record, so a create whose answer was lost is never sent twice."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from connector.domain.sync.header import dynamics_record_url
from connector.domain.sync.pending_create import PendingCreate
from connector.domain.xero_records import XeroInvoice
from connector.errors import ClaimedElsewhereError, ConcurrencyConflictError, RateLimitedError
from connector.ports import SyncWrite
from connector.services.sync_attempt import CLAIM_SECONDS, SyncAttempt
from connector.telemetry import get_logger, log_step

logger = get_logger("services.claims")

CLAIM_RECHECK_SECONDS = 5
GONE = ("DELETED", "VOIDED")


def claimed_elsewhere(attempt: SyncAttempt) -> bool:
    claimed_until = attempt.details.claimed_until
    return not attempt.claimed_at_setup and claimed_until is not None and claimed_until > attempt.now


async def claim(attempt: SyncAttempt, create: PendingCreate | None = None) -> None:
    """Take the invoice with an ETag write; ClaimedElsewhereError when another worker holds it. With
    `create`, the same write records the create about to be sent."""
    details, now = attempt.details, attempt.now
    if details.claimed_until is not None and details.claimed_until > now:
        # Look again soon rather than at expiry: the holder usually finishes within seconds.
        wait = min((details.claimed_until - now).total_seconds() + 1, CLAIM_RECHECK_SECONDS)
        raise ClaimedElsewhereError(f"invoice {attempt.invoice.id} is being synced by another worker", wait)
    changes: dict[str, object] = {
        "claimed_until": now + timedelta(seconds=CLAIM_SECONDS),
        "claimed_by": uuid.uuid4().hex,
    }
    # An unprepared record never replaces one an earlier attempt left (its key, or Xero's refusals).
    unprepared = create is not None and not create.prepared
    if unprepared and details.pending_create is not None:
        create = None
    if create is not None:
        changes["pending_create"] = create.encode()
    try:
        attempt.etag = await attempt.deps.dataverse.update_xero_details(details.id, changes, details.etag)
    except ConcurrencyConflictError:
        raise ClaimedElsewhereError(
            f"invoice {attempt.invoice.id} was claimed by another worker", 2
        ) from None
    if create is not None and create.prepared:
        attempt.details = attempt.details.model_copy(update={"pending_create": create.encode()})
    attempt.marked_unprepared = create is not None and not create.prepared


def release_changes(attempt: SyncAttempt, cause: BaseException | None = None) -> dict[str, object]:
    """The claim given back. The pending-create record stays: only positive evidence clears it, and
    this attempt's own unprepared record is cleared when it sent nothing, or when what stopped it was
    Xero's 429 or our budget refusing the call (nothing reached Xero)."""
    changes: dict[str, object] = {"claimed_until": None, "claimed_by": None}
    sent = attempt.sending and not isinstance(cause, RateLimitedError)
    if attempt.marked_unprepared and not sent:
        changes["pending_create"] = attempt.details.pending_create  # as it was before this attempt
    return changes


async def release_all(attempts: Sequence[SyncAttempt], cause: BaseException | None = None) -> None:
    """Give many claims back in one round trip (a chunk of the sweep)."""
    if not attempts:
        return
    writes = [SyncWrite(a.details.id, release_changes(a, cause), None, []) for a in attempts]
    try:
        await attempts[0].deps.dataverse.commit_sync_results(writes)
    except Exception as exc:  # the claims expire by themselves; never hide the original error
        log_step(
            logger, "sync.release_failed", logging.WARNING, invoices=len(attempts), error=type(exc).__name__
        )


async def release(attempt: SyncAttempt, cause: BaseException | None = None) -> None:
    """Give the claim back (see release_changes)."""
    try:
        await attempt.deps.dataverse.update_xero_details(
            attempt.details.id, release_changes(attempt, cause), None
        )
    except Exception as exc:  # the claim expires by itself; never hide the original error
        log_step(
            logger,
            "sync.release_failed",
            logging.WARNING,
            invoice_id=attempt.invoice.id,
            error=type(exc).__name__,
        )


def pending_create(attempt: SyncAttempt) -> PendingCreate | None:
    return PendingCreate.decode(attempt.details.pending_create)


async def record_pending_create(attempt: SyncAttempt, create: PendingCreate) -> None:
    """Written before the create is sent, under our claim (If-Match), so a lost answer is looked up."""
    if attempt.details.pending_create == create.encode() or attempt.marked_unprepared:
        return  # the same create again, with the same key; or this attempt's claim recorded it
    etag = attempt.etag or attempt.details.etag
    try:
        attempt.etag = await attempt.deps.dataverse.update_xero_details(
            attempt.details.id, {"pending_create": create.encode()}, etag
        )
    except ConcurrencyConflictError:
        raise ClaimedElsewhereError(f"invoice {attempt.invoice.id} changed while claimed", 2) from None
    attempt.details = attempt.details.model_copy(update={"pending_create": create.encode()})


def invoice_url(attempt: SyncAttempt) -> str:
    """The deep link the connector sets as the Xero invoice's Url: how a lost create is found."""
    return dynamics_record_url(attempt.deps.org_url, attempt.invoice.id)


async def find_previous_creates(attempts: Sequence[SyncAttempt]) -> dict[UUID, XeroInvoice]:
    """For attempts whose create may have reached Xero: the invoice it made, looked up by Url, in one
    Xero call for all of them (one connection). Raises when Xero cannot answer: nothing is cleared then."""
    if not attempts:
        return {}
    urls = {attempt.invoice.id: invoice_url(attempt).lower() for attempt in attempts}
    found = await asyncio.to_thread(attempts[0].xero.find_invoices_by_urls, sorted(set(urls.values())))
    live = {invoice.url.lower(): invoice for invoice in found if invoice.status not in GONE and invoice.url}
    previous = {invoice_id: live[url] for invoice_id, url in urls.items() if url in live}
    for invoice_id, invoice in previous.items():
        log_step(logger, "sync.adopted", invoice_id=invoice_id, xero_invoice_id=invoice.invoice_id)
    return previous

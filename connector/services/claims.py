"""Claims: an ETag write on Xero details, so two workers never run one invoice's create at once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from connector.domain.xero_records import XeroInvoice
from connector.errors import (
    ClaimedElsewhereError,
    ConcurrencyConflictError,
)
from connector.ports import XeroPort
from connector.services.sync_attempt import CLAIM_SECONDS, SyncAttempt
from connector.telemetry import get_logger, log_step

logger = get_logger("services.claims")

CLAIM_RECHECK_SECONDS = 5
# Xero recommends batches of up to 50 elements.


async def claim(attempt: SyncAttempt) -> bool:
    """Take the invoice with an ETag write. Returns whether an earlier attempt left a stale claim
    (it may have created the Xero invoice and crashed before writing back)."""
    details, now = attempt.details, attempt.now
    if details.claimed_until is not None and details.claimed_until > now:
        # Look again soon rather than at expiry: the holder usually finishes within seconds.
        wait = min((details.claimed_until - now).total_seconds() + 1, CLAIM_RECHECK_SECONDS)
        raise ClaimedElsewhereError(f"invoice {attempt.invoice.id} is being synced by another worker", wait)
    stale = details.claimed_until is not None
    changes = {"claimed_until": now + timedelta(seconds=CLAIM_SECONDS), "claimed_by": uuid.uuid4().hex}
    try:
        attempt.etag = await attempt.deps.dataverse.update_xero_details(details.id, changes, details.etag)
    except ConcurrencyConflictError:
        raise ClaimedElsewhereError(
            f"invoice {attempt.invoice.id} was claimed by another worker", 2
        ) from None
    return stale


async def release(attempt: SyncAttempt, *, create_attempted: bool) -> None:
    """Give the claim back. After a create that may have reached Xero, leave it expired (not cleared),
    so the next attempt looks for that invoice in Xero before creating."""
    changes: dict[str, object] = {"claimed_until": attempt.now if create_attempted else None}
    if not create_attempted:
        changes["claimed_by"] = None
    try:
        await attempt.deps.dataverse.update_xero_details(attempt.details.id, changes, None)
    except Exception as exc:  # the claim expires by itself; never hide the original error
        log_step(
            logger,
            "sync.release_failed",
            logging.WARNING,
            invoice_id=attempt.invoice.id,
            error=type(exc).__name__,
        )


async def find_previous_create(attempt: SyncAttempt, xero: XeroPort, url: str | None) -> XeroInvoice | None:
    if not url:
        return None
    found = await asyncio.to_thread(xero.find_invoices_by_url, url)
    live = [invoice for invoice in found if invoice.status not in ("DELETED", "VOIDED")]
    if live:
        log_step(logger, "sync.adopted", invoice_id=attempt.invoice.id, xero_invoice_id=live[0].invoice_id)
    return live[0] if live else None

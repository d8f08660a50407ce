"""The claim a cancel holds on an invoice's Xero details while it works in Xero.

The sync path's mechanism (services.claims): an ETag-conditional write of `claimed_until` / `claimed_by`.
Dataverse sends one cancel as two webhook events, and two workers take them at once; the claim lets one
of them run and sends the other back to the queue, and keeps a cancel and a sync of one invoice apart.
The claim is given back in the attempt's last write (with its sync history, in one round trip), or by
a write of its own when the attempt fails; should that fail too, it expires by itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.domain.dynamics import SyncHistoryEntry, XeroDetails
from connector.errors import ClaimedElsewhereError, ConcurrencyConflictError
from connector.ports import DataversePort
from connector.services.claims import CLAIM_RECHECK_SECONDS
from connector.services.sync_attempt import CLAIM_SECONDS
from connector.telemetry import get_logger, log_step

logger = get_logger("services.cancel_claim")

LOST_RACE_RETRY_SECONDS = 2
_RELEASE: dict[str, object] = {"claimed_until": None, "claimed_by": None}


@dataclass
class CancelClaim:
    """This attempt's hold on the invoice, and what it knows about the pending credit note."""

    dataverse: DataversePort
    details: XeroDetails  # as read before the claim
    etag: str | None
    # The record as it was before this attempt: when it names the credit note, an earlier attempt may
    # have created it, so it is looked for in Xero before another create is sent.
    pending_before: str | None
    written_pending: str | None = None  # a pending-create record this attempt wrote
    may_have_sent: bool = False  # the create was sent (its answer may be lost)
    held: bool = True

    @property
    def pending(self) -> str | None:
        return self.written_pending or self.pending_before

    def release_changes(self) -> dict[str, object]:
        """The claim given back; and a pending-create record this attempt wrote for a create it never
        sent: that is the positive evidence that nothing was made."""
        changes = dict(_RELEASE)
        if self.written_pending is not None and not self.may_have_sent:
            changes["pending_create"] = self.pending_before
        return changes

    async def record_pending(self, key: str) -> None:
        """The credit note about to be created, written under the claim (If-Match) before it is sent."""
        if self.pending == key:
            return
        try:
            self.etag = await self.dataverse.update_xero_details(
                self.details.id, {"pending_create": key}, self.etag
            )
        except ConcurrencyConflictError:
            raise ClaimedElsewhereError(
                f"invoice {self.details.invoice_id} changed while claimed", LOST_RACE_RETRY_SECONDS
            ) from None
        self.written_pending = key

    async def write(self, changes: Mapping[str, object]) -> None:
        """A result that must land whatever else changed the record meanwhile (no If-Match)."""
        self.etag = await self.dataverse.update_xero_details(self.details.id, changes, None)

    async def finish(self, changes: Mapping[str, object], entries: Sequence[SyncHistoryEntry]) -> None:
        """The attempt's last write: its result, the claim given back and its sync history, atomically."""
        final = {**changes, **self.release_changes()}
        if entries:
            await self.dataverse.commit_sync_result(self.details.id, final, None, entries)
        else:
            await self.dataverse.update_xero_details(self.details.id, final, None)
        self.held = False

    async def release(self) -> None:
        """After a failure. Never hides the original error: the claim expires by itself."""
        if not self.held:
            return
        self.held = False
        try:
            await self.dataverse.update_xero_details(self.details.id, self.release_changes(), None)
        except Exception as exc:
            log_step(
                logger,
                "cancel.release_failed",
                logging.WARNING,
                invoice_id=self.details.invoice_id,
                error=type(exc).__name__,
            )


def raise_if_claimed(details: XeroDetails, now: datetime) -> None:
    """ClaimedElsewhereError while another worker's claim on the invoice runs."""
    if details.claimed_until is not None and details.claimed_until > now:
        # Look again soon rather than at expiry: the holder usually finishes within seconds.
        wait = min((details.claimed_until - now).total_seconds() + 1, CLAIM_RECHECK_SECONDS)
        raise ClaimedElsewhereError(f"invoice {details.invoice_id} is being worked on; cancel after it", wait)


async def take_claim(
    dataverse: DataversePort, details: XeroDetails, now: datetime, *, pending_create: str | None = None
) -> CancelClaim:
    """ClaimedElsewhereError when another worker (a cancel or a sync) holds the invoice or wins the
    race for it. With `pending_create` (and no record yet), the same write records the credit note
    about to be created."""
    raise_if_claimed(details, now)
    changes: dict[str, object] = {
        "claimed_until": now + timedelta(seconds=CLAIM_SECONDS),
        "claimed_by": uuid.uuid4().hex,
    }
    written = pending_create if pending_create is not None and details.pending_create is None else None
    if written is not None:
        changes["pending_create"] = written
    try:
        etag = await dataverse.update_xero_details(details.id, changes, details.etag)
    except ConcurrencyConflictError:
        raise ClaimedElsewhereError(
            f"invoice {details.invoice_id} was claimed by another worker", LOST_RACE_RETRY_SECONDS
        ) from None
    return CancelClaim(dataverse, details, etag, details.pending_create, written_pending=written)

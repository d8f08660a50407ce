"""The record that a create may have reached Xero, and the Idempotency-Key every attempt of it carries.

The key is derived from the draft's content, not from the invoice's version number: the connector's own
writes and the Sales UI's line saves bump that number without changing what is sent. So every attempt of
one logical create carries one key for as long as Xero keeps it, and a user's edit (a new draft) gets a
new key. The record is written before the create is sent and cleared only by positive evidence: the
write-back of the created invoice, a lookup in Xero that found it, or Xero refusing that create.

Xero replays a refused create's answer for as long as it keeps the key, so after a refusal the record
becomes "refused N" and the next keys carry that generation: a fix made in Xero itself (a currency
enabled, an account unarchived) is not met by the old refusal.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from connector.domain.sync.invoice import idempotency_key
from connector.domain.xero_records import XeroInvoiceDraft

FINGERPRINT_LENGTH = 16
_REFUSED = "refused"
_UNPREPARED = "unprepared -"


def draft_fingerprint(draft: XeroInvoiceDraft) -> str:
    """A short hash of everything the create sends."""
    return hashlib.sha256(draft.model_dump_json().encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


@dataclass(frozen=True)
class PendingCreate:
    key: str
    fingerprint: str

    def encode(self) -> str:
        return f"{self.key} {self.fingerprint}"

    @classmethod
    def unprepared(cls) -> PendingCreate:
        """Written with the claim, before the draft is built, so the claim and the record cost one
        write: a create may follow under this claim. Whoever finds it from an earlier attempt looks in
        Xero first, as for any pending create, and takes a find there as edited since (the draft it
        was for is unknown)."""
        key, fingerprint = _UNPREPARED.split(" ")
        return cls(key, fingerprint)

    @property
    def prepared(self) -> bool:
        return self.encode() != _UNPREPARED

    @classmethod
    def decode(cls, raw: str | None) -> PendingCreate | None:
        if not raw or " " not in raw or raw.startswith(_REFUSED):
            return None
        key, fingerprint = raw.rsplit(" ", 1)
        return cls(key, fingerprint)

    @classmethod
    def for_draft(
        cls, draft: XeroInvoiceDraft, connection_id: UUID, invoice_id: UUID, generation: int = 0
    ) -> PendingCreate:
        fingerprint = draft_fingerprint(draft)
        revision = f"{fingerprint}:{generation}" if generation else fingerprint
        return cls(idempotency_key(connection_id, invoice_id, "create", revision), fingerprint)


def refused_generation(raw: str | None) -> int:
    """How many creates of this invoice Xero refused (0 when none, or while one is pending)."""
    if not raw or not raw.startswith(_REFUSED):
        return 0
    try:
        return int(raw.split(" ", 1)[1])
    except (IndexError, ValueError):
        return 0


def refused_marker(raw: str | None) -> str:
    """The record after Xero refused a create: the next generation of keys."""
    return f"{_REFUSED} {refused_generation(raw) + 1}"


def batch_key(connection_id: UUID, element_keys: list[str]) -> str:
    """One batch's key, from its elements' keys: the same batch retried carries the same key."""
    return idempotency_key(connection_id, "batch", "create-batch", ",".join(sorted(element_keys)))

"""The record that a create may have reached Xero, and the Idempotency-Key every attempt of it carries.

The key is derived from the draft's content, not from the invoice's version number: the connector's own
writes and the Sales UI's line saves bump that number without changing what is sent. So every attempt of
one logical create carries one key for as long as Xero keeps it, and a user's edit (a new draft) gets a
new key. The record is written before the create is sent and cleared only by positive evidence: the
write-back of the created invoice, a lookup in Xero that found it, or Xero refusing that create.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from connector.domain.sync.invoice import idempotency_key
from connector.domain.xero_records import XeroInvoiceDraft

FINGERPRINT_LENGTH = 16


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
    def decode(cls, raw: str | None) -> PendingCreate | None:
        if not raw or " " not in raw:
            return None
        key, fingerprint = raw.rsplit(" ", 1)
        return cls(key, fingerprint)

    @classmethod
    def for_draft(cls, draft: XeroInvoiceDraft, connection_id: UUID, invoice_id: UUID) -> PendingCreate:
        fingerprint = draft_fingerprint(draft)
        return cls(idempotency_key(connection_id, invoice_id, "create", fingerprint), fingerprint)


def batch_key(connection_id: UUID, element_keys: list[str]) -> str:
    """One batch's key, from its elements' keys: the same batch retried carries the same key."""
    return idempotency_key(connection_id, "batch", "create-batch", ",".join(sorted(element_keys)))

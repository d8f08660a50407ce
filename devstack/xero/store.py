"""In-memory state: tenants (organisations) with their records, OAuth clients and tokens, logs."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Record = dict[str, Any]


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Tenant:
    """One Xero organisation and everything in it. Records are dicts keyed by Xero field names."""

    tenant_id: str
    organisation: Record
    currencies: dict[str, Record] = field(default_factory=dict)
    tax_rates: dict[str, Record] = field(default_factory=dict)  # by TaxType
    accounts: dict[str, Record] = field(default_factory=dict)  # by AccountID
    branding_themes: dict[str, Record] = field(default_factory=dict)
    tracking_categories: dict[str, Record] = field(default_factory=dict)  # by TrackingCategoryID
    contacts: dict[str, Record] = field(default_factory=dict)
    items: dict[str, Record] = field(default_factory=dict)
    invoices: dict[str, Record] = field(default_factory=dict)
    credit_notes: dict[str, Record] = field(default_factory=dict)
    payments: dict[str, Record] = field(default_factory=dict)
    emails_sent: list[str] = field(default_factory=list)  # InvoiceIDs emailed
    next_invoice_number: int = 1
    next_credit_note_number: int = 1
    # Live sales-document numbers (casefolded) → document id, per kind ("Invoice", "CreditNote"): the
    # uniqueness check is then one look-up, not a scan (a 10,000-invoice backlog made it quadratic).
    numbers: dict[str, dict[str, str]] = field(default_factory=lambda: {"Invoice": {}, "CreditNote": {}})

    def account_by_code(self, code: str | None) -> Record | None:
        if not code:
            return None
        return next((a for a in self.accounts.values() if a.get("Code") == code), None)

    def item_by_code(self, code: str | None) -> Record | None:
        if not code:
            return None
        return next((i for i in self.items.values() if i["Code"].casefold() == code.casefold()), None)


@dataclass
class Client:
    """An OAuth app registered with the emulator, and the tenants it is connected to."""

    client_id: str
    client_secret: str
    connections: dict[str, Record] = field(default_factory=dict)  # connection id → Connection
    custom_connection_tenant: str | None = None  # set → client_credentials grant allowed for this tenant

    def tenant_ids(self) -> list[str]:
        return [c["tenantId"] for c in self.connections.values()]


@dataclass
class AccessToken:
    token: str
    client_id: str
    expires_at: float
    scope: list[str]
    tenant_id: str | None = None  # custom connections: the single tenant


@dataclass
class RefreshToken:
    token: str
    client_id: str
    scope: list[str]
    expires_at: float
    rotated_at: float | None = None  # once used: when; reuse allowed within the grace period


@dataclass
class IdempotentResponse:
    fingerprint: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored_at: float
    done: bool = True


@dataclass
class State:
    """The whole emulator state. Handlers hold `lock` while they read or change records."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    tenants: dict[str, Tenant] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    auth_codes: dict[str, Record] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotentResponse] = field(default_factory=dict)
    request_log: deque[Record] = field(default_factory=lambda: deque(maxlen=100_000))
    request_seq: int = 0  # the `seq` of the last logged request; a cursor for `?since=`
    request_log_dropped: int = 0  # entries pushed out of the full log since the last reset
    spec_checks: list[Record] = field(default_factory=list)  # every validated request/response
    spec_violations: list[Record] = field(default_factory=list)

    def log_request(self, entry: Record) -> None:
        with self.lock:
            if self.request_log.maxlen is not None and len(self.request_log) == self.request_log.maxlen:
                self.request_log_dropped += 1
            self.request_seq += 1
            entry["seq"] = self.request_seq
            self.request_log.append(entry)

    def resize_request_log(self, size: int) -> None:
        """Keep the newest `size` entries and log at most that many from now on."""
        with self.lock:
            kept = list(self.request_log)[-size:] if size > 0 else []
            self.request_log_dropped += len(self.request_log) - len(kept)
            self.request_log = deque(kept, maxlen=size)

    def requests_since(self, since: int = 0, tenant: str | None = None) -> list[Record]:
        with self.lock:
            return [
                e
                for e in self.request_log
                if e["seq"] > since and (tenant is None or e.get("tenant") == tenant)
            ]

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def clear(self) -> None:
        with self.lock:
            self.tenants.clear()
            self.clients.clear()
            self.access_tokens.clear()
            self.refresh_tokens.clear()
            self.auth_codes.clear()
            self.idempotency.clear()
            self.request_log.clear()
            self.request_seq = 0
            self.request_log_dropped = 0
            self.spec_checks.clear()
            self.spec_violations.clear()


@dataclass
class Outcome:
    """Result of saving one element: the stored record, or the errors to echo back."""

    element: Record
    record: Record | None = None
    errors: list[str] = field(default_factory=list)
    created: bool = False


def stamp(record: Record, now: datetime) -> None:
    record["UpdatedDateUTC"] = now

"""Ports: what services need from the outside world, as Protocols, grouped by external system.

Each method is declared once, in a narrow protocol; a service's port combines the ones it uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol
from uuid import UUID

from connector.domain.connection_rules import (
    AdminIdentity,
    FailedInvoice,
    Headroom,
    HistoryLine,
    PoisonMessage,
    ReferenceChoices,
    TokenState,
    XeroOrganisation,
)
from connector.domain.dynamics import (
    ConnectionSettings,
    Customer,
    Invoice,
    InvoiceState,
    InvoiceTotals,
    SyncHistoryEntry,
    TrackedInvoice,
    XeroDetails,
)
from connector.domain.xero_records import (
    XeroContact,
    XeroContactDraft,
    XeroCreditNote,
    XeroCreditNoteDraft,
    XeroInvoice,
    XeroInvoiceDraft,
    XeroItem,
    XeroItemDraft,
)

CustomerKind = Literal["account", "contact"]
XeroStatusWrite = Literal["DELETED", "VOIDED"]  # the status changes cancellation makes


class Clock(Protocol):
    def __call__(self) -> datetime:
        """Now, timezone-aware UTC."""


# --- Storage ---------------------------------------------------------------------------------------


class QueueSender(Protocol):
    """Puts messages on storage queues."""

    def send(self, queue: str, body: str, *, visibility_timeout: int | None = None) -> None:
        """Enqueue `body`; hidden for `visibility_timeout` seconds when given."""

    def reachable(self) -> dict[str, bool]:
        """Whether each of the connector's queues answers (for /api/health)."""


class DirtyBalances(Protocol):
    """Customers whose Xero balances changed and wait for the next refresh, per connection."""

    async def add(self, connection_id: UUID, customers: Sequence[tuple[CustomerKind, UUID, str]]) -> None:
        """(kind, Dynamics customer id, Xero ContactID) triples."""

    async def take(self, connection_id: UUID) -> list[tuple[CustomerKind, UUID, str]]:
        """All waiting ones, now forgotten."""


class WatermarkStore(Protocol):
    """The last time each connection's reconcile pull succeeded up to."""

    async def get(self, connection_id: UUID) -> datetime | None:
        """None before the first successful reconcile."""

    async def set(self, connection_id: UUID, at: datetime) -> None: ...


class Lease(Protocol):
    async def renew(self) -> None: ...

    async def release(self) -> None: ...


class Leases(Protocol):
    """Work that runs once at a time across instances."""

    async def acquire(self, name: str) -> Lease | None:
        """The lease, or None when another instance holds it. It lapses unless renewed within a minute."""


# --- Dataverse -------------------------------------------------------------------------------------


class InvoiceSnapshotView(Protocol):
    """An invoice with its lines, customer, currency, products and Xero details, read in one call."""

    @property
    def invoice(self) -> Invoice: ...

    @property
    def xero_details(self) -> XeroDetails | None: ...


@dataclass(frozen=True)
class SyncWrite:
    """One invoice's writes, in one atomic change set and this order: Xero details (conditional on
    `if_match` when given), the invoice's totals when Xero's differ, sync history, and last marking the
    invoice Paid (which makes it read-only)."""

    details_id: UUID
    details_changes: Mapping[str, object]
    invoice_totals: InvoiceTotals | None
    history: Sequence[SyncHistoryEntry]
    if_match: str | None = None
    mark_paid: UUID | None = None  # the invoice to mark Paid


class DataverseInvoices(Protocol):
    async def get_invoice_snapshot(self, invoice_id: UUID) -> InvoiceSnapshotView:
        """The invoice with its Xero details; NotFoundError when the invoice is gone."""

    async def get_invoice_snapshots(self, invoice_ids: Sequence[UUID]) -> Sequence[InvoiceSnapshotView]:
        """Many invoices' snapshots in one call; invoices that are gone are left out."""

    async def set_invoice_connection(self, invoice_id: UUID, connection_id: UUID) -> None: ...

    async def update_invoice_totals(
        self,
        invoice_id: UUID,
        *,
        total_tax: Decimal,
        total_amount: Decimal | None,
        due_date: date | None,
        amount_due: Decimal | None = None,
    ) -> None:
        """Xero's figures on the invoice; the total and the amount due only when given."""

    async def set_date_delivered(self, invoice_id: UUID, day: date) -> None: ...

    async def set_invoice_state(self, invoice_id: UUID, state: InvoiceState, status_reason: int) -> None:
        """statecode/statuscode, e.g. Paid = (2, 100001)."""


class DataverseXeroDetails(Protocol):
    async def set_up_invoice(
        self,
        invoice_id: UUID,
        connection_id: UUID,
        *,
        set_connection: bool,
        claim: Mapping[str, object] | None = None,
    ) -> XeroDetails:
        """Create the Xero details record (already claimed, when `claim` is given) and, when asked,
        set the invoice's connection. If the record exists, return it as it is."""

    async def get_xero_details(self, invoice_id: UUID) -> XeroDetails | None:
        """By the invoice lookup, or by the text copy of the invoice id once the invoice is deleted."""

    async def find_tracked_invoice(self, xero_invoice_id: str) -> TrackedInvoice | None:
        """The Xero details that track this Xero invoice, with their invoice, in one call; None when
        the connector did not create it."""

    async def find_tracked_invoices(self, xero_invoice_ids: Sequence[str]) -> list[TrackedInvoice]:
        """The same for those of these Xero invoices the connector created, in few calls."""

    async def find_xero_details_by_credit_note_id(self, credit_note_id: str) -> XeroDetails | None:
        """The Xero details whose cancellation made this credit note, if any."""

    async def update_xero_details(
        self, details_id: UUID, changes: Mapping[str, object], if_match: str | None
    ) -> str:
        """PATCH Xero details; returns the new etag."""

    async def commit_sync_result(
        self,
        details_id: UUID,
        details_changes: Mapping[str, object],
        invoice_totals: InvoiceTotals | None,
        history: Sequence[SyncHistoryEntry],
    ) -> None:
        """Xero details, totals and history in one atomic round trip."""

    async def commit_sync_results(self, writes: Sequence[SyncWrite]) -> None:
        """Many invoices' write-backs in one round trip, each atomic on its own."""


class DataverseUpkeepQueries(Protocol):
    """What keeps tracked invoices current as days pass (B2), retries emails (I8) and fills in links."""

    async def list_overdue_candidates(self, connection_id: UUID, today: date) -> list[XeroDetails]:
        """Authorised invoices of the connection with money due and the due date before `today`."""

    async def list_emails_pending(self, connection_id: UUID) -> list[XeroDetails]:
        """Invoices of the connection whose email failed on the way."""

    async def list_missing_online_urls(self, connection_id: UUID, limit: int) -> list[XeroDetails]:
        """Up to `limit` approved sales invoices of the connection whose online link is not known yet."""


class DataverseHistory(Protocol):
    async def add_sync_history(self, entry: SyncHistoryEntry) -> None: ...


class DataverseCustomers(Protocol):
    async def update_customer_xero(
        self,
        kind: CustomerKind,
        customer_id: UUID,
        *,
        xero_contact_id: str | None = None,
        amount_owed: Decimal | None = None,
        amount_overdue: Decimal | None = None,
        amount_we_owe: Decimal | None = None,
        amount_we_owe_overdue: Decimal | None = None,
    ) -> None:
        """Only the values given are written."""

    async def find_customers_by_xero_contact_id(self, xero_contact_id: str) -> list[Customer]:
        """Accounts and contacts that remember this Xero ContactID (empty when none)."""

    async def list_linked_customers(self) -> list[Customer]:
        """Every account and contact with a Xero ContactID, with the balances last written (B3)."""


class DataverseConnections(Protocol):
    async def get_connection(self, connection_id: UUID) -> ConnectionSettings:
        """NotFoundError when the connection is gone."""

    async def get_default_connection(self) -> ConnectionSettings | None: ...

    async def get_connection_by_tenant_id(self, tenant_id: str) -> ConnectionSettings | None: ...

    async def list_connections(self) -> list[ConnectionSettings]: ...

    async def update_connection(self, connection_id: UUID, changes: Mapping[str, object]) -> None:
        """Only the given settings (ConnectionSettings field names) are written."""


class DataverseConnectionHealth(DataverseConnections, DataverseHistory, Protocol):
    """What marking a connection as needing a reconnect takes."""


class DataverseSweepQueries(Protocol):
    async def list_eligible_invoice_ids(
        self, connection_id: UUID, today: date, page_size: int = 500
    ) -> list[UUID]: ...

    async def list_recent_invoice_ids_without_xero_details(
        self, created_since: datetime, page_size: int = 500
    ) -> list[UUID]: ...


class DataversePort(
    DataverseInvoices,
    DataverseXeroDetails,
    DataverseHistory,
    DataverseCustomers,
    DataverseConnections,
    DataverseUpkeepQueries,
    Protocol,
):
    """What the sync, cancel and back-sync services need from Dataverse."""


class DataverseSweepPort(DataverseConnections, DataverseSweepQueries, Protocol):
    """What the sweep needs beyond the sync services' port."""


# --- Xero ------------------------------------------------------------------------------------------
# Synchronous, like xero-python: services call them through asyncio.to_thread.


class XeroContacts(Protocol):
    def find_contact_by_name(self, name: str) -> XeroContact | None: ...

    def find_contact_by_number(self, contact_number: str) -> XeroContact | None: ...

    def get_contact(self, contact_id: str) -> XeroContact:
        """The contact with its balances."""

    def get_contacts_by_ids(self, contact_ids: list[str]) -> list[XeroContact]:
        """Many contacts with their balances, in as few calls as the IDs filter allows."""

    def create_contact(self, draft: XeroContactDraft, idempotency_key: str) -> XeroContact: ...

    def update_contact(
        self, contact_id: str, draft: XeroContactDraft, idempotency_key: str
    ) -> XeroContact: ...


class XeroItems(Protocol):
    def get_items_by_codes(self, codes: list[str]) -> list[XeroItem]: ...

    def create_items(self, drafts: list[XeroItemDraft], idempotency_key: str) -> list[XeroItem]: ...


class XeroInvoices(Protocol):
    def find_invoices_by_numbers(self, numbers: list[str]) -> list[XeroInvoice]:
        """Invoices and bills with one of these numbers, exactly (the backfill's match)."""

    def find_invoices_by_urls(self, urls: list[str]) -> list[XeroInvoice]:
        """Invoices whose Url is one of these (in as few calls as Xero's query length allows)."""

    def create_invoice(self, draft: XeroInvoiceDraft, idempotency_key: str) -> XeroInvoice: ...

    def create_invoices(
        self, drafts: list[XeroInvoiceDraft], idempotency_key: str, summarize_errors: bool = False
    ) -> list[XeroInvoice]: ...

    def update_invoice(
        self, invoice_id: str, draft: XeroInvoiceDraft, idempotency_key: str
    ) -> XeroInvoice: ...

    def get_invoice(self, invoice_id: str) -> XeroInvoice:
        """NotFoundError when Xero has no such invoice."""

    def get_invoices_by_ids(self, invoice_ids: list[str]) -> list[XeroInvoice]:
        """Many invoices, in as few calls as the IDs filter allows; missing ones are left out."""

    def get_invoices_modified_since(
        self, since: datetime, page: int = 1, page_size: int = 100
    ) -> list[XeroInvoice]:
        """One page (up to `page_size`, at most 1,000) of invoices changed since `since`, oldest first."""

    def get_online_invoice_url(self, invoice_id: str) -> str | None: ...

    def email_invoice(self, invoice_id: str, idempotency_key: str) -> None: ...

    def set_invoice_status(
        self, invoice_id: str, status: XeroStatusWrite, idempotency_key: str
    ) -> XeroInvoice:
        """DELETED (draft/submitted) or VOIDED (authorised, unpaid)."""


class XeroCreditNotes(Protocol):
    def create_credit_note(self, draft: XeroCreditNoteDraft, idempotency_key: str) -> XeroCreditNote: ...

    def allocate_credit_note(
        self,
        credit_note_id: str,
        invoice_id: str,
        amount: Decimal,
        idempotency_key: str,
        on: date | None = None,
    ) -> None: ...

    def find_credit_notes_by_reference(self, reference: str) -> list[XeroCreditNote]: ...


class XeroPort(XeroContacts, XeroItems, XeroInvoices, XeroCreditNotes, Protocol):
    """One Xero organisation, as the services use it."""


XeroForConnection = Callable[[ConnectionSettings], XeroPort]


# --- Admin console (O6) ----------------------------------------------------------------------------


class DataverseConsole(DataverseConnections, Protocol):
    """What the console needs from Dataverse beyond reading connections."""

    async def create_connection(
        self, name: str, tenant_id: str, *, make_default: bool | None = None, **settings: object
    ) -> ConnectionSettings:
        """C3 defaults unless given; the first connection becomes the default."""

    async def set_default_connection(self, connection_id: UUID) -> None:
        """Exactly one default afterwards."""

    async def update_xero_details(
        self, details_id: UUID, changes: Mapping[str, object], if_match: str | None
    ) -> str: ...


class ConsoleQueriesPort(Protocol):
    async def recent_history(self, connection_id: UUID, since: datetime, top: int = 500) -> list[HistoryLine]:
        """Newest first."""

    async def failed_invoices(self, connection_id: UUID) -> list[FailedInvoice]: ...

    async def reference_choices(self, connection_id: UUID) -> ReferenceChoices: ...


class XeroOnboardingPort(Protocol):
    """Xero's consent and tokens. Token sets stay server-side: a pending key stands for one."""

    def consent_url(self, redirect_uri: str, state: str, code_challenge: str) -> str: ...

    def authorise(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        """Exchange the code; returns the pending key its token set waits under."""

    def authorise_custom(self) -> str:
        """client_credentials; returns a pending key."""

    def organisations(self, pending: str) -> list[XeroOrganisation]: ...

    def adopt(self, pending: str, connection_id: UUID) -> None:
        """The pending token set becomes this connection's."""

    def discard(self, pending: str) -> None: ...

    def token_state(self, connection_id: UUID) -> TokenState | None: ...

    def disconnect(self, connection_id: UUID, tenant_id: str) -> None:
        """Revoke at Xero and delete the stored tokens."""


class OperationsPort(Protocol):
    """Queues, poison queues and the shared rate-limit state."""

    def queue_depths(self) -> dict[str, int]: ...

    def poison_counts(self) -> dict[str, int]: ...

    def poison_messages(self, queue: str, limit: int = 32) -> list[PoisonMessage]: ...

    def replay_poison(self, queue: str, message_id: str | None = None) -> int:
        """One message (or all) back on its queue; how many."""

    def headroom(self, tenant_id: str) -> Headroom | None: ...


class SignInPort(Protocol):
    """OpenID Connect sign-in (Microsoft Entra ID in Azure)."""

    def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        """(authorization URL, the flow to keep until the callback)."""

    def finish(self, flow: dict[str, Any], query: dict[str, str]) -> AdminIdentity:
        """Check the callback against the flow and redeem the code; raises AuthorisationError."""

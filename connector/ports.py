"""Ports: what services and entrypoints need from the outside world, as Protocols."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    Invoice,
    InvoiceTotals,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage, SweepMessage, XeroEventMessage
from connector.domain.xero_records import (
    XeroContact,
    XeroContactDraft,
    XeroInvoice,
    XeroInvoiceDraft,
    XeroItem,
    XeroItemDraft,
)


class QueueSender(Protocol):
    """Puts messages on storage queues."""

    def send(self, queue: str, body: str, *, visibility_timeout: int | None = None) -> None:
        """Enqueue `body`; hidden for `visibility_timeout` seconds when given."""

    def reachable(self) -> dict[str, bool]:
        """Whether each of the connector's queues answers (for /api/health)."""


InvoiceSyncHandler = Callable[[InvoiceSyncMessage], Awaitable[None]]
InvoiceCancelHandler = Callable[[InvoiceCancelMessage], Awaitable[None]]
XeroEventHandler = Callable[[XeroEventMessage], Awaitable[None]]
SweepHandler = Callable[[SweepMessage], Awaitable[None]]


class Clock(Protocol):
    def __call__(self) -> datetime:
        """Now, timezone-aware UTC."""


class InvoiceSnapshotView(Protocol):
    """An invoice with its lines, customer, currency, products and Xero details, read in one call."""

    @property
    def invoice(self) -> Invoice: ...

    @property
    def xero_details(self) -> XeroDetails | None: ...


class DataverseSyncPort(Protocol):
    """What the sync, cancel and back-sync services need from Dataverse."""

    async def get_invoice_snapshot(self, invoice_id: UUID) -> InvoiceSnapshotView: ...

    async def get_connection(self, connection_id: UUID) -> ConnectionSettings: ...

    async def get_default_connection(self) -> ConnectionSettings | None: ...

    async def set_invoice_connection(self, invoice_id: UUID, connection_id: UUID) -> None: ...

    async def set_up_invoice(
        self,
        invoice_id: UUID,
        connection_id: UUID,
        *,
        set_connection: bool,
        claim: Mapping[str, object] | None = None,
    ) -> XeroDetails:
        """I1: create the Xero details record (already claimed, when `claim` is given) and, when asked,
        set the invoice's connection. If the record exists, return it as it is."""

    async def update_xero_details(
        self, details_id: UUID, changes: Mapping[str, object], if_match: str | None
    ) -> str: ...

    async def add_sync_history(self, entry: SyncHistoryEntry) -> None: ...

    async def update_invoice_totals(
        self, invoice_id: UUID, *, total_tax: Decimal, total_amount: Decimal, due_date: date | None
    ) -> None: ...

    async def set_date_delivered(self, invoice_id: UUID, day: date) -> None: ...

    async def commit_sync_result(
        self,
        details_id: UUID,
        details_changes: Mapping[str, object],
        invoice_totals: InvoiceTotals | None,
        history: Sequence[SyncHistoryEntry],
    ) -> None:
        """Xero details, totals and history in one atomic round trip."""

    async def update_customer_xero(
        self,
        kind: Literal["account", "contact"],
        customer_id: UUID,
        *,
        xero_contact_id: str | None = None,
        amount_owed: Decimal | None = None,
        amount_overdue: Decimal | None = None,
    ) -> None: ...


class XeroSyncPort(Protocol):
    """The Xero calls of invoice sync (synchronous: called through asyncio.to_thread)."""

    def find_contact_by_name(self, name: str) -> XeroContact | None: ...

    def find_contact_by_number(self, contact_number: str) -> XeroContact | None: ...

    def create_contact(self, draft: XeroContactDraft, idempotency_key: str) -> XeroContact: ...

    def update_contact(
        self, contact_id: str, draft: XeroContactDraft, idempotency_key: str
    ) -> XeroContact: ...

    def get_items_by_codes(self, codes: list[str]) -> list[XeroItem]: ...

    def create_items(self, drafts: list[XeroItemDraft], idempotency_key: str) -> list[XeroItem]: ...

    def find_invoices_by_url(self, url: str) -> list[XeroInvoice]: ...

    def create_invoice(self, draft: XeroInvoiceDraft, idempotency_key: str) -> XeroInvoice: ...

    def create_invoices(
        self, drafts: list[XeroInvoiceDraft], idempotency_key: str, summarize_errors: bool = False
    ) -> list[XeroInvoice]: ...

    def update_invoice(
        self, invoice_id: str, draft: XeroInvoiceDraft, idempotency_key: str
    ) -> XeroInvoice: ...

    def get_invoice(self, invoice_id: str) -> XeroInvoice: ...

    def get_online_invoice_url(self, invoice_id: str) -> str | None: ...

    def email_invoice(self, invoice_id: str, idempotency_key: str) -> None: ...


XeroForConnection = Callable[[ConnectionSettings], XeroSyncPort]


class DataverseSweepPort(Protocol):
    """What the sweep needs beyond the sync port."""

    async def list_connections(self) -> list[ConnectionSettings]: ...

    async def get_connection(self, connection_id: UUID) -> ConnectionSettings: ...

    async def list_eligible_invoice_ids(
        self, connection_id: UUID, today: date, page_size: int = 500
    ) -> list[UUID]: ...

    async def list_recent_invoice_ids_without_xero_details(
        self, created_since: datetime, page_size: int = 500
    ) -> list[UUID]: ...

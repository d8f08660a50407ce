"""Ports of the "back from Xero" services (B2–B5) and of cancellation/deletion (X1–X3).

Method names follow the real adapters (`connector.adapters.dataverse.DataverseClient`,
`connector.adapters.xero.XeroClient`) wherever those already have the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    Customer,
    InvoiceState,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.domain.xero_records import (
    XeroContact,
    XeroCreditNote,
    XeroCreditNoteDraft,
    XeroInvoice,
    XeroItem,
)
from connector.ports import InvoiceSnapshotView

CustomerKind = Literal["account", "contact"]
XeroStatusWrite = Literal["DELETED", "VOIDED"]  # the status changes cancellation makes


class BackSyncDataversePort(Protocol):
    """What apply_xero_event, reconcile and cancel_invoice need from Dataverse."""

    async def get_invoice_snapshot(self, invoice_id: UUID) -> InvoiceSnapshotView:
        """The invoice with its Xero details; NotFoundError when the invoice is gone."""

    async def get_xero_details(self, invoice_id: UUID) -> XeroDetails | None:
        """By the invoice lookup, or by the text copy of the invoice id once the invoice is deleted."""

    async def find_xero_details_by_xero_invoice_id(self, xero_invoice_id: str) -> XeroDetails | None:
        """The Xero details that track this Xero invoice, if the connector created it (B5)."""

    async def find_xero_details_by_credit_note_id(self, credit_note_id: str) -> XeroDetails | None:
        """The Xero details whose cancellation made this credit note, if any."""

    async def update_xero_details(
        self, details_id: UUID, changes: Mapping[str, object], if_match: str | None
    ) -> str:
        """PATCH Xero details; returns the new etag."""

    async def update_invoice_totals(
        self, invoice_id: UUID, *, total_tax: Decimal, total_amount: Decimal, due_date: date | None
    ) -> None: ...

    async def set_invoice_state(self, invoice_id: UUID, state: InvoiceState, status_reason: int) -> None:
        """statecode/statuscode, e.g. Paid = (2, 100001)."""

    async def add_sync_history(self, entry: SyncHistoryEntry) -> None: ...

    async def update_customer_xero(
        self,
        kind: CustomerKind,
        customer_id: UUID,
        *,
        xero_contact_id: str | None = None,
        amount_owed: Decimal | None = None,
        amount_overdue: Decimal | None = None,
    ) -> None:
        """Only the values given are written."""

    async def find_customers_by_xero_contact_id(self, xero_contact_id: str) -> list[Customer]:
        """Accounts and contacts that remember this Xero ContactID (empty when none)."""

    async def get_connection(self, connection_id: UUID) -> ConnectionSettings:
        """NotFoundError when the connection is gone."""

    async def get_connection_by_tenant_id(self, tenant_id: str) -> ConnectionSettings | None: ...

    async def list_connections(self) -> list[ConnectionSettings]: ...


class BackSyncXeroPort(Protocol):
    """The Xero calls of back-sync and cancellation, for one organisation. Synchronous, like
    XeroClient: services call them through asyncio.to_thread."""

    def get_invoice(self, invoice_id: str) -> XeroInvoice:
        """NotFoundError when Xero has no such invoice."""

    def get_invoices_modified_since(self, since: datetime, page: int = 1) -> list[XeroInvoice]:
        """One page (up to 100) of invoices changed since `since`, oldest change first."""

    def get_online_invoice_url(self, invoice_id: str) -> str | None: ...

    def get_contact(self, contact_id: str) -> XeroContact:
        """The contact with its balances."""

    def get_items_by_codes(self, codes: list[str]) -> list[XeroItem]: ...

    def set_invoice_status(
        self, invoice_id: str, status: XeroStatusWrite, idempotency_key: str
    ) -> XeroInvoice:
        """DELETED (draft/submitted) or VOIDED (authorised, unpaid)."""

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


BackSyncXeroForConnection = Callable[[ConnectionSettings], BackSyncXeroPort]


class WatermarkStore(Protocol):
    """B4: the last time each connection's reconcile pull succeeded up to."""

    async def get(self, connection_id: UUID) -> datetime | None:
        """None before the first successful reconcile."""

    async def set(self, connection_id: UUID, at: datetime) -> None: ...


if TYPE_CHECKING:
    from connector.adapters.xero import XeroClient

    def _xero_client_is_a_back_sync_port(client: XeroClient) -> BackSyncXeroPort:
        """mypy proves here that the real Xero adapter satisfies the port."""
        return client

"""Fakes of the Dataverse and Xero ports, for service unit tests. State in memory, asserted directly."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    Invoice,
    InvoiceTotals,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.domain.sync.lines import line_amount
from connector.domain.xero_records import (
    XeroContact,
    XeroContactDraft,
    XeroInvoice,
    XeroInvoiceDraft,
    XeroItem,
    XeroItemDraft,
)
from connector.errors import ConcurrencyConflictError, NotFoundError, XeroValidationError


@dataclass
class Snapshot:
    invoice: Invoice
    xero_details: XeroDetails | None


@dataclass
class FakeDataverse:
    """DataverseSyncPort in memory. `calls` counts every method, like the real adapter's counter."""

    invoices: dict[UUID, Invoice] = field(default_factory=dict)
    details: dict[UUID, XeroDetails] = field(default_factory=dict)  # by invoice id
    connections: dict[UUID, ConnectionSettings] = field(default_factory=dict)
    history: list[SyncHistoryEntry] = field(default_factory=list)
    customer_updates: list[dict[str, object]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    _versions: itertools.count[int] = field(default_factory=lambda: itertools.count(2))

    def add(self, invoice: Invoice, details: XeroDetails | None = None) -> None:
        self.invoices[invoice.id] = invoice
        if details is not None:
            self.details[invoice.id] = details.model_copy(update={"etag": 'W/"1"'})

    def history_for(self, invoice_id: UUID) -> list[str]:
        return [entry.detail for entry in self.history if entry.invoice_id == invoice_id]

    async def get_invoice_snapshot(self, invoice_id: UUID) -> Snapshot:
        self.calls["get_invoice_snapshot"] += 1
        if invoice_id not in self.invoices:
            raise NotFoundError(f"invoice {invoice_id}")
        return Snapshot(self.invoices[invoice_id], self.details.get(invoice_id))

    async def get_connection(self, connection_id: UUID) -> ConnectionSettings:
        self.calls["get_connection"] += 1
        if connection_id not in self.connections:
            raise NotFoundError(f"connection {connection_id}")
        return self.connections[connection_id]

    async def list_connections(self) -> list[ConnectionSettings]:
        self.calls["list_connections"] += 1
        return list(self.connections.values())

    async def list_eligible_invoice_ids(
        self, connection_id: UUID, today: date, page_size: int = 500
    ) -> list[UUID]:
        self.calls["list_eligible_invoice_ids"] += 1
        return [
            invoice.id
            for invoice in self.invoices.values()
            if invoice.id in self.details
            and self.details[invoice.id].export_status == "No"
            and self.details[invoice.id].connection_id == connection_id
            and invoice.date_delivered is not None
            and invoice.date_delivered <= today
            and invoice.state == 0
        ]

    async def list_recent_invoice_ids_without_xero_details(
        self, created_since: datetime, page_size: int = 500
    ) -> list[UUID]:
        self.calls["list_recent_invoice_ids_without_xero_details"] += 1
        return [i.id for i in self.invoices.values() if i.id not in self.details and i.state == 0]

    async def get_default_connection(self) -> ConnectionSettings | None:
        self.calls["get_default_connection"] += 1
        return next((c for c in self.connections.values() if c.is_default), None)

    async def set_invoice_connection(self, invoice_id: UUID, connection_id: UUID) -> None:
        self.calls["set_invoice_connection"] += 1
        self.invoices[invoice_id] = self.invoices[invoice_id].model_copy(
            update={"connection_id": connection_id}
        )

    async def update_xero_details(
        self, details_id: UUID, changes: Mapping[str, object], if_match: str | None
    ) -> str:
        self.calls["update_xero_details"] += 1
        invoice_id, current = next((k, d) for k, d in self.details.items() if d.id == details_id)
        if if_match is not None and if_match != current.etag:
            raise ConcurrencyConflictError("412 Precondition Failed")
        etag = f'W/"{next(self._versions)}"'
        self.details[invoice_id] = current.model_copy(update={**changes, "etag": etag})
        return etag

    async def set_up_invoice(
        self,
        invoice_id: UUID,
        connection_id: UUID,
        *,
        set_connection: bool,
        claim: Mapping[str, object] | None = None,
    ) -> XeroDetails:
        """One call, as the real adapter's $batch."""
        self.calls["set_up_invoice"] += 1
        if invoice_id not in self.details:
            if set_connection:
                self.invoices[invoice_id] = self.invoices[invoice_id].model_copy(
                    update={"connection_id": connection_id}
                )
            values = {
                "id": uuid.uuid4(),
                "invoice_id": invoice_id,
                "connection_id": connection_id,
                "etag": 'W/"1"',
            }
            self.details[invoice_id] = XeroDetails.model_validate({**values, **(claim or {})})
        return self.details[invoice_id]

    async def add_sync_history(self, entry: SyncHistoryEntry) -> None:
        self.calls["add_sync_history"] += 1
        self.history.append(entry)

    async def update_invoice_totals(
        self, invoice_id: UUID, *, total_tax: Decimal, total_amount: Decimal, due_date: date | None
    ) -> None:
        self.calls["update_invoice_totals"] += 1
        self.invoices[invoice_id] = self.invoices[invoice_id].model_copy(
            update={"total_tax": total_tax, "total_amount": total_amount}
        )

    async def commit_sync_result(
        self,
        details_id: UUID,
        details_changes: Mapping[str, object],
        invoice_totals: InvoiceTotals | None,
        history: Sequence[SyncHistoryEntry],
    ) -> None:
        """One call, as the real adapter's $batch: counted once, applied together."""
        self.calls["commit_sync_result"] += 1
        invoice_id, current = next((k, d) for k, d in self.details.items() if d.id == details_id)
        self.details[invoice_id] = current.model_copy(
            update={**details_changes, "etag": f'W/"{next(self._versions)}"'}
        )
        if invoice_totals is not None:
            self.invoices[invoice_totals.invoice_id] = self.invoices[invoice_totals.invoice_id].model_copy(
                update={"total_tax": invoice_totals.total_tax, "total_amount": invoice_totals.total_amount}
            )
        self.history.extend(history)

    async def set_date_delivered(self, invoice_id: UUID, day: date) -> None:
        self.calls["set_date_delivered"] += 1
        self.invoices[invoice_id] = self.invoices[invoice_id].model_copy(update={"date_delivered": day})

    async def update_customer_xero(
        self,
        kind: Literal["account", "contact"],
        customer_id: UUID,
        *,
        xero_contact_id: str | None = None,
        amount_owed: Decimal | None = None,
        amount_overdue: Decimal | None = None,
    ) -> None:
        self.calls["update_customer_xero"] += 1
        self.customer_updates.append(
            {"kind": kind, "id": customer_id, "xero_contact_id": xero_contact_id, "owed": amount_owed}
        )


@dataclass
class FakeXero:
    """XeroSyncPort in memory, for one organisation. Tax is a flat 15% on Exclusive lines."""

    contacts: dict[str, XeroContact] = field(default_factory=dict)  # by ContactID
    items: dict[str, XeroItem] = field(default_factory=dict)  # by code
    invoices: dict[str, XeroInvoice] = field(default_factory=dict)
    drafts: dict[str, XeroInvoiceDraft] = field(default_factory=dict)
    keys: dict[str, XeroInvoice] = field(default_factory=dict)  # Idempotency-Key replay
    calls: Counter[str] = field(default_factory=Counter)
    reject_with: list[str] | None = None
    reject_batch_element: Callable[[XeroInvoiceDraft], list[str]] | None = None
    fail_after_create: Exception | None = None  # "commit then time out"
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_contact(self, name: str, number: str | None = None) -> XeroContact:
        contact = XeroContact(contact_id=str(uuid.uuid4()), name=name, contact_number=number)
        self.contacts[contact.contact_id] = contact
        return contact

    def find_contact_by_name(self, name: str) -> XeroContact | None:
        self.calls["find_contact_by_name"] += 1
        return next((c for c in self.contacts.values() if c.name.lower() == name.lower()), None)

    def find_contact_by_number(self, contact_number: str) -> XeroContact | None:
        self.calls["find_contact_by_number"] += 1
        return next((c for c in self.contacts.values() if c.contact_number == contact_number), None)

    def create_contact(self, draft: XeroContactDraft, idempotency_key: str) -> XeroContact:
        self.calls["create_contact"] += 1
        return self.add_contact(draft.name, draft.contact_number)

    def update_contact(self, contact_id: str, draft: XeroContactDraft, idempotency_key: str) -> XeroContact:
        self.calls["update_contact"] += 1
        return self.contacts[contact_id]

    def get_items_by_codes(self, codes: list[str]) -> list[XeroItem]:
        self.calls["get_items_by_codes"] += 1
        return [self.items[code] for code in codes if code in self.items]

    def create_items(self, drafts: list[XeroItemDraft], idempotency_key: str) -> list[XeroItem]:
        self.calls["create_items"] += 1
        created = [
            XeroItem(
                item_id=str(uuid.uuid4()),
                code=d.code,
                name=d.name,
                sales_account_code=d.sales_account_code,
                sales_tax_type=d.sales_tax_type,
            )
            for d in drafts
        ]
        self.items.update({item.code: item for item in created})
        return created

    def find_invoices_by_url(self, url: str) -> list[XeroInvoice]:
        self.calls["find_invoices_by_url"] += 1
        return [self.invoices[i] for i, d in self.drafts.items() if d.url == url]

    def create_invoice(self, draft: XeroInvoiceDraft, idempotency_key: str) -> XeroInvoice:
        self.calls["create_invoice"] += 1
        if idempotency_key in self.keys:
            return self.keys[idempotency_key]
        if self.reject_with:
            raise XeroValidationError(list(self.reject_with))
        sub_total = sum((line_amount(line) for line in draft.line_items), Decimal(0))
        tax = (
            (sub_total * Decimal("0.15")).quantize(Decimal("0.01"))
            if draft.line_amount_types == "Exclusive"
            else Decimal(0)
        )
        invoice = XeroInvoice(
            invoice_id=str(uuid.uuid4()),
            invoice_number=draft.invoice_number or f"INV-{next(self._numbers):04d}",
            type=draft.type,
            status=draft.status,
            contact_id=draft.contact_id,
            url=draft.url,
            date=draft.date,
            due_date=draft.due_date,
            sub_total=sub_total,
            total_tax=tax,
            total=sub_total + tax,
            amount_due=sub_total + tax,
            currency_code=draft.currency_code,
        )
        self.invoices[invoice.invoice_id] = invoice
        self.drafts[invoice.invoice_id] = draft
        self.keys[idempotency_key] = invoice
        if self.fail_after_create is not None:
            error, self.fail_after_create = self.fail_after_create, None
            raise error
        return invoice

    def create_invoices(
        self, drafts: list[XeroInvoiceDraft], idempotency_key: str, summarize_errors: bool = False
    ) -> list[XeroInvoice]:
        """summarizeErrors=false: every element comes back, failed ones with their validation errors."""
        self.calls["create_invoices"] += 1
        results = []
        for draft in drafts:
            problems = self.reject_batch_element(draft) if self.reject_batch_element else []
            if problems:
                results.append(
                    XeroInvoice(
                        invoice_id="00000000-0000-0000-0000-000000000000",
                        type=draft.type,
                        status=draft.status,
                        validation_errors=problems,
                    )
                )
                continue
            self.calls["create_invoice"] -= 1  # counted once, as the batch
            results.append(self.create_invoice(draft, f"{idempotency_key}/{draft.url}"))
        return results

    def update_invoice(self, invoice_id: str, draft: XeroInvoiceDraft, idempotency_key: str) -> XeroInvoice:
        self.calls["update_invoice"] += 1
        self.drafts[invoice_id] = draft
        return self.invoices[invoice_id]

    def get_invoice(self, invoice_id: str) -> XeroInvoice:
        self.calls["get_invoice"] += 1
        return self.invoices[invoice_id]

    def get_online_invoice_url(self, invoice_id: str) -> str | None:
        self.calls["get_online_invoice_url"] += 1
        return f"https://in.xero.com/{invoice_id}"

    def email_invoice(self, invoice_id: str, idempotency_key: str) -> None:
        self.calls["email_invoice"] += 1

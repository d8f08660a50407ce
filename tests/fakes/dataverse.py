"""The Dataverse ports in memory. State is asserted directly; `writes` and `fail_next` model crashes."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    Customer,
    Invoice,
    InvoiceState,
    InvoiceStatusReason,
    InvoiceTotals,
    SyncHistoryEntry,
    TrackedInvoice,
    XeroDetails,
)
from connector.errors import ConcurrencyConflictError, NotFoundError
from connector.ports import SyncWrite

Balance = tuple[Decimal | None, Decimal | None]


@dataclass
class Snapshot:
    invoice: Invoice
    xero_details: XeroDetails | None


@dataclass
class _DataverseTables:
    """DataversePort in memory. `calls` counts every method, like the real adapter's counter."""

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

    async def update_connection(self, connection_id: UUID, changes: Mapping[str, object]) -> None:
        self.calls["update_connection"] += 1
        if connection_id not in self.connections:
            raise NotFoundError(f"connection {connection_id}")
        current = self.connections[connection_id]
        self.connections[connection_id] = ConnectionSettings.model_validate(
            {**current.model_dump(), **changes}
        )

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
        self,
        invoice_id: UUID,
        *,
        total_tax: Decimal,
        total_amount: Decimal | None,
        due_date: date | None,
        amount_due: Decimal | None = None,
    ) -> None:
        self.calls["update_invoice_totals"] += 1
        changes: dict[str, object] = {"total_tax": total_tax}
        if total_amount is not None:
            changes["total_amount"] = total_amount
        if amount_due is not None:
            changes["amount_due"] = amount_due
        self.invoices[invoice_id] = self.invoices[invoice_id].model_copy(update=changes)

    async def commit_sync_results(self, writes: Sequence[SyncWrite]) -> None:
        """One call for the whole $batch; each write its own change set, in order."""
        self.calls["commit_sync_results"] += 1
        for write in writes:
            self._apply_sync_write(write)

    async def get_invoice_snapshots(self, invoice_ids: Sequence[UUID]) -> list[Snapshot]:
        self.calls["get_invoice_snapshots"] += 1
        found = []
        for invoice_id in invoice_ids:
            if invoice_id in self.invoices:
                found.append(await self.get_invoice_snapshot(invoice_id))
                self.calls["get_invoice_snapshot"] -= 1
        return found

    async def commit_sync_result(
        self,
        details_id: UUID,
        details_changes: Mapping[str, object],
        invoice_totals: InvoiceTotals | None,
        history: Sequence[SyncHistoryEntry],
    ) -> None:
        """One call, as the real adapter's $batch: counted once, applied together."""
        self.calls["commit_sync_result"] += 1
        self._apply_sync_write(SyncWrite(details_id, details_changes, invoice_totals, history))

    def _apply_sync_write(self, write: SyncWrite) -> None:
        """A change set: checked whole first, so a write that would fail (404, 412, a read-only
        invoice) rolls back every one of them."""
        found = next(((k, d) for k, d in self.details.items() if d.id == write.details_id), None)
        totals = write.invoice_totals
        if found is None or (totals is not None and totals.invoice_id not in self.invoices):
            raise NotFoundError(f"commit_sync_result: details {write.details_id} or its invoice is gone")
        if write.mark_paid is not None and write.mark_paid not in self.invoices:
            raise NotFoundError(f"commit_sync_result: invoice {write.mark_paid} is gone")
        invoice_id, current = found
        if write.if_match is not None and write.details_changes and write.if_match != current.etag:
            raise ConcurrencyConflictError("412 Precondition Failed")
        if totals is not None and self.invoices[totals.invoice_id].state != InvoiceState.ACTIVE:
            raise AssertionError("Dataverse refuses changes to a Paid or cancelled invoice (read-only)")
        if write.details_changes:
            self.details[invoice_id] = current.model_copy(
                update={**write.details_changes, "etag": f'W/"{next(self._versions)}"'}
            )
        if totals is not None:
            values: dict[str, object] = {"total_tax": totals.total_tax, "due_date": totals.due_date}
            if totals.total_amount is not None:
                values["total_amount"] = totals.total_amount
            if totals.amount_due is not None:
                values["amount_due"] = totals.amount_due
            self.invoices[totals.invoice_id] = self.invoices[totals.invoice_id].model_copy(update=values)
        self.history.extend(write.history)
        if write.mark_paid is not None:
            self.invoices[write.mark_paid] = self.invoices[write.mark_paid].model_copy(
                update={"state": InvoiceState.PAID, "status_reason": InvoiceStatusReason.PAID_COMPLETE}
            )

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
        amount_we_owe: Decimal | None = None,
        amount_we_owe_overdue: Decimal | None = None,
    ) -> None:
        self.calls["update_customer_xero"] += 1
        self.customer_updates.append(
            {"kind": kind, "id": customer_id, "xero_contact_id": xero_contact_id, "owed": amount_owed}
        )


@dataclass
class FakeDataverse(_DataverseTables):
    """DataversePort in memory. `writes` lists every write in order; `fail_next` makes the next
    call of a method raise once (a crash in the middle)."""

    customers: dict[UUID, Customer] = field(default_factory=dict)
    balances: dict[tuple[str, UUID], Balance] = field(default_factory=dict)
    supplier_balances: dict[tuple[str, UUID], Balance] = field(default_factory=dict)  # what we owe them
    writes: list[str] = field(default_factory=list)
    fail_next: dict[str, Exception] = field(default_factory=dict)
    fail_calls: dict[str, list[Exception | None]] = field(default_factory=dict)  # the next calls, in order

    def _enter(self, name: str, *, write: bool) -> None:
        error = self.fail_next.pop(name, None)
        if error is None and self.fail_calls.get(name):
            error = self.fail_calls[name].pop(0)  # None in the list lets that call through
        if error is not None:
            raise error
        if write:
            self.writes.append(name)

    def delete_invoice(self, invoice_id: UUID) -> None:
        """Dynamics deletes the invoice; its Xero details stay, with the invoice id kept as text."""
        del self.invoices[invoice_id]

    async def get_xero_details(self, invoice_id: UUID) -> XeroDetails | None:
        self.calls["get_xero_details"] += 1
        return self.details.get(invoice_id)

    async def find_tracked_invoice(self, xero_invoice_id: str) -> TrackedInvoice | None:
        self.calls["find_tracked_invoice"] += 1
        found = self._tracked([xero_invoice_id])
        return found[0] if found else None

    async def find_tracked_invoices(self, xero_invoice_ids: Sequence[str]) -> list[TrackedInvoice]:
        self.calls["find_tracked_invoices"] += 1
        return self._tracked(xero_invoice_ids)

    def _tracked(self, xero_invoice_ids: Sequence[str]) -> list[TrackedInvoice]:
        """As the real read: the invoice without its lines, None once it is deleted."""
        wanted = set(xero_invoice_ids)
        found = []
        for invoice_id, details in self.details.items():
            if details.xero_invoice_id in wanted:
                invoice = self.invoices.get(invoice_id)
                lean = invoice.model_copy(update={"lines": []}) if invoice is not None else None
                found.append(TrackedInvoice(details=details, invoice=lean))
        return found

    async def find_xero_details_by_credit_note_id(self, credit_note_id: str) -> XeroDetails | None:
        self.calls["find_xero_details_by_credit_note_id"] += 1
        return next((d for d in self.details.values() if d.credit_note_id == credit_note_id), None)

    async def update_xero_details(
        self, details_id: UUID, changes: Mapping[str, object], if_match: str | None
    ) -> str:
        self._enter("update_xero_details", write=True)
        if not any(d.id == details_id for d in self.details.values()):
            raise NotFoundError(f"xero details {details_id}")
        return await super().update_xero_details(details_id, changes, if_match)

    async def update_invoice_totals(
        self,
        invoice_id: UUID,
        *,
        total_tax: Decimal,
        total_amount: Decimal | None,
        due_date: date | None,
        amount_due: Decimal | None = None,
    ) -> None:
        self._enter("update_invoice_totals", write=True)
        if self.invoices[invoice_id].state != InvoiceState.ACTIVE:
            raise AssertionError("Dataverse refuses changes to a Paid or cancelled invoice (read-only)")
        await super().update_invoice_totals(
            invoice_id,
            total_tax=total_tax,
            total_amount=total_amount,
            due_date=due_date,
            amount_due=amount_due,
        )
        self.invoices[invoice_id] = self.invoices[invoice_id].model_copy(update={"due_date": due_date})

    async def commit_sync_results(self, writes: Sequence[SyncWrite]) -> None:
        self._enter("commit_sync_results", write=True)
        await super().commit_sync_results(writes)

    async def commit_sync_result(
        self,
        details_id: UUID,
        details_changes: Mapping[str, object],
        invoice_totals: InvoiceTotals | None,
        history: Sequence[SyncHistoryEntry],
    ) -> None:
        self._enter("commit_sync_result", write=True)
        await super().commit_sync_result(details_id, details_changes, invoice_totals, history)

    async def set_invoice_state(self, invoice_id: UUID, state: InvoiceState, status_reason: int) -> None:
        self._enter("set_invoice_state", write=True)
        self.calls["set_invoice_state"] += 1
        self.invoices[invoice_id] = self.invoices[invoice_id].model_copy(
            update={"state": state, "status_reason": status_reason}
        )

    async def add_sync_history(self, entry: SyncHistoryEntry) -> None:
        self._enter("add_sync_history", write=True)
        await super().add_sync_history(entry)

    async def update_customer_xero(
        self,
        kind: Literal["account", "contact"],
        customer_id: UUID,
        *,
        xero_contact_id: str | None = None,
        amount_owed: Decimal | None = None,
        amount_overdue: Decimal | None = None,
        amount_we_owe: Decimal | None = None,
        amount_we_owe_overdue: Decimal | None = None,
    ) -> None:
        self._enter("update_customer_xero", write=True)
        await super().update_customer_xero(
            kind,
            customer_id,
            xero_contact_id=xero_contact_id,
            amount_owed=amount_owed,
            amount_overdue=amount_overdue,
            amount_we_owe=amount_we_owe,
            amount_we_owe_overdue=amount_we_owe_overdue,
        )
        if amount_owed is not None or amount_overdue is not None:
            self.balances[(kind, customer_id)] = (amount_owed, amount_overdue)
        if amount_we_owe is not None or amount_we_owe_overdue is not None:
            self.supplier_balances[(kind, customer_id)] = (amount_we_owe, amount_we_owe_overdue)
        if customer_id in self.customers:  # what the next read of the customer shows
            written = {
                "amount_owed": amount_owed,
                "amount_overdue": amount_overdue,
                "amount_we_owe": amount_we_owe,
                "amount_we_owe_overdue": amount_we_owe_overdue,
                "xero_contact_id": xero_contact_id,
            }
            self.customers[customer_id] = self.customers[customer_id].model_copy(
                update={name: value for name, value in written.items() if value is not None}
            )

    async def list_linked_customers(self) -> list[Customer]:
        self.calls["list_linked_customers"] += 1
        return [c for c in self.customers.values() if c.xero_contact_id]

    async def list_overdue_candidates(self, connection_id: UUID, today: date) -> list[XeroDetails]:
        self.calls["list_overdue_candidates"] += 1
        return [
            d
            for d in self.details.values()
            if d.connection_id == connection_id
            and d.xero_status == "AUTHORISED"
            and (d.amount_due or 0) > 0
            and d.due_date is not None
            and d.due_date < today
        ]

    async def list_emails_pending(self, connection_id: UUID) -> list[XeroDetails]:
        self.calls["list_emails_pending"] += 1
        return [d for d in self.details.values() if d.connection_id == connection_id and d.email_pending]

    async def list_missing_online_urls(self, connection_id: UUID, limit: int) -> list[XeroDetails]:
        self.calls["list_missing_online_urls"] += 1
        missing = [
            d
            for d in self.details.values()
            if d.connection_id == connection_id
            and not d.online_invoice_url
            and d.xero_invoice_id
            and d.xero_status in ("AUTHORISED", "PAID")
            and (d.invoice_id not in self.invoices or self.invoices[d.invoice_id].invoice_type == "sales")
        ]
        return missing[:limit]

    async def find_customers_by_xero_contact_id(self, xero_contact_id: str) -> list[Customer]:
        self.calls["find_customers_by_xero_contact_id"] += 1
        return [c for c in self.customers.values() if c.xero_contact_id == xero_contact_id]

    async def get_connection_by_tenant_id(self, tenant_id: str) -> ConnectionSettings | None:
        self.calls["get_connection_by_tenant_id"] += 1
        return next((c for c in self.connections.values() if c.tenant_id == tenant_id), None)

    async def list_connections(self) -> list[ConnectionSettings]:
        self.calls["list_connections"] += 1
        return list(self.connections.values())

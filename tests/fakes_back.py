"""Fakes for the back-sync and cancel services: the sync fakes, extended with what those ports add.

FakeBackXero keeps a small model of Xero's ledger (payments, credit notes, allocations, contact
balances) so tests can change Xero and watch the services follow it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    Customer,
    InvoiceState,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.domain.sync.lines import line_amount
from connector.domain.xero_records import (
    InvoiceType,
    XeroContact,
    XeroCreditNote,
    XeroCreditNoteDraft,
    XeroInvoice,
    XeroInvoiceStatus,
)
from connector.errors import NotFoundError, XeroValidationError
from tests.fakes_ports import FakeDataverse, FakeXero

Balance = tuple[Decimal | None, Decimal | None]


@dataclass
class FakeBackDataverse(FakeDataverse):
    """BackSyncDataversePort in memory. `writes` lists every write in order; `fail_next` makes the next
    call of a method raise once (a crash in the middle)."""

    customers: dict[UUID, Customer] = field(default_factory=dict)
    balances: dict[tuple[str, UUID], Balance] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)
    fail_next: dict[str, Exception] = field(default_factory=dict)

    def _enter(self, name: str, *, write: bool) -> None:
        error = self.fail_next.pop(name, None)
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

    async def find_xero_details_by_xero_invoice_id(self, xero_invoice_id: str) -> XeroDetails | None:
        self.calls["find_xero_details_by_xero_invoice_id"] += 1
        return next((d for d in self.details.values() if d.xero_invoice_id == xero_invoice_id), None)

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
        self, invoice_id: UUID, *, total_tax: Decimal, total_amount: Decimal, due_date: date | None
    ) -> None:
        self._enter("update_invoice_totals", write=True)
        if self.invoices[invoice_id].state != InvoiceState.ACTIVE:
            raise AssertionError("Dataverse refuses changes to a Paid or cancelled invoice (read-only)")
        await super().update_invoice_totals(
            invoice_id, total_tax=total_tax, total_amount=total_amount, due_date=due_date
        )
        self.invoices[invoice_id] = self.invoices[invoice_id].model_copy(update={"due_date": due_date})

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
        kind: str,
        customer_id: UUID,
        *,
        xero_contact_id: str | None = None,
        amount_owed: Decimal | None = None,
        amount_overdue: Decimal | None = None,
    ) -> None:
        self._enter("update_customer_xero", write=True)
        await super().update_customer_xero(
            kind,
            customer_id,
            xero_contact_id=xero_contact_id,
            amount_owed=amount_owed,
            amount_overdue=amount_overdue,
        )
        if amount_owed is not None or amount_overdue is not None:
            self.balances[(kind, customer_id)] = (amount_owed, amount_overdue)

    async def find_customers_by_xero_contact_id(self, xero_contact_id: str) -> list[Customer]:
        self.calls["find_customers_by_xero_contact_id"] += 1
        return [c for c in self.customers.values() if c.xero_contact_id == xero_contact_id]

    async def get_connection_by_tenant_id(self, tenant_id: str) -> ConnectionSettings | None:
        self.calls["get_connection_by_tenant_id"] += 1
        return next((c for c in self.connections.values() if c.tenant_id == tenant_id), None)

    async def list_connections(self) -> list[ConnectionSettings]:
        self.calls["list_connections"] += 1
        return list(self.connections.values())


@dataclass
class FakeBackXero(FakeXero):
    """BackSyncXeroPort in memory: one organisation's ledger. Writes replay by Idempotency-Key."""

    today: date = date(2026, 11, 21)
    now: datetime = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    credit_notes: dict[str, XeroCreditNote] = field(default_factory=dict)
    credit_note_drafts: dict[str, XeroCreditNoteDraft] = field(default_factory=dict)
    allocations: list[tuple[str, str, Decimal]] = field(default_factory=list)  # note, invoice, amount
    status_writes: list[tuple[str, str]] = field(default_factory=list)  # invoice, status (not replays)
    online_urls: bool = True
    fail_next: dict[str, Exception] = field(default_factory=dict)
    write_keys: list[tuple[str, str]] = field(default_factory=list)  # every write's Idempotency-Key
    _replies: dict[str, object] = field(default_factory=dict)  # Idempotency-Key → first answer
    _note_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _invoice_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(101))

    def _enter(self, name: str, idempotency_key: str | None = None) -> None:
        self.calls[name] += 1
        if idempotency_key is not None:
            self.write_keys.append((name, idempotency_key))
        error = self.fail_next.pop(name, None)
        if error is not None:
            raise error

    # --- arranging Xero ---------------------------------------------------------------------------

    def add_invoice(
        self,
        contact_id: str,
        total: Decimal,
        *,
        status: XeroInvoiceStatus = "AUTHORISED",
        tax: Decimal = Decimal(0),
        due_date: date | None = None,
        type_: InvoiceType = "ACCREC",
        currency_code: str = "NZD",
    ) -> XeroInvoice:
        invoice = XeroInvoice(
            invoice_id=str(uuid.uuid4()),
            invoice_number=f"INV-{next(self._invoice_numbers):04d}",
            type=type_,
            status=status,
            contact_id=contact_id,
            due_date=due_date,
            sub_total=total - tax,
            total_tax=tax,
            total=total,
            amount_due=total,
            currency_code=currency_code,
            updated_at=self.now,
        )
        self.invoices[invoice.invoice_id] = invoice
        return invoice

    def _put(self, invoice: XeroInvoice, **changes: object) -> XeroInvoice:
        updated = invoice.model_copy(update={**changes, "updated_at": self.now})
        self.invoices[invoice.invoice_id] = updated
        return updated

    def pay(self, invoice_id: str, amount: Decimal) -> XeroInvoice:
        """A payment entered in Xero (what makes Xero send an INVOICE UPDATE event)."""
        invoice = self.invoices[invoice_id]
        due = invoice.amount_due - amount
        if due < 0 or invoice.status != "AUTHORISED":
            raise ValueError("the fake takes payments on authorised invoices, up to the amount due")
        return self._put(
            invoice,
            amount_paid=invoice.amount_paid + amount,
            amount_due=due,
            has_payments=True,
            status="PAID" if due == 0 else "AUTHORISED",
        )

    # --- the port ---------------------------------------------------------------------------------

    def get_invoice(self, invoice_id: str) -> XeroInvoice:
        self._enter("get_invoice")
        if invoice_id not in self.invoices:
            raise NotFoundError("Xero get_invoice: not found")
        return self.invoices[invoice_id]

    def get_invoices_modified_since(self, since: datetime, page: int = 1) -> list[XeroInvoice]:
        self._enter("get_invoices_modified_since")
        changed = sorted(
            (i for i in self.invoices.values() if i.updated_at is not None and i.updated_at >= since),
            key=lambda i: i.updated_at or since,
        )
        return changed[(page - 1) * 100 : page * 100]

    def get_online_invoice_url(self, invoice_id: str) -> str | None:
        self._enter("get_online_invoice_url")
        if not self.online_urls or self.invoices[invoice_id].status == "DRAFT":
            return None
        return f"https://in.xero.com/{invoice_id}"

    def get_contact(self, contact_id: str) -> XeroContact:
        """Balances as Xero computes them: amounts due on authorised sales invoices; overdue when the
        due date is before today."""
        self._enter("get_contact")
        if contact_id not in self.contacts:
            raise NotFoundError("Xero get_contact: not found")
        open_invoices = [
            i
            for i in self.invoices.values()
            if i.contact_id == contact_id and i.type == "ACCREC" and i.status == "AUTHORISED"
        ]
        outstanding = sum((i.amount_due for i in open_invoices), Decimal(0))
        overdue = sum(
            (i.amount_due for i in open_invoices if i.due_date is not None and i.due_date < self.today),
            Decimal(0),
        )
        return self.contacts[contact_id].model_copy(
            update={"receivable_outstanding": outstanding, "receivable_overdue": overdue}
        )

    def set_invoice_status(self, invoice_id: str, status: str, idempotency_key: str) -> XeroInvoice:
        self._enter("set_invoice_status", idempotency_key)
        if idempotency_key in self._replies:
            reply = self._replies[idempotency_key]
            assert isinstance(reply, XeroInvoice)
            return reply
        invoice = self.invoices[invoice_id]
        if status == "DELETED" and invoice.status not in ("DRAFT", "SUBMITTED"):
            raise XeroValidationError([f"Invoice of status {invoice.status} cannot be deleted"])
        if status == "VOIDED" and (
            invoice.status != "AUTHORISED" or invoice.amount_paid or invoice.amount_credited
        ):
            raise XeroValidationError(["Invoice cannot be voided"])
        self.status_writes.append((invoice_id, status))
        changed = self._put(invoice, status=status)
        self._replies[idempotency_key] = changed
        return changed

    def create_credit_note(self, draft: XeroCreditNoteDraft, idempotency_key: str) -> XeroCreditNote:
        self._enter("create_credit_note", idempotency_key)
        if idempotency_key in self._replies:
            reply = self._replies[idempotency_key]
            assert isinstance(reply, XeroCreditNote)
            return reply
        sub_total = sum((line_amount(line) for line in draft.line_items), Decimal(0))
        tax = (
            (sub_total * Decimal("0.15")).quantize(Decimal("0.01"))
            if draft.line_amount_types == "Exclusive"
            else Decimal(0)
        )
        note = XeroCreditNote(
            credit_note_id=str(uuid.uuid4()),
            credit_note_number=f"CN-{next(self._note_numbers):04d}",
            status=draft.status,
            total=sub_total + tax,
            remaining_credit=sub_total + tax,
            reference=draft.reference,
        )
        self.credit_notes[note.credit_note_id] = note
        self.credit_note_drafts[note.credit_note_id] = draft
        self._replies[idempotency_key] = note
        return note

    def allocate_credit_note(
        self,
        credit_note_id: str,
        invoice_id: str,
        amount: Decimal,
        idempotency_key: str,
        on: date | None = None,
    ) -> None:
        self._enter("allocate_credit_note", idempotency_key)
        if idempotency_key in self._replies:
            return
        note, invoice = self.credit_notes[credit_note_id], self.invoices[invoice_id]
        if amount > note.remaining_credit or amount > invoice.amount_due:
            raise XeroValidationError(["The amount allocated exceeds the credit or the amount due"])
        self.credit_notes[credit_note_id] = note.model_copy(
            update={"remaining_credit": note.remaining_credit - amount}
        )
        due = invoice.amount_due - amount
        self._put(
            invoice,
            amount_credited=invoice.amount_credited + amount,
            amount_due=due,
            status="PAID" if due == 0 else invoice.status,
        )
        self.allocations.append((credit_note_id, invoice_id, amount))
        self._replies[idempotency_key] = None

    def find_credit_notes_by_reference(self, reference: str) -> list[XeroCreditNote]:
        self._enter("find_credit_notes_by_reference")
        return [n for n in self.credit_notes.values() if n.reference == reference]


# --- a small world for the service tests ----------------------------------------------------------------

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TENANT_ID = "tenant-1"


@dataclass
class BackWorld:
    """One connection, one Xero organisation, one Dynamics org, and a clock."""

    dataverse: FakeBackDataverse
    xero: FakeBackXero
    connection: ConnectionSettings
    clock: list[datetime]

    def now(self) -> datetime:
        return self.clock[0]

    def xero_for(self, connection: ConnectionSettings) -> FakeBackXero:
        assert connection.id == self.connection.id, "the service asked for another organisation"
        return self.xero


def back_world(connection: ConnectionSettings) -> BackWorld:
    dataverse = FakeBackDataverse()
    dataverse.connections[connection.id] = connection
    return BackWorld(dataverse, FakeBackXero(today=NOW.date(), now=NOW), connection, [NOW])


def details_for(
    xero_invoice: XeroInvoice, invoice_id: UUID, connection_id: UUID, **overrides: object
) -> XeroDetails:
    """Xero details as sync_invoice leaves them right after creating `xero_invoice`."""
    values: dict[str, object] = {
        "id": uuid.uuid5(uuid.NAMESPACE_URL, f"details-{invoice_id}"),
        "invoice_id": invoice_id,
        "connection_id": connection_id,
        "export_status": "Yes",
        "xero_invoice_id": xero_invoice.invoice_id,
        "xero_invoice_number": xero_invoice.invoice_number,
        "xero_status": xero_invoice.status,
        "amount_paid": xero_invoice.amount_paid,
        "amount_due": xero_invoice.amount_due,
        "amount_credited": xero_invoice.amount_credited,
        "total": xero_invoice.total,
        "total_tax": xero_invoice.total_tax,
        "due_date": xero_invoice.due_date,
    }
    values.update(overrides)
    return XeroDetails.model_validate(values)

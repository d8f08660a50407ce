"""One Xero organisation in memory: a small ledger (payments, credit notes, allocations, balances).
Writes replay by Idempotency-Key."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from connector.adapters.xero.errors import XeroApiError
from connector.domain.sync.lines import line_amount
from connector.domain.xero_records import (
    InvoiceType,
    XeroContact,
    XeroContactDraft,
    XeroCreditNote,
    XeroCreditNoteDraft,
    XeroInvoice,
    XeroInvoiceDraft,
    XeroInvoiceStatus,
    XeroItem,
    XeroItemDraft,
)
from connector.errors import NotFoundError, XeroValidationError


@dataclass
class _XeroLedger:
    """XeroPort in memory, for one organisation. Tax is a flat 15% on Exclusive lines."""

    contacts: dict[str, XeroContact] = field(default_factory=dict)  # by ContactID
    items: dict[str, XeroItem] = field(default_factory=dict)  # by code
    invoices: dict[str, XeroInvoice] = field(default_factory=dict)
    drafts: dict[str, XeroInvoiceDraft] = field(default_factory=dict)
    keys: dict[str, XeroInvoice] = field(default_factory=dict)  # Idempotency-Key replay
    calls: Counter[str] = field(default_factory=Counter)
    reject_with: list[str] | None = None
    reject_batch_element: Callable[[XeroInvoiceDraft], list[str]] | None = None
    fail_after_create: Exception | None = None  # "commit then time out"
    # The next calls of a method raise these, in order, before doing anything (a 5xx, a 429…).
    fail_calls: dict[str, list[Exception]] = field(default_factory=dict)
    key_bodies: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → the body first sent
    batch_replies: dict[str, list[XeroInvoice]] = field(default_factory=dict)
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

    def _scripted_failure(self, name: str) -> None:
        queue = self.fail_calls.get(name)
        if queue:
            raise queue.pop(0)

    def _replay(self, idempotency_key: str, body: str) -> bool:
        """As the emulator: the same key and body replays; the same key with another body is a 422."""
        first = self.key_bodies.setdefault(idempotency_key, body)
        if first != body:
            raise XeroApiError("Xero: Idempotency-Key reused with a different request (HTTP 422)", 422)
        return idempotency_key in self.keys or idempotency_key in self.batch_replies

    def find_invoices_by_urls(self, urls: list[str]) -> list[XeroInvoice]:
        self.calls["find_invoices_by_urls"] += 1
        self._scripted_failure("find_invoices_by_urls")
        wanted = {url.lower() for url in urls}
        return [self.invoices[i] for i, d in self.drafts.items() if d.url and d.url.lower() in wanted]

    def create_invoice(self, draft: XeroInvoiceDraft, idempotency_key: str) -> XeroInvoice:
        self.calls["create_invoice"] += 1
        self._scripted_failure("create_invoice")
        if self._replay(idempotency_key, draft.model_dump_json()):
            return self.keys[idempotency_key]
        if self.reject_with:
            raise XeroValidationError(list(self.reject_with))
        invoice = self._new_invoice(draft)
        self.keys[idempotency_key] = invoice
        self._maybe_lose_answer()
        return invoice

    def create_invoices(
        self, drafts: list[XeroInvoiceDraft], idempotency_key: str, summarize_errors: bool = False
    ) -> list[XeroInvoice]:
        """summarizeErrors=false: every element comes back, failed ones with their validation errors."""
        self.calls["create_invoices"] += 1
        self._scripted_failure("create_invoices")
        body = "[" + ",".join(draft.model_dump_json() for draft in drafts) + "]"
        if self._replay(idempotency_key, body):
            return self.batch_replies[idempotency_key]
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
            results.append(self._new_invoice(draft))
        self.batch_replies[idempotency_key] = results
        self._maybe_lose_answer()
        return results

    def _maybe_lose_answer(self) -> None:
        if self.fail_after_create is not None:
            error, self.fail_after_create = self.fail_after_create, None
            raise error

    def _new_invoice(self, draft: XeroInvoiceDraft) -> XeroInvoice:
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
        return invoice

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


@dataclass
class FakeXero(_XeroLedger):
    """XeroPort in memory: one organisation's ledger. Writes replay by Idempotency-Key."""

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

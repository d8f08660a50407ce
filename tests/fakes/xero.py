"""One Xero organisation in memory, as strict as the Xero emulator (devstack/xero) where the connector
can tell: the status machine, the limits on paid invoices, validation in Xero's words, emails, credit
note allocation and Idempotency-Key replays. tests/contract runs the same cases against both.

Tax is a flat 15% on Exclusive lines (the emulator's NZ OUTPUT2 rate on the seeded sales account).
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from connector.adapters.xero.errors import XeroApiError
from connector.domain.sync.lines import line_amount
from connector.domain.xero_records import (
    CreditNoteType,
    InvoiceType,
    XeroAllocation,
    XeroContact,
    XeroContactDraft,
    XeroCreditNote,
    XeroCreditNoteDraft,
    XeroInvoice,
    XeroInvoiceDraft,
    XeroInvoiceStatus,
    XeroItem,
    XeroItemDraft,
    XeroLineItem,
)
from connector.errors import NotFoundError, XeroValidationError

T = TypeVar("T")

# The emulator's words (devstack/xero/documents.py, ledger.py, accounting.py).
NOT_MODIFIABLE = "Invoice not of valid status for modification"
HAS_PAYMENTS = "This document cannot be edited as it has a payment or credit note allocated to it."
NOT_EMAILABLE = "Only AUTHORISED sales invoices can be emailed"
NO_ONLINE_INVOICE = "No online invoice for a draft, deleted or purchase invoice"
# The seeded NZ chart of accounts: code → active. 999 is archived.
NZ_ACCOUNTS = {
    "200": True,
    "260": True,
    "300": True,
    "310": True,
    "400": True,
    "610": True,
    "800": True,
    "820": True,
    "880": True,
    "999": False,
}
_ZERO_ID = "00000000-0000-0000-0000-000000000000"
_LOCKED_LINE_AMOUNTS = ("quantity", "unit_amount", "discount_rate", "discount_amount", "item_code")


@dataclass
class _Stored:
    """What an Idempotency-Key answered the first time (Xero keeps anything but a 5xx)."""

    fingerprint: str
    reply: Any
    error: XeroValidationError | None = None


@dataclass
class FakeXero:
    """XeroPort in memory, for one organisation."""

    today: date = date(2026, 11, 21)
    now: datetime = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    # The organisation: enabled currencies and its chart of accounts (code → active).
    currencies: set[str] = field(default_factory=lambda: {"NZD", "USD"})
    base_currency: str = "NZD"
    accounts: dict[str, bool] = field(default_factory=lambda: dict(NZ_ACCOUNTS))
    contacts: dict[str, XeroContact] = field(default_factory=dict)  # by ContactID
    items: dict[str, XeroItem] = field(default_factory=dict)  # by code
    invoices: dict[str, XeroInvoice] = field(default_factory=dict)
    drafts: dict[str, XeroInvoiceDraft] = field(default_factory=dict)  # what each invoice is made of now
    credit_notes: dict[str, XeroCreditNote] = field(default_factory=dict)
    credit_note_drafts: dict[str, XeroCreditNoteDraft] = field(default_factory=dict)
    allocations: list[tuple[str, str, Decimal]] = field(default_factory=list)  # note, invoice, amount
    status_writes: list[tuple[str, str]] = field(default_factory=list)  # invoice, status (not replays)
    emails_sent: list[str] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    write_keys: list[tuple[str, str]] = field(default_factory=list)  # every write's Idempotency-Key
    online_urls: bool = True
    # Injected failures, raised before the call does anything (a 5xx, a 429, a dropped connection…):
    fail_next: dict[str, Exception] = field(default_factory=dict)  # the next call of a method
    fail_calls: dict[str, list[Exception]] = field(default_factory=dict)  # the next calls, in order
    fail_after_create: Exception | None = None  # "commit then time out": created, answer lost
    # Validation Xero would add for reasons the fake does not model (every element gets them).
    reject_with: list[str] | None = None
    reject_batch_element: Callable[[XeroInvoiceDraft], list[str]] | None = None
    _idempotency: dict[str, _Stored] = field(default_factory=dict)
    _invoice_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _note_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _entered_numbers: itertools.count[int] = field(
        default_factory=lambda: itertools.count(101)
    )  # add_invoice

    # --- bookkeeping ------------------------------------------------------------------------------

    def _enter(self, name: str, idempotency_key: str | None = None) -> None:
        self.calls[name] += 1
        if idempotency_key is not None:
            self.write_keys.append((name, idempotency_key))
        error = self.fail_next.pop(name, None)
        if error is None and self.fail_calls.get(name):
            error = self.fail_calls[name].pop(0)
        if error is not None:
            raise error

    def _once(self, key: str, request: str, run: Callable[[], T], *, may_lose_answer: bool = False) -> T:
        """Idempotency-Key as the emulator keeps it: the same key and request replays the first answer
        (a validation error too); the same key with another request is a 422."""
        stored = self._idempotency.get(key)
        if stored is not None:
            if stored.fingerprint != request:
                raise XeroApiError("Xero: Idempotency-Key reused with a different request (HTTP 422)", 422)
            if stored.error is not None:
                raise stored.error
            return stored.reply  # type: ignore[no-any-return]
        try:
            reply = run()
        except XeroValidationError as exc:
            self._idempotency[key] = _Stored(request, None, exc)
            raise
        self._idempotency[key] = _Stored(request, reply)
        if may_lose_answer and self.fail_after_create is not None:
            error, self.fail_after_create = self.fail_after_create, None
            raise error
        return reply

    def _invoice(self, invoice_id: str, operation: str) -> XeroInvoice:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise NotFoundError(f"Xero {operation}: not found")
        return invoice

    def _put(self, invoice: XeroInvoice, **changes: Any) -> XeroInvoice:
        updated = invoice.model_copy(update={**changes, "updated_at": self.now})
        self.invoices[invoice.invoice_id] = updated
        return updated

    # --- arranging Xero (what a Xero user does; the emulator's control API) ------------------------

    def add_contact(
        self, name: str, number: str | None = None, *, contact_id: str | None = None
    ) -> XeroContact:
        contact = XeroContact(contact_id=contact_id or str(uuid.uuid4()), name=name, contact_number=number)
        self.contacts[contact.contact_id] = contact
        return contact

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
        """An invoice entered in Xero, of one line (so an update has lines to compare against)."""
        line = XeroLineItem(description="Entered in Xero", quantity=Decimal(1), unit_amount=total - tax)
        draft = XeroInvoiceDraft(
            type=type_,
            contact_id=contact_id,
            due_date=due_date,
            currency_code=currency_code,
            status=status,
            line_items=[line.model_copy(update={"account_code": "200" if type_ == "ACCREC" else "300"})],
        )
        invoice = XeroInvoice(
            invoice_id=str(uuid.uuid4()),
            invoice_number=f"INV-{next(self._entered_numbers):04d}" if type_ == "ACCREC" else None,
            type=type_,
            status=status,
            contact_id=contact_id,
            date=self.today,
            due_date=due_date,
            sub_total=total - tax,
            total_tax=tax,
            total=total,
            amount_due=total,
            currency_code=currency_code,
            updated_at=self.now,
        )
        return self._remember(invoice, draft)

    def approve(self, invoice_id: str) -> XeroInvoice:
        """A Xero user approves a draft, through the same rules as the API."""
        invoice = self.invoices[invoice_id]
        problems = self._transition(invoice, "AUTHORISED")
        if problems:
            raise ValueError(problems)
        return self._put(invoice, status="AUTHORISED")

    def pay(self, invoice_id: str, amount: Decimal | None = None) -> XeroInvoice:
        """A payment entered in Xero (default: the amount due); what makes Xero send an INVOICE UPDATE."""
        invoice = self.invoices[invoice_id]
        amount = invoice.amount_due if amount is None else amount
        due = invoice.amount_due - amount
        if due < 0 or amount <= 0 or invoice.status != "AUTHORISED":
            raise ValueError("payments go on authorised invoices, up to the amount due")
        return self._put(
            invoice,
            amount_paid=invoice.amount_paid + amount,
            amount_due=due,
            has_payments=True,
            status="PAID" if due == 0 else "AUTHORISED",
        )

    # --- validation, in the emulator's order and words --------------------------------------------

    def _header_problems(
        self, contact_id: str | None, contact_name: str | None, currency: str | None
    ) -> list[str]:
        problems = []
        if contact_id is not None and contact_id not in self.contacts:
            problems.append(f"The contact with ContactID {contact_id} could not be found")
        elif contact_id is None and not (contact_name or "").strip():
            problems.append("A Contact must be specified for this type of transaction")
        if currency and currency not in self.currencies:
            problems.append(f"Organisation is not subscribed to currency {currency}")
        return problems

    def _line_problems(self, lines: list[XeroLineItem], sales: bool) -> list[str]:
        problems = []
        for line in lines:
            item = self.items.get(line.item_code) if line.item_code else None
            if line.item_code and item is None:
                problems.append(f"Item code '{line.item_code}' is not valid")
                continue
            if line.quantity is None and line.unit_amount is None:
                if not line.description:
                    problems.append("Description is required for a line item without an amount")
                continue
            default = (
                item.sales_account_code if item and sales else item.purchase_account_code if item else None
            )
            code = line.account_code or default
            if not code:
                problems.append("Account code must be specified for a line item with an amount")
            elif not self.accounts.get(code, False):
                problems.append(f"Account code '{code}' is not a valid code for this document.")
        return problems

    def _draft_problems(self, draft: XeroInvoiceDraft, own_id: str | None = None) -> list[str]:
        problems = self._header_problems(draft.contact_id, draft.contact_name, draft.currency_code)
        problems += self._line_problems(draft.line_items, sales=draft.type == "ACCREC")
        if (
            draft.invoice_number
            and draft.type == "ACCREC"
            and self._number_taken(draft.invoice_number, own_id)
        ):
            problems.append("Invoice # must be unique.")
        if draft.status in ("SUBMITTED", "AUTHORISED") and not draft.line_items:
            problems.append("A Invoice must have at least one line item to be approved")
        if draft.status not in ("DRAFT", "SUBMITTED", "AUTHORISED") and own_id is None:
            problems.append(f"Invoice status cannot be set to {draft.status} when it is created")
        problems += list(self.reject_with or [])
        if self.reject_batch_element is not None:
            problems += self.reject_batch_element(draft)
        return problems

    def _number_taken(self, number: str, own_id: str | None) -> bool:
        return any(
            i.invoice_number and i.invoice_number.casefold() == number.casefold() and i.invoice_id != own_id
            for i in self.invoices.values()
            if i.type == "ACCREC" and i.status != "DELETED"
        )

    @staticmethod
    def _transition(invoice: XeroInvoice, target: str) -> list[str]:
        """The status machine: DRAFT ↔ SUBMITTED → AUTHORISED → (PAID | VOIDED); DELETED from drafts."""
        current = invoice.status
        if current in ("VOIDED", "DELETED"):
            return [NOT_MODIFIABLE]
        if target == current:
            return []
        if current == "PAID" or invoice.amount_paid or invoice.amount_credited:
            return [HAS_PAYMENTS if target == "VOIDED" else NOT_MODIFIABLE]
        if target == "PAID":
            return ["Invoice status cannot be set to PAID; it becomes PAID when fully paid"]
        if target == "DELETED" and current not in ("DRAFT", "SUBMITTED"):
            return [f"{NOT_MODIFIABLE}: only DRAFT or SUBMITTED documents can be deleted; void it instead"]
        if target == "VOIDED" and current != "AUTHORISED":
            return [f"{NOT_MODIFIABLE}: only AUTHORISED documents can be voided; delete it instead"]
        if target in ("DRAFT", "SUBMITTED") and current not in ("DRAFT", "SUBMITTED"):
            return [f"{NOT_MODIFIABLE}: an {current} document cannot go back to {target}"]
        return []

    # --- contacts and items -----------------------------------------------------------------------

    def find_contact_by_name(self, name: str) -> XeroContact | None:
        self._enter("find_contact_by_name")
        return next((c for c in self.contacts.values() if c.name.lower() == name.lower()), None)

    def find_contact_by_number(self, contact_number: str) -> XeroContact | None:
        self._enter("find_contact_by_number")
        return next((c for c in self.contacts.values() if c.contact_number == contact_number), None)

    def get_contacts_by_ids(self, contact_ids: list[str]) -> list[XeroContact]:
        self._enter("get_contacts_by_ids")
        found = []
        for contact_id in contact_ids:
            if contact_id in self.contacts:
                found.append(self.get_contact(contact_id))
                self.calls["get_contact"] -= 1  # one call for all of them
        return found

    def get_contact(self, contact_id: str) -> XeroContact:
        """Balances as Xero computes them: amounts due on authorised sales invoices (receivable) and bills
        (payable); overdue when the due date is before today."""
        self._enter("get_contact")
        if contact_id not in self.contacts:
            raise NotFoundError("Xero get_contact: not found")
        balances: dict[str, Decimal] = {}
        for side, type_ in (("receivable", "ACCREC"), ("payable", "ACCPAY")):
            open_invoices = [
                i
                for i in self.invoices.values()
                if i.contact_id == contact_id and i.type == type_ and i.status == "AUTHORISED"
            ]
            balances[f"{side}_outstanding"] = sum((i.amount_due for i in open_invoices), Decimal(0))
            balances[f"{side}_overdue"] = sum(
                (i.amount_due for i in open_invoices if i.due_date is not None and i.due_date < self.today),
                Decimal(0),
            )
        return self.contacts[contact_id].model_copy(update=balances)

    def create_contact(self, draft: XeroContactDraft, idempotency_key: str) -> XeroContact:
        self._enter("create_contact", idempotency_key)

        def run() -> XeroContact:
            if any(c.name.casefold() == draft.name.casefold() for c in self.contacts.values()):
                raise XeroValidationError(
                    [f"The contact name {draft.name} is already assigned to another contact"]
                )
            return self.add_contact(draft.name, draft.contact_number)

        return self._once(idempotency_key, "PUT /Contacts " + draft.model_dump_json(), run)

    def update_contact(self, contact_id: str, draft: XeroContactDraft, idempotency_key: str) -> XeroContact:
        self._enter("update_contact", idempotency_key)

        def run() -> XeroContact:
            contact = self.contacts[contact_id].model_copy(
                update={"name": draft.name, "contact_number": draft.contact_number}
            )
            self.contacts[contact_id] = contact
            return contact

        return self._once(idempotency_key, f"POST /Contacts/{contact_id} {draft.model_dump_json()}", run)

    def get_items_by_codes(self, codes: list[str]) -> list[XeroItem]:
        self._enter("get_items_by_codes")
        return [self.items[code] for code in dict.fromkeys(codes) if code in self.items]

    def create_items(self, drafts: list[XeroItemDraft], idempotency_key: str) -> list[XeroItem]:
        self._enter("create_items", idempotency_key)

        def run() -> list[XeroItem]:
            created = [
                XeroItem(
                    item_id=str(uuid.uuid4()),
                    code=d.code,
                    name=d.name,
                    sales_account_code=d.sales_account_code,
                    sales_tax_type=d.sales_tax_type,
                    purchase_account_code=d.purchase_account_code,
                    purchase_tax_type=d.purchase_tax_type,
                )
                for d in drafts
            ]
            self.items.update({item.code: item for item in created})
            return created

        body = "[" + ",".join(d.model_dump_json() for d in drafts) + "]"
        return self._once(idempotency_key, "PUT /Items " + body, run)

    # --- invoices -----------------------------------------------------------------------------------

    def find_invoices_by_numbers(self, numbers: list[str]) -> list[XeroInvoice]:
        self._enter("find_invoices_by_numbers")
        wanted = {number for number in numbers if number}  # exact, as the emulator's InvoiceNumbers filter
        return [i for i in self.invoices.values() if i.invoice_number in wanted]

    def find_invoices_by_urls(self, urls: list[str]) -> list[XeroInvoice]:
        self._enter("find_invoices_by_urls")
        wanted = {url.lower() for url in urls}
        return [self.invoices[i] for i, d in self.drafts.items() if d.url and d.url.lower() in wanted]

    def create_invoice(self, draft: XeroInvoiceDraft, idempotency_key: str) -> XeroInvoice:
        """Like the adapter: a batch of one, its element's validation errors raised."""
        self._enter("create_invoice", idempotency_key)
        [invoice] = self._create_batch([draft], idempotency_key, summarize_errors=False)
        if invoice.validation_errors:
            raise XeroValidationError(list(invoice.validation_errors))
        return invoice

    def create_invoices(
        self, drafts: list[XeroInvoiceDraft], idempotency_key: str, summarize_errors: bool = False
    ) -> list[XeroInvoice]:
        """summarizeErrors=false: every element comes back, failed ones with their validation errors.
        Summarized: any failure fails the call, yet the valid elements are saved (as Xero does)."""
        self._enter("create_invoices", idempotency_key)
        return self._create_batch(drafts, idempotency_key, summarize_errors)

    def _create_batch(
        self, drafts: list[XeroInvoiceDraft], idempotency_key: str, summarize_errors: bool
    ) -> list[XeroInvoice]:
        def run() -> list[XeroInvoice]:
            results = []
            for draft in drafts:
                problems = self._draft_problems(draft)
                if problems:
                    results.append(
                        XeroInvoice(
                            invoice_id=_ZERO_ID,
                            type=draft.type,
                            status=draft.status,
                            validation_errors=problems,
                        )
                    )
                else:
                    results.append(self._new_invoice(draft))
            failed = [m for r in results for m in r.validation_errors]
            if summarize_errors and failed:
                raise XeroValidationError(failed)
            return results

        body = "[" + ",".join(d.model_dump_json() for d in drafts) + f"] summarize={summarize_errors}"
        return self._once(idempotency_key, "PUT /Invoices " + body, run, may_lose_answer=True)

    @staticmethod
    def _totals(lines: list[XeroLineItem], line_amount_types: str) -> tuple[Decimal, Decimal]:
        sub_total = sum((line_amount(line) for line in lines), Decimal(0))
        tax = (
            (sub_total * Decimal("0.15")).quantize(Decimal("0.01"))
            if line_amount_types == "Exclusive"
            else Decimal(0)
        )
        return sub_total, tax

    def _new_invoice(self, draft: XeroInvoiceDraft) -> XeroInvoice:
        if draft.contact_id is None:
            name = (draft.contact_name or "").strip()
            found = [c for c in self.contacts.values() if c.name.casefold() == name.casefold()]
            contact = found[0] if found else self.add_contact(name)
            draft = draft.model_copy(update={"contact_id": contact.contact_id})
        sub_total, tax = self._totals(draft.line_items, draft.line_amount_types)
        number = draft.invoice_number
        if not number and draft.type == "ACCREC":
            number = f"INV-{next(self._invoice_numbers):04d}"
            while self._number_taken(number, None):
                number = f"INV-{next(self._invoice_numbers):04d}"
        invoice = XeroInvoice(
            invoice_id=str(uuid.uuid4()),
            invoice_number=number,
            type=draft.type,
            status=draft.status,
            contact_id=draft.contact_id,
            reference=draft.reference,
            url=draft.url,
            date=draft.date or self.today,
            due_date=draft.due_date,
            sub_total=sub_total,
            total_tax=tax,
            total=sub_total + tax,
            amount_due=sub_total + tax,
            currency_code=draft.currency_code or self.base_currency,
            updated_at=self.now,
        )
        return self._remember(invoice, draft)

    def _remember(self, invoice: XeroInvoice, draft: XeroInvoiceDraft) -> XeroInvoice:
        """Keep what the invoice is made of, each line with its LineItemID (kept when an update names a
        line it holds, new otherwise, as the emulator does), and show the lines on reads."""
        previous = self.drafts.get(invoice.invoice_id)
        known = {line.line_item_id for line in previous.line_items} if previous else set()
        lines = [
            line
            if line.line_item_id in known
            else line.model_copy(update={"line_item_id": str(uuid.uuid4())})
            for line in draft.line_items
        ]
        self.drafts[invoice.invoice_id] = draft.model_copy(update={"line_items": lines})
        contact = self.contacts.get(invoice.contact_id or "")
        shown = invoice.model_copy(
            update={
                "line_items": tuple(lines),
                "line_amount_types": draft.line_amount_types,
                "contact_name": contact.name if contact else None,
            }
        )
        self.invoices[invoice.invoice_id] = shown
        return shown

    def update_invoice(self, invoice_id: str, draft: XeroInvoiceDraft, idempotency_key: str) -> XeroInvoice:
        self._enter("update_invoice", idempotency_key)
        invoice = self._invoice(invoice_id, "update_invoice")
        request = f"POST /Invoices/{invoice_id} {draft.model_dump_json()}"
        return self._once(idempotency_key, request, lambda: self._update(invoice, draft))

    def _update(self, invoice: XeroInvoice, draft: XeroInvoiceDraft) -> XeroInvoice:
        if invoice.status in ("VOIDED", "DELETED"):
            raise XeroValidationError([NOT_MODIFIABLE])
        old = self.drafts[invoice.invoice_id]
        if invoice.status == "PAID" or invoice.amount_paid or invoice.amount_credited:
            return self._update_locked(invoice, old, draft)
        if not draft.line_items:  # no LineItems sent: Xero keeps the lines it has
            draft = draft.model_copy(update={"line_items": old.line_items, "unit_dp": old.unit_dp})
        problems = self._draft_problems(draft, own_id=invoice.invoice_id)
        if draft.type != invoice.type:
            problems.insert(0, "The Invoice Type cannot be changed")
        problems += self._transition(invoice, draft.status)
        if problems:
            raise XeroValidationError(problems)
        sub_total, tax = self._totals(draft.line_items, draft.line_amount_types)
        updated = self._put(
            invoice,
            status=draft.status,
            contact_id=draft.contact_id or invoice.contact_id,
            reference=draft.reference or invoice.reference,
            url=draft.url or invoice.url,
            invoice_number=draft.invoice_number or invoice.invoice_number,
            date=draft.date or invoice.date,
            due_date=draft.due_date or invoice.due_date,
            currency_code=draft.currency_code or invoice.currency_code,
            sub_total=sub_total,
            total_tax=tax,
            total=sub_total + tax,
            amount_due=sub_total + tax,
        )
        return self._remember(updated, draft)

    def _update_locked(
        self, invoice: XeroInvoice, old: XeroInvoiceDraft, draft: XeroInvoiceDraft
    ) -> XeroInvoice:
        """On a paid or part-paid invoice only Reference, DueDate, InvoiceNumber, BrandingThemeID, Contact,
        Url and the lines' Description, AccountCode and Tracking may change; lines are matched one for one.
        No LineItems at all leaves the lines as they are."""
        if draft.status != invoice.status:
            raise XeroValidationError(self._transition(invoice, draft.status))
        if not draft.line_items:
            draft = draft.model_copy(update={"line_items": old.line_items})
        changed = (
            draft.type != invoice.type
            or (draft.date is not None and draft.date != invoice.date)
            or (draft.currency_code is not None and draft.currency_code != invoice.currency_code)
            or draft.line_amount_types != old.line_amount_types
            or len(draft.line_items) != len(old.line_items)
            or any(
                _line_amounts_differ(new, was)
                for new, was in zip(draft.line_items, old.line_items, strict=False)
            )
        )
        if changed:
            raise XeroValidationError([HAS_PAYMENTS])
        problems = self._header_problems(draft.contact_id, draft.contact_name, None)
        if draft.invoice_number and self._number_taken(draft.invoice_number, invoice.invoice_id):
            problems.append("Invoice # must be unique.")
        if problems:
            raise XeroValidationError(problems)
        lines = [
            was.model_copy(
                update={
                    "description": new.description or was.description,
                    "account_code": new.account_code or was.account_code,
                    # The adapter sends Tracking (an empty list clears it) on lines named by LineItemID.
                    "tracking": new.tracking if new.tracking or new.line_item_id else was.tracking,
                }
            )
            for new, was in zip(draft.line_items, old.line_items, strict=True)
        ]
        self.drafts[invoice.invoice_id] = old.model_copy(
            update={
                "reference": draft.reference or old.reference,
                "url": draft.url or old.url,
                "due_date": draft.due_date or old.due_date,
                "invoice_number": draft.invoice_number or old.invoice_number,
                "contact_id": draft.contact_id or old.contact_id,
                "branding_theme_id": draft.branding_theme_id or old.branding_theme_id,
                "line_items": lines,
            }
        )
        updated = self._put(
            invoice,
            reference=draft.reference or invoice.reference,
            url=draft.url or invoice.url,
            due_date=draft.due_date or invoice.due_date,
            invoice_number=draft.invoice_number or invoice.invoice_number,
            contact_id=draft.contact_id or invoice.contact_id,
        )
        return self._remember(updated, self.drafts[invoice.invoice_id])

    def set_invoice_status(self, invoice_id: str, status: str, idempotency_key: str) -> XeroInvoice:
        self._enter("set_invoice_status", idempotency_key)
        invoice = self._invoice(invoice_id, "update_invoice")

        def run() -> XeroInvoice:
            current = self.invoices[invoice_id]
            problems = self._transition(current, status)
            if problems:
                raise XeroValidationError(problems)
            self.status_writes.append((invoice_id, status))
            changes: dict[str, Any] = {"status": status}
            if status in ("VOIDED", "DELETED"):
                changes["amount_due"] = Decimal(0)
            return self._put(current, **changes)

        return self._once(idempotency_key, f"POST /Invoices/{invoice.invoice_id} Status={status}", run)

    def get_invoice(self, invoice_id: str) -> XeroInvoice:
        self._enter("get_invoice")
        return self._invoice(invoice_id, "get_invoice")

    def get_invoices_by_ids(self, invoice_ids: list[str]) -> list[XeroInvoice]:
        self._enter("get_invoices_by_ids")
        return [self.invoices[i] for i in invoice_ids if i in self.invoices]

    def get_invoices_modified_since(
        self, since: datetime, page: int = 1, page_size: int = 100
    ) -> list[XeroInvoice]:
        self._enter("get_invoices_modified_since")
        changed = sorted(
            # Changed after `since`, not at it: the emulator's reading of "since", a record whose time was
            # read back as the watermark is not returned again.
            (i for i in self.invoices.values() if i.updated_at is not None and i.updated_at > since),
            key=lambda i: i.updated_at or since,
        )
        size = min(max(page_size, 1), 1000)  # Xero's pageSize: 1 to 1,000
        return changed[(page - 1) * size : page * size]

    def get_online_invoice_url(self, invoice_id: str) -> str | None:
        self._enter("get_online_invoice_url")
        invoice = self._invoice(invoice_id, "get_online_invoice")
        if invoice.status in ("DRAFT", "DELETED") or invoice.type != "ACCREC":
            raise XeroValidationError([NO_ONLINE_INVOICE])
        return f"https://in.xero.com/{invoice_id}" if self.online_urls else None

    def email_invoice(self, invoice_id: str, idempotency_key: str) -> None:
        self._enter("email_invoice", idempotency_key)
        self._invoice(invoice_id, "email_invoice")

        def run() -> None:
            invoice = self.invoices[invoice_id]
            if invoice.status != "AUTHORISED" or invoice.type != "ACCREC":
                raise XeroValidationError([NOT_EMAILABLE])
            self.emails_sent.append(invoice_id)
            self._put(invoice, sent_to_contact=True)

        self._once(idempotency_key, f"POST /Invoices/{invoice_id}/Email", run)

    # --- credit notes -------------------------------------------------------------------------------

    def create_credit_note(self, draft: XeroCreditNoteDraft, idempotency_key: str) -> XeroCreditNote:
        self._enter("create_credit_note", idempotency_key)

        def run() -> XeroCreditNote:
            problems = self._header_problems(draft.contact_id, None, draft.currency_code)
            problems += self._line_problems(draft.line_items, sales=draft.type == "ACCRECCREDIT")
            if problems:
                raise XeroValidationError(problems)
            sub_total, tax = self._totals(draft.line_items, draft.line_amount_types)
            number = f"CN-{next(self._note_numbers):04d}" if draft.type == "ACCRECCREDIT" else None
            note = XeroCreditNote(
                credit_note_id=str(uuid.uuid4()),
                credit_note_number=draft.credit_note_number or number,
                status=draft.status,
                total=sub_total + tax,
                remaining_credit=sub_total + tax,
                reference=draft.reference,
                type=draft.type,
                contact_id=draft.contact_id,
                date=draft.date,
                currency_code=draft.currency_code or self.base_currency,
                sub_total=sub_total,
                total_tax=tax,
            )
            self.credit_notes[note.credit_note_id] = note
            self.credit_note_drafts[note.credit_note_id] = draft
            return note

        return self._once(idempotency_key, "PUT /CreditNotes " + draft.model_dump_json(), run)

    def allocate_credit_note(
        self,
        credit_note_id: str,
        invoice_id: str,
        amount: Decimal,
        idempotency_key: str,
        on: date | None = None,
    ) -> None:
        self._enter("allocate_credit_note", idempotency_key)
        if credit_note_id not in self.credit_notes:
            raise NotFoundError("Xero create_credit_note_allocation: not found")
        request = f"PUT /CreditNotes/{credit_note_id}/Allocations {invoice_id} {amount} {on or self.today}"
        self._once(idempotency_key, request, lambda: self._allocate(credit_note_id, invoice_id, amount))

    def _allocate(self, credit_note_id: str, invoice_id: str, amount: Decimal) -> None:
        note, draft = self.credit_notes[credit_note_id], self.credit_note_drafts[credit_note_id]
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise XeroValidationError(["Invoice could not be found"])
        problems = []
        if note.status != "AUTHORISED":
            problems.append("Only AUTHORISED credit notes can be allocated")
        if invoice.status != "AUTHORISED":
            problems.append("Credit notes can only be allocated to AUTHORISED invoices")
        if (draft.type, invoice.type) not in (("ACCRECCREDIT", "ACCREC"), ("ACCPAYCREDIT", "ACCPAY")):
            problems.append("The credit note type does not match the invoice type")
        if draft.contact_id != invoice.contact_id:
            problems.append("The credit note and the invoice must be for the same contact")
        if (draft.currency_code or self.base_currency) != (invoice.currency_code or self.base_currency):
            problems.append("The credit note and the invoice must be in the same currency")
        if amount <= 0:
            problems.append("Allocation amount must be greater than zero")
        elif amount > note.remaining_credit:
            problems.append("The amount allocated exceeds the remaining credit on the credit note")
        elif amount > invoice.amount_due:
            problems.append("The amount allocated exceeds the amount due on the invoice")
        if problems:
            raise XeroValidationError(problems)
        remaining = note.remaining_credit - amount
        allocation = XeroAllocation(
            invoice_id=invoice_id, invoice_number=invoice.invoice_number, amount=amount
        )
        self.credit_notes[credit_note_id] = note.model_copy(
            update={
                "remaining_credit": remaining,
                "status": "PAID" if remaining == 0 else note.status,
                "allocations": (*note.allocations, allocation),
            }
        )
        due = invoice.amount_due - amount
        self._put(
            invoice,
            amount_credited=invoice.amount_credited + amount,
            amount_due=due,
            status="PAID" if due == 0 else invoice.status,
        )
        self.allocations.append((credit_note_id, invoice_id, amount))

    def find_credit_notes_by_reference(self, reference: str) -> list[XeroCreditNote]:
        self._enter("find_credit_notes_by_reference")
        return [n for n in self.credit_notes.values() if n.reference == reference]

    # --- credit notes raised in Dynamics (I14) -------------------------------------------------------

    def get_credit_note(self, credit_note_id: str) -> XeroCreditNote:
        self._enter("get_credit_note")
        if credit_note_id not in self.credit_notes:
            raise NotFoundError("Xero get_credit_note: not found")
        return self.credit_notes[credit_note_id]

    def find_credit_notes(
        self, contact_id: str, on: date | None, type_: CreditNoteType
    ) -> list[XeroCreditNote]:
        self._enter("find_credit_notes")
        return [
            n
            for n in self.credit_notes.values()
            if n.contact_id == contact_id and n.type == type_ and (on is None or n.date == on)
        ]

    def approve_credit_note(self, credit_note_id: str) -> XeroCreditNote:
        """A Xero user approves a draft credit note."""
        note = self.credit_notes[credit_note_id].model_copy(update={"status": "AUTHORISED"})
        self.credit_notes[credit_note_id] = note
        return note


def _line_amounts_differ(new: XeroLineItem, old: XeroLineItem) -> bool:
    """A paid invoice's line may change its description and account code, nothing that moves money.
    A value not sent is not a change; a tax type Xero filled in from the account is not either."""
    if any(
        getattr(new, name) is not None and getattr(new, name) != getattr(old, name)
        for name in _LOCKED_LINE_AMOUNTS
    ):
        return True
    return new.tax_type is not None and old.tax_type is not None and new.tax_type != old.tax_type

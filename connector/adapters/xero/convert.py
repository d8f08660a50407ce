"""Domain Xero records ⇄ xero-python SDK models. Pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, cast

from xero_python.accounting import (
    Address,
    Contact,
    CreditNote,
    CurrencyCode,
    Invoice,
    Item,
    LineAmountTypes,
    LineItem,
    Phone,
    Purchase,
)

from connector.domain.xero_records import (
    InvoiceType,
    XeroAccount,
    XeroBrandingTheme,
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
    XeroLineTracking,
    XeroTaxRate,
)
from connector.domain.xero_records import LineAmountTypes as LineAmountTypesName

_STATUSES = {"DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"}


def _dec(value: Any) -> Decimal:
    """SDK money comes back as Decimal (json parse_float=Decimal); None means zero."""
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _text(value: Any) -> str | None:
    """Enum-or-string SDK field as plain text."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return cast(dt.date, value)


def validation_messages(model: Any) -> list[str]:
    """Xero's ValidationErrors[].Message on one returned element, word for word."""
    errors = getattr(model, "validation_errors", None) or []
    return [str(error.message) for error in errors if getattr(error, "message", None)]


# --- contacts -------------------------------------------------------------------------------------


def contact_to_sdk(draft: XeroContactDraft, contact_id: str | None = None) -> Contact:
    contact = Contact(name=draft.name)
    if contact_id:
        contact.contact_id = contact_id
    if draft.contact_number:
        contact.contact_number = draft.contact_number
    if draft.email:
        contact.email_address = draft.email
    if draft.phone:
        contact.phones = [Phone(phone_type="DEFAULT", phone_number=draft.phone)]
    if draft.address:
        a = draft.address
        contact.addresses = [
            Address(
                address_type="POBOX",
                address_line1=a.line1,
                address_line2=a.line2,
                city=a.city,
                region=a.region,
                postal_code=a.postal_code,
                country=a.country,
            )
        ]
    return contact


def contact_from_sdk(contact: Any) -> XeroContact:
    balances = getattr(contact, "balances", None)
    receivable = getattr(balances, "accounts_receivable", None)
    payable = getattr(balances, "accounts_payable", None)
    return XeroContact(
        contact_id=str(contact.contact_id),
        name=contact.name or "",
        contact_number=contact.contact_number,
        receivable_outstanding=_dec(getattr(receivable, "outstanding", None)),
        receivable_overdue=_dec(getattr(receivable, "overdue", None)),
        payable_outstanding=_dec(getattr(payable, "outstanding", None)),
        payable_overdue=_dec(getattr(payable, "overdue", None)),
    )


# --- items ----------------------------------------------------------------------------------------


def item_to_sdk(draft: XeroItemDraft) -> Item:
    item = Item(code=draft.code, name=draft.name)
    if draft.description:
        item.description = draft.description
    if draft.unit_price is not None or draft.sales_account_code or draft.sales_tax_type:
        item.sales_details = Purchase(
            unit_price=draft.unit_price, account_code=draft.sales_account_code, tax_type=draft.sales_tax_type
        )
    if draft.purchase_account_code or draft.purchase_tax_type:
        item.purchase_details = Purchase(
            account_code=draft.purchase_account_code, tax_type=draft.purchase_tax_type
        )
    return item


def item_from_sdk(item: Any) -> XeroItem:
    sales = getattr(item, "sales_details", None)
    purchase = getattr(item, "purchase_details", None)
    return XeroItem(
        item_id=str(item.item_id or ""),
        code=item.code or "",
        name=item.name,
        sales_account_code=getattr(sales, "account_code", None),
        sales_tax_type=getattr(sales, "tax_type", None),
        purchase_account_code=getattr(purchase, "account_code", None),
        purchase_tax_type=getattr(purchase, "tax_type", None),
    )


# --- invoices -------------------------------------------------------------------------------------


def line_to_sdk(line: XeroLineItem) -> LineItem:
    sdk = LineItem()
    for name in ("description", "quantity", "unit_amount", "item_code", "account_code", "tax_type"):
        value = getattr(line, name)
        if value is not None:
            setattr(sdk, name, value)
    if line.discount_amount is not None:
        sdk.discount_amount = line.discount_amount
    if line.discount_rate is not None:
        sdk.discount_rate = line.discount_rate
    if line.line_item_id:
        sdk.line_item_id = line.line_item_id
    return sdk


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else _dec(value)


def line_from_sdk(line: Any) -> XeroLineItem:
    """A line as Xero holds it, with its LineItemID and tracking (by category and option name)."""
    tracking = tuple(
        XeroLineTracking(category=str(t.name), option=str(t.option))
        for t in (getattr(line, "tracking", None) or [])
        if getattr(t, "name", None) and getattr(t, "option", None)
    )
    return XeroLineItem(
        line_item_id=str(line.line_item_id) if getattr(line, "line_item_id", None) else None,
        description=line.description,
        quantity=_decimal_or_none(line.quantity),
        unit_amount=_decimal_or_none(line.unit_amount),
        item_code=line.item_code,
        account_code=line.account_code,
        tax_type=_text(line.tax_type),
        discount_amount=_decimal_or_none(getattr(line, "discount_amount", None)),
        discount_rate=_decimal_or_none(getattr(line, "discount_rate", None)),
        tracking=tracking[:2],
    )


def invoice_to_sdk(draft: XeroInvoiceDraft, invoice_id: str | None = None) -> Invoice:
    contact = Contact(contact_id=draft.contact_id) if draft.contact_id else Contact(name=draft.contact_name)
    invoice = Invoice(
        type=draft.type,
        contact=contact,
        line_items=[line_to_sdk(line) for line in draft.line_items],
        line_amount_types=LineAmountTypes(draft.line_amount_types),
        status=draft.status,
    )
    if invoice_id:
        invoice.invoice_id = invoice_id
    # datetime.date only: a naive datetime would be shifted by the host's time zone (reference §2.5).
    if draft.date is not None:
        invoice.date = draft.date
    if draft.due_date is not None:
        invoice.due_date = draft.due_date
    for name in ("invoice_number", "reference", "branding_theme_id", "url"):
        value = getattr(draft, name)
        if value:
            setattr(invoice, name, value)
    if draft.currency_code:
        invoice.currency_code = CurrencyCode(draft.currency_code)  # the SDK refuses a plain str
    return invoice


def _amount_types(value: Any) -> LineAmountTypesName | None:
    text = _text(value)
    return cast(LineAmountTypesName, text) if text in ("Exclusive", "Inclusive", "NoTax") else None


def invoice_from_sdk(invoice: Any, fallback: XeroInvoiceDraft | None = None) -> XeroInvoice:
    """Convert one returned invoice; `fallback` fills type/status on failed elements that echo little."""
    status = _text(invoice.status)
    type_ = _text(invoice.type)
    contact = getattr(invoice, "contact", None)
    payments = getattr(invoice, "payments", None) or []
    return XeroInvoice(
        invoice_id=str(invoice.invoice_id or ""),
        invoice_number=invoice.invoice_number,
        type=cast(
            InvoiceType, type_ if type_ in ("ACCREC", "ACCPAY") else (fallback.type if fallback else "ACCREC")
        ),
        status=cast(
            XeroInvoiceStatus, status if status in _STATUSES else (fallback.status if fallback else "DRAFT")
        ),
        contact_id=str(contact.contact_id) if contact is not None and contact.contact_id else None,
        reference=invoice.reference,
        url=invoice.url,
        date=_as_date(invoice.date),
        due_date=_as_date(invoice.due_date),
        sub_total=_dec(invoice.sub_total),
        total_tax=_dec(invoice.total_tax),
        total=_dec(invoice.total),
        amount_due=_dec(invoice.amount_due),
        amount_paid=_dec(invoice.amount_paid),
        amount_credited=_dec(invoice.amount_credited),
        currency_code=_text(invoice.currency_code),
        updated_at=invoice.updated_date_utc,
        has_payments=bool(payments) or _dec(invoice.amount_paid) > 0,
        validation_errors=validation_messages(invoice),
        line_amount_types=_amount_types(getattr(invoice, "line_amount_types", None)),
        line_items=tuple(line_from_sdk(line) for line in (getattr(invoice, "line_items", None) or [])),
        sent_to_contact=bool(getattr(invoice, "sent_to_contact", False)),
        contact_name=getattr(contact, "name", None) if contact is not None else None,
    )


# --- credit notes ---------------------------------------------------------------------------------


def credit_note_to_sdk(draft: XeroCreditNoteDraft) -> CreditNote:
    note = CreditNote(
        type=draft.type,
        contact=Contact(contact_id=draft.contact_id),
        line_items=[line_to_sdk(line) for line in draft.line_items],
        line_amount_types=LineAmountTypes(draft.line_amount_types),
        status=draft.status,
    )
    if draft.date is not None:
        note.date = draft.date
    if draft.reference:
        note.reference = draft.reference
    if draft.currency_code:
        note.currency_code = CurrencyCode(draft.currency_code)
    return note


def credit_note_from_sdk(note: Any) -> XeroCreditNote:
    status = _text(note.status)
    return XeroCreditNote(
        credit_note_id=str(note.credit_note_id or ""),
        credit_note_number=note.credit_note_number,
        status=cast(XeroInvoiceStatus, status if status in _STATUSES else "DRAFT"),
        total=_dec(note.total),
        remaining_credit=_dec(note.remaining_credit),
        reference=note.reference,
    )


# --- reference data -------------------------------------------------------------------------------


def tax_rate_from_sdk(rate: Any) -> XeroTaxRate:
    return XeroTaxRate(
        tax_type=_text(rate.tax_type) or "",
        name=rate.name or "",
        effective_rate=_dec(rate.effective_rate),
        status=_text(rate.status) or "ACTIVE",
    )


def account_from_sdk(account: Any) -> XeroAccount:
    return XeroAccount(
        code=account.code or "",
        name=account.name or "",
        type=_text(account.type),
        tax_type=_text(account.tax_type),
        status=_text(account.status) or "ACTIVE",
    )


def branding_theme_from_sdk(theme: Any) -> XeroBrandingTheme:
    return XeroBrandingTheme(branding_theme_id=str(theme.branding_theme_id), name=theme.name or "")


def where_equals(field: str, value: str) -> str:
    """A Xero `where` clause `Field=="value"`, with quotes in the value escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{field}=="{escaped}"'


def where_any(field: str, values: Iterable[str]) -> str:
    return " OR ".join(where_equals(field, value) for value in values)

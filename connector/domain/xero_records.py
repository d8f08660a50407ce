"""Xero-side records as the domain sees them: what we send, and what Xero tells us back.

Only `connector/adapters/xero.py` turns these into xero-python SDK models and back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

InvoiceType = Literal["ACCREC", "ACCPAY"]
LineAmountTypes = Literal["Exclusive", "Inclusive", "NoTax"]
XeroInvoiceStatus = Literal["DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class XeroAddress(_Record):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class XeroContactDraft(_Record):
    """A contact to create or update (I5)."""

    name: str
    contact_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address: XeroAddress | None = None


class XeroContact(_Record):
    contact_id: str
    name: str
    contact_number: str | None = None
    receivable_outstanding: Decimal = Decimal(0)
    receivable_overdue: Decimal = Decimal(0)
    payable_outstanding: Decimal = Decimal(0)
    payable_overdue: Decimal = Decimal(0)


class XeroItemDraft(_Record):
    """An item to create for an existing Dynamics product (I6)."""

    code: str
    name: str
    description: str | None = None
    unit_price: Decimal | None = None
    sales_account_code: str | None = None
    sales_tax_type: str | None = None
    purchase_account_code: str | None = None
    purchase_tax_type: str | None = None


class XeroItem(_Record):
    item_id: str
    code: str
    name: str | None = None
    sales_account_code: str | None = None
    sales_tax_type: str | None = None
    purchase_account_code: str | None = None
    purchase_tax_type: str | None = None


class XeroLineTracking(_Record):
    """One tracking option on a line, by category and option name (Xero's LineItemTracking)."""

    category: str
    option: str


class XeroLineItem(_Record):
    """One invoice line. A note line has only a description."""

    description: str | None = None
    quantity: Decimal | None = None
    unit_amount: Decimal | None = None
    item_code: str | None = None
    account_code: str | None = None
    tax_type: str | None = None
    discount_amount: Decimal | None = None
    discount_rate: Decimal | None = None
    tracking: tuple[XeroLineTracking, ...] = ()  # at most two, one per category
    # Xero's id of a line it already holds (I11): an update names the lines it changes.
    line_item_id: str | None = None

    @model_serializer(mode="wrap")
    def _without_empty_tracking(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An untracked line dumps as before, so drafts' fingerprints (pending creates) stay the same."""
        dumped: dict[str, Any] = handler(self)
        if not self.tracking:
            dumped.pop("tracking", None)
        if self.line_item_id is None:
            dumped.pop("line_item_id", None)
        return dumped


class XeroInvoiceDraft(_Record):
    """An invoice (or bill) ready to send; `contact_id` or `contact_name` identifies the contact."""

    type: InvoiceType
    contact_id: str | None = None
    contact_name: str | None = None
    date: dt.date | None = None
    due_date: dt.date | None = None
    invoice_number: str | None = None
    reference: str | None = None
    currency_code: str | None = None
    line_amount_types: LineAmountTypes = "Exclusive"
    status: XeroInvoiceStatus = "DRAFT"
    branding_theme_id: str | None = None
    url: str | None = None
    line_items: list[XeroLineItem] = Field(default_factory=list)
    # Xero rounds unit amounts to 2 dp unless the request says unitdp=4.
    unit_dp: Literal[2, 4] = 2


class XeroInvoice(_Record):
    """What Xero says an invoice is now."""

    invoice_id: str
    invoice_number: str | None = None
    type: InvoiceType
    status: XeroInvoiceStatus
    contact_id: str | None = None
    reference: str | None = None
    url: str | None = None
    date: dt.date | None = None
    due_date: dt.date | None = None
    sub_total: Decimal = Decimal(0)
    total_tax: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    amount_due: Decimal = Decimal(0)
    amount_paid: Decimal = Decimal(0)
    amount_credited: Decimal = Decimal(0)
    currency_code: str | None = None
    updated_at: dt.datetime | None = None
    has_payments: bool = False
    validation_errors: list[str] = Field(default_factory=list)
    # What an update (I11) is decided from; a list read may leave the lines out.
    line_amount_types: LineAmountTypes | None = None
    line_items: tuple[XeroLineItem, ...] = ()
    sent_to_contact: bool = False  # I8: Xero has emailed it
    contact_name: str | None = None


CreditNoteType = Literal["ACCRECCREDIT", "ACCPAYCREDIT"]


class XeroCreditNoteDraft(_Record):
    type: CreditNoteType
    contact_id: str
    date: dt.date | None = None
    reference: str | None = None
    currency_code: str | None = None
    line_amount_types: LineAmountTypes = "Exclusive"
    status: XeroInvoiceStatus = "AUTHORISED"
    line_items: list[XeroLineItem] = Field(default_factory=list)
    # Credit notes raised in Dynamics (I14) also carry these; a cancellation's credit note leaves them out.
    credit_note_number: str | None = None
    branding_theme_id: str | None = None
    unit_dp: Literal[2, 4] = 2


class XeroAllocation(_Record):
    """Part of a credit note applied to an invoice."""

    invoice_id: str
    amount: Decimal
    invoice_number: str | None = None
    date: dt.date | None = None


class XeroCreditNote(_Record):
    credit_note_id: str
    credit_note_number: str | None = None
    status: XeroInvoiceStatus
    total: Decimal = Decimal(0)
    remaining_credit: Decimal = Decimal(0)
    reference: str | None = None
    type: CreditNoteType | None = None
    contact_id: str | None = None
    date: dt.date | None = None
    currency_code: str | None = None
    sub_total: Decimal = Decimal(0)
    total_tax: Decimal = Decimal(0)
    allocations: tuple[XeroAllocation, ...] = ()
    updated_at: dt.datetime | None = None


class XeroTaxRate(_Record):
    tax_type: str
    name: str
    effective_rate: Decimal
    status: str = "ACTIVE"


class XeroAccount(_Record):
    code: str
    name: str
    type: str | None = None
    tax_type: str | None = None
    status: str = "ACTIVE"
    account_id: str | None = None
    updated_at: dt.datetime | None = None


class XeroBrandingTheme(_Record):
    branding_theme_id: str
    name: str
    sort_order: int | None = None


class XeroTrackingOption(_Record):
    option_id: str
    name: str
    status: str = "ACTIVE"


class XeroTrackingCategory(_Record):
    """A tracking category with all its options, archived ones included."""

    category_id: str
    name: str
    status: str = "ACTIVE"
    options: tuple[XeroTrackingOption, ...] = ()


class RateLimitHeadroom(_Record):
    """Xero's X-*Limit-Remaining headers from the last response, when present."""

    minute_remaining: int | None = None
    day_remaining: int | None = None
    app_minute_remaining: int | None = None

"""What the connector knows about Dynamics records, independent of the Web API's column names.

The Dataverse adapter builds these from OData JSON; the domain maps them to Xero.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class InvoiceState(IntEnum):
    """invoice.statecode."""

    ACTIVE = 0
    CLOSED = 1  # deprecated by Microsoft
    PAID = 2
    CANCELED = 3


class InvoiceStatusReason(IntEnum):
    """invoice.statuscode values the connector writes or reads."""

    NEW = 1
    PAID_COMPLETE = 100001
    PAID_PARTIAL = 100002
    CANCELED = 100003


class ProductType(IntEnum):
    """invoicedetail.producttypecode."""

    PRODUCT = 1
    BUNDLE = 2
    REQUIRED_BUNDLE_PRODUCT = 3
    OPTIONAL_BUNDLE_PRODUCT = 4
    PROJECT_SERVICE = 5


class ExportStatus(StrEnum):
    """Xero details export status, as the user sees it."""

    NO = "No"
    YES = "Yes"
    FAILED = "Failed"
    READY_TO_UPDATE = "Ready to update"


class SyncAction(StrEnum):
    CREATE = "Create"
    UPDATE = "Update"
    PAYMENT = "Payment"
    STATUS = "Status"
    CANCEL = "Cancel"
    DELETE = "Delete"
    CONTACT = "Contact"
    ERROR = "Error"


class SyncOutcome(StrEnum):
    SUCCESS = "Success"
    WARNING = "Warning"
    FAILED = "Failed"


class Customer(_Model):
    """The invoice's customer: a Dynamics account or contact."""

    kind: Literal["account", "contact"]
    id: UUID
    name: str
    number: str | None = None  # accountnumber, or a contact's number; Xero ContactNumber
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    xero_contact_id: str | None = None
    # B3 as last written (read by the scheduled refresh, so unchanged balances are not written again).
    amount_owed: Decimal | None = None
    amount_overdue: Decimal | None = None
    amount_we_owe: Decimal | None = None  # a supplier: what its bills still ask of us
    amount_we_owe_overdue: Decimal | None = None


class Product(_Model):
    """An existing Dynamics product."""

    id: UUID
    number: str  # productnumber; becomes the Xero item code
    name: str
    description: str | None = None
    price: Decimal | None = None


class LineTrackingOption(_Model):
    """A tracking option picked in Dynamics (a row of the synced options table). The category and option
    names are filled in from the synced reference data just before the invoice is sent (I15)."""

    option_row_id: UUID
    category: str | None = None
    option: str | None = None


class InvoiceLine(_Model):
    id: UUID
    sequence: int
    product: Product | None = None  # None for write-ins
    is_write_in: bool = False
    write_in_name: str | None = None  # productdescription
    description: str | None = None
    quantity: Decimal = Decimal(0)
    price_per_unit: Decimal = Decimal(0)
    manual_discount: Decimal = Decimal(0)  # money, not percent
    tax: Decimal = Decimal(0)
    extended_amount: Decimal = Decimal(0)
    product_type: ProductType = ProductType.PRODUCT
    parent_bundle_line_id: UUID | None = None
    account_code_override: str | None = None
    tax_type_override: str | None = None
    tracking: tuple[LineTrackingOption, ...] = ()  # tracking options 1 and 2, as picked on the line


class Invoice(_Model):
    id: UUID
    name: str
    number: str  # invoicenumber, "Invoice ID" in the UI
    description: str | None = None
    date_delivered: date | None = None
    due_date: date | None = None
    currency_code: str
    customer: Customer
    lines: list[InvoiceLine] = Field(default_factory=list)
    state: InvoiceState = InvoiceState.ACTIVE
    status_reason: int = InvoiceStatusReason.NEW
    total_amount: Decimal = Decimal(0)
    total_tax: Decimal = Decimal(0)
    connection_id: UUID | None = None
    invoice_type: Literal["sales", "purchase", "credit_note"] = "sales"
    line_amount_types: Literal["Exclusive", "Inclusive", "NoTax"] = "Exclusive"
    branding_theme_id: str | None = None
    modified_on: datetime | None = None
    version_number: int | None = None
    credits_invoice_id: UUID | None = None  # a credit note: the Dynamics invoice it credits (I14)
    amount_due: Decimal | None = None  # Xero's amount due, shown on the invoice (I7, B2)


class XeroDetails(_Model):
    """The connector's per-invoice record in Dataverse (one per invoice)."""

    id: UUID
    invoice_id: UUID | None
    connection_id: UUID | None = None
    export_status: ExportStatus = ExportStatus.NO
    xero_invoice_id: str | None = None
    xero_invoice_number: str | None = None
    xero_status: str | None = None
    xero_url: str | None = None
    online_invoice_url: str | None = None
    exported_on: datetime | None = None
    amount_paid: Decimal | None = None
    amount_due: Decimal | None = None
    amount_credited: Decimal | None = None
    total: Decimal | None = None
    total_tax: Decimal | None = None
    due_date: date | None = None
    credit_note_id: str | None = None
    credit_note_number: str | None = None
    claimed_until: datetime | None = None  # work claim; expires so a crashed worker never blocks
    claimed_by: str | None = None
    pending_create: str | None = None  # a create that may have reached Xero (domain/sync/pending_create.py)
    last_xero_write: datetime | None = None  # when the connector last changed this invoice in Xero
    amount_overdue: Decimal | None = None  # B2: the amount due once the due date has passed
    days_overdue: int | None = None
    emailed_on: datetime | None = None  # I8: when Xero emailed it (once per invoice)
    email_pending: bool | None = None  # I8: an email that failed on the way, tried again by reconcile
    etag: str | None = None


class ConnectionSettings(_Model):
    """C1/C3: one Xero organisation plus its settings. Defaults follow SPEC C3."""

    id: UUID
    name: str
    tenant_id: str
    is_default: bool = False
    use_xero_invoice_number: bool = True
    use_invoice_name: bool = False
    create_contacts: bool = True
    match_contacts_by_number: bool = False
    allow_contact_update: bool = False
    create_products: bool = True
    allow_invoice_update: bool = False
    default_invoice_status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = "DRAFT"
    default_sales_account_code: str | None = None
    default_purchase_account_code: str | None = None
    default_branding_theme_id: str | None = None
    set_date_delivered_on_create: bool = False
    create_credit_note_on_cancel: bool = True
    bundle_header_only: bool = False
    send_email: bool = False
    no_description_as_reference: bool = False
    time_zone: str = "UTC"
    needs_reconnect: bool = False
    reconnect_reason: str | None = None  # why Xero stopped accepting the connection, in plain words
    settings_problem: str | None = None  # why the sweep skips it (settings invalid), in plain words
    balances_refreshed_on: date | None = None  # B3: the day (in its time zone) of the last full refresh
    # The defaults as lookups to the synced reference data (C4); when set they win over the codes above.
    default_sales_account_id: UUID | None = None
    default_purchase_account_id: UUID | None = None
    default_branding_theme_row_id: UUID | None = None
    default_tracking: tuple[LineTrackingOption, ...] = ()  # at most one option per tracking category


class TrackedInvoice(_Model):
    """Xero details with their Dynamics invoice, as back-sync reads them: the invoice without its lines,
    and None once it is deleted in Dynamics."""

    details: XeroDetails
    invoice: Invoice | None = None


class InvoiceTotals(_Model):
    """Xero's figures to copy onto the Dynamics invoice (I7)."""

    invoice_id: UUID
    total_tax: Decimal
    # None: the total is unchanged and is not written (a write of it, even unchanged, fires the
    # invoice's update webhook, which filters on it).
    total_amount: Decimal | None
    due_date: date | None = None
    amount_due: Decimal | None = None


class SyncHistoryEntry(_Model):
    """I9: one record per attempt, shown to the user on the invoice."""

    invoice_id: UUID
    action: SyncAction
    detail: str
    outcome: SyncOutcome
    at: datetime
    correlation_id: str
    connection_id: UUID | None = None

"""I3 and I12: the header of a Xero invoice or bill, from a Dynamics invoice."""

from __future__ import annotations

from uuid import UUID

from connector.domain.dynamics import ConnectionSettings, Invoice
from connector.domain.xero_records import InvoiceType, XeroInvoiceDraft

# Xero's documented limits (xero_accounting.yaml: InvoiceNumber maxLength 255; Reference has no
# maxLength in the OpenAPI file, but Xero rejects references over 255 characters).
INVOICE_NUMBER_MAX = 255
REFERENCE_MAX = 255


def xero_invoice_type(invoice: Invoice) -> InvoiceType:
    """Sales invoices are receivables (ACCREC); purchase invoices are bills (ACCPAY)."""
    return "ACCPAY" if invoice.invoice_type == "purchase" else "ACCREC"


def dynamics_record_url(org_url: str, invoice_id: UUID) -> str:
    """The deep link Xero shows as "Go to …" and that finds the invoice again after a crash."""
    return f"{org_url.rstrip('/')}/main.aspx?etn=invoice&id={invoice_id}&pagetype=entityrecord"


def invoice_number(invoice: Invoice, connection: ConnectionSettings) -> str | None:
    """C3: Xero numbering (None: Xero picks), else the invoice name, else the Dynamics invoice ID.

    For bills, "use invoice name" is how the supplier's invoice number becomes the Xero bill number.
    """
    if connection.use_xero_invoice_number:
        return None
    chosen = invoice.name if connection.use_invoice_name else invoice.number
    chosen = chosen.strip()
    return chosen[:INVOICE_NUMBER_MAX] or None


def reference(invoice: Invoice, connection: ConnectionSettings) -> str | None:
    """The invoice description, unless switched off; cut to Xero's limit; None when blank.

    Xero documents Reference as "ACCREC only", so bills carry none (their number is the reference).
    """
    if xero_invoice_type(invoice) != "ACCREC":
        return None
    if connection.no_description_as_reference or not invoice.description:
        return None
    text = invoice.description.strip()
    return text[:REFERENCE_MAX] or None


def invoice_header(invoice: Invoice, connection: ConnectionSettings, org_url: str) -> XeroInvoiceDraft:
    """Every header field of the draft; contact and lines are added by `build_invoice_draft`."""
    return XeroInvoiceDraft(
        type=xero_invoice_type(invoice),
        date=invoice.date_delivered,
        due_date=invoice.due_date,  # None: Xero computes it from its payment terms
        invoice_number=invoice_number(invoice, connection),
        reference=reference(invoice, connection),
        currency_code=invoice.currency_code or None,
        line_amount_types=invoice.line_amount_types,
        status=connection.default_invoice_status,
        branding_theme_id=invoice.branding_theme_id or connection.default_branding_theme_id,
        url=dynamics_record_url(org_url, invoice.id),
    )

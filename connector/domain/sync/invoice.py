"""A whole Xero invoice draft from a Dynamics invoice, and the idempotency key for each Xero write."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings, Invoice
from connector.domain.sync.header import invoice_header
from connector.domain.sync.lines import build_line_items
from connector.domain.xero_records import XeroInvoiceDraft, XeroItem

IDEMPOTENCY_KEY_PREFIX = "d365x"
_OPERATION_MAX = 32


def build_invoice_draft(
    invoice: Invoice,
    connection: ConnectionSettings,
    items_by_code: Mapping[str, XeroItem],
    contact_id: str,
    org_url: str,
) -> XeroInvoiceDraft:
    """Header (I3, I12) + contact (I5, already resolved to a ContactID) + lines (I4)."""
    lines = build_line_items(invoice, connection, items_by_code)
    header = invoice_header(invoice, connection, org_url)
    return header.model_copy(
        update={"contact_id": contact_id, "line_items": lines.line_items, "unit_dp": lines.unit_dp}
    )


def paid_invoice_update(draft: XeroInvoiceDraft) -> XeroInvoiceDraft:
    """I11: of a full draft, only what Xero lets change on an invoice with payments.

    Reference, DueDate, InvoiceNumber, BrandingThemeID, Contact and Url change. Line changes
    (description, account code) would need Xero's LineItemIDs, which drafts do not carry, and
    sending lines without them makes Xero replace every line, which a paid invoice refuses:
    so no lines are sent and Xero keeps the ones it has.
    """
    return XeroInvoiceDraft(
        type=draft.type,
        contact_id=draft.contact_id,
        contact_name=draft.contact_name,
        due_date=draft.due_date,
        invoice_number=draft.invoice_number,
        reference=draft.reference,
        branding_theme_id=draft.branding_theme_id,
        url=draft.url,
        line_amount_types=draft.line_amount_types,
        status=draft.status,
    )


def idempotency_key(
    connection_id: UUID | str, invoice_id: UUID | str, operation: str, revision: str | int
) -> str:
    """A deterministic Idempotency-Key: the same write of the same revision always gets the same key.

    Readable prefix (operation) for logs, then a SHA-256 of all four parts; at most 103 characters,
    inside Xero's 128.
    """
    readable = re.sub(r"[^a-z0-9]+", "-", operation.lower()).strip("-")[:_OPERATION_MAX] or "op"
    material = "\x1f".join((str(connection_id), str(invoice_id), operation, str(revision)))
    digest = hashlib.sha256(material.encode("utf-8")).hexdigest()
    return f"{IDEMPOTENCY_KEY_PREFIX}-{readable}-{digest}"

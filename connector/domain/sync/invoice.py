"""A whole Xero invoice draft from a Dynamics invoice, and the idempotency key for each Xero write."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Mapping, Sequence
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings, Invoice
from connector.domain.sync.header import invoice_header
from connector.domain.sync.lines import build_line_items
from connector.domain.xero_records import (
    XeroInvoice,
    XeroInvoiceDraft,
    XeroInvoiceStatus,
    XeroItem,
    XeroLineItem,
)

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


def with_line_ids(lines: Sequence[XeroLineItem], held: Sequence[XeroLineItem]) -> list[XeroLineItem]:
    """Each line named by the LineItemID of the Xero line in its place (I4 keeps the order), so Xero
    updates its lines instead of replacing them; lines beyond Xero's are new."""
    return [
        line.model_copy(update={"line_item_id": held[index].line_item_id}) if index < len(held) else line
        for index, line in enumerate(lines)
    ]


def full_invoice_update(
    draft: XeroInvoiceDraft, current: XeroInvoice, status: XeroInvoiceStatus
) -> XeroInvoiceDraft:
    """I11 on a draft, submitted or unpaid authorised invoice: everything, at the status decided."""
    return draft.model_copy(
        update={"status": status, "line_items": with_line_ids(draft.line_items, current.line_items)}
    )


def paid_invoice_update(draft: XeroInvoiceDraft, current: XeroInvoice) -> XeroInvoiceDraft:
    """I11: of a full draft, only what Xero lets change on an invoice with payments, sent at Xero's
    `current` status and line amount types.

    Reference, DueDate, InvoiceNumber, BrandingThemeID, Contact and Url change; and each of Xero's lines,
    named by its LineItemID, takes the description, account code and tracking of the Dynamics line in its
    place. A line's amounts are never sent, and neither are lines Xero does not have: those changes are
    what `locked_changes` reports.
    """
    lines = [
        XeroLineItem(
            line_item_id=held.line_item_id,
            description=new.description if new is not None else None,
            account_code=new.account_code if new is not None else None,
            tracking=new.tracking if new is not None else held.tracking,
        )
        for held, new in itertools.zip_longest(
            current.line_items, draft.line_items[: len(current.line_items)]
        )
        if held is not None and held.line_item_id
    ]
    return XeroInvoiceDraft(
        type=draft.type,
        contact_id=draft.contact_id,
        contact_name=draft.contact_name,
        due_date=draft.due_date,
        invoice_number=draft.invoice_number,
        reference=draft.reference,
        branding_theme_id=draft.branding_theme_id,
        url=draft.url,
        line_amount_types=current.line_amount_types or draft.line_amount_types,
        status=current.status,
        line_items=lines,
    )


_LOCKED_LINE_FIELDS = (
    ("quantity", "quantity"),
    ("unit_amount", "unit price"),
    ("discount_amount", "discount"),
    ("discount_rate", "discount"),
    ("item_code", "item"),
    ("tax_type", "tax type"),
)


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _moved(new: XeroLineItem, old: XeroLineItem, name: str) -> bool:
    sent, held = getattr(new, name), getattr(old, name)
    if sent is None:
        return False  # left to Xero
    if held is None:
        return name != "tax_type"  # Xero fills a line's tax type in; not knowing it is not a change
    return bool(sent != held)


def locked_changes(draft: XeroInvoiceDraft, current: XeroInvoice) -> list[str]:
    """What the Dynamics invoice changes that Xero keeps fixed once an invoice has payments, in words
    for sync history (empty when nothing). A value the draft leaves to Xero is not a change."""
    changes: list[str] = []
    if draft.date is not None and current.date is not None and draft.date != current.date:
        changes.append("the date")
    if draft.currency_code and current.currency_code and draft.currency_code != current.currency_code:
        changes.append("the currency")
    if current.line_amount_types and draft.line_amount_types != current.line_amount_types:
        changes.append("whether amounts include tax")
    held = current.line_items
    if held and len(draft.line_items) != len(held):
        changes.append(f"the number of lines ({len(draft.line_items)} in Dynamics, {len(held)} in Xero)")
    for number, (new, old) in enumerate(zip(draft.line_items, held, strict=False), start=1):
        words = [label for name, label in _LOCKED_LINE_FIELDS if _moved(new, old, name)]
        if words:
            changes.append(f"the {_listed(list(dict.fromkeys(words)))} of line {number}")
    return changes


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

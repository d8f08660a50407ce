"""I8, I9, I11: sync history for what happens to an invoice once it is in Xero: updates that Xero's
state limits, and the email Xero sends. Plain words for the finance user; no clock is read here."""

from __future__ import annotations

from collections.abc import Sequence

from connector.domain.dynamics import SyncAction, SyncHistoryEntry, SyncOutcome
from connector.domain.sync.history import HistoryContext
from connector.domain.xero_records import InvoiceType

PAID_EDITABLE = (
    "reference, due date, number, branding theme, contact and link, and the lines' descriptions, "
    "account codes and tracking"
)


def _entry(ctx: HistoryContext, action: SyncAction, outcome: SyncOutcome, detail: str) -> SyncHistoryEntry:
    return SyncHistoryEntry(
        invoice_id=ctx.invoice_id,
        action=action,
        detail=detail,
        outcome=outcome,
        at=ctx.at,
        correlation_id=ctx.correlation_id,
        connection_id=ctx.connection_id,
    )


def _named(invoice_type: InvoiceType, number: str | None) -> str:
    document = "bill" if invoice_type == "ACCPAY" else "invoice"
    return f"Xero {document} {number}" if number else f"The Xero {document}"


def amounts_kept(
    ctx: HistoryContext, *, invoice_type: InvoiceType, number: str | None, changes: Sequence[str]
) -> SyncHistoryEntry:
    """I11: the allowed changes went to Xero; these did not, because the invoice has payments."""
    detail = (
        f"{_named(invoice_type, number)} has payments, so Xero keeps its amounts: {'; '.join(changes)} "
        f"stayed as they are in Xero. Only the {PAID_EDITABLE} change on a paid invoice."
    )
    return _entry(ctx, SyncAction.UPDATE, SyncOutcome.WARNING, detail)


def not_in_xero(ctx: HistoryContext) -> SyncHistoryEntry:
    detail = (
        "The Xero invoice this record points to could not be found in Xero, so nothing was updated. "
        "Check it in Xero; to send the invoice again, clear its Xero invoice id and set export status "
        'to "No".'
    )
    return _entry(ctx, SyncAction.UPDATE, SyncOutcome.FAILED, detail)


def emailed(ctx: HistoryContext, *, invoice_type: InvoiceType, number: str | None) -> SyncHistoryEntry:
    detail = f"{_named(invoice_type, number)} was emailed to the customer from Xero."
    return _entry(ctx, SyncAction.STATUS, SyncOutcome.SUCCESS, detail)


def email_failed(
    ctx: HistoryContext, *, invoice_type: InvoiceType, number: str | None, reason: str
) -> SyncHistoryEntry:
    """I8: Xero could not be reached or answered with an error; the email is tried again."""
    detail = (
        f"{_named(invoice_type, number)} could not be emailed from Xero yet ({reason}). "
        "It will be tried again."
    )
    return _entry(ctx, SyncAction.STATUS, SyncOutcome.WARNING, detail)


def email_refused(
    ctx: HistoryContext, *, invoice_type: InvoiceType, number: str | None, messages: Sequence[str]
) -> SyncHistoryEntry:
    """I8: Xero refused to email it, in its own words; trying again would not help."""
    words = " | ".join(m.strip() for m in messages if m.strip()) or "Xero gave no reason."
    what = _named(invoice_type, number).replace("The Xero", "the Xero")
    detail = f"Xero did not email {what}: {words} Email it from Xero once that is fixed."
    return _entry(ctx, SyncAction.STATUS, SyncOutcome.WARNING, detail)


def linked_by_backfill(
    ctx: HistoryContext, *, invoice_type: InvoiceType, number: str | None
) -> SyncHistoryEntry:
    """I1 backfill: the invoice was already in Xero (entered before the connector), so it is not sent."""
    detail = (
        f"Linked to {_named(invoice_type, number)}, which was already in Xero with the same number; "
        "the connector does not send it again."
    )
    return _entry(ctx, SyncAction.CREATE, SyncOutcome.SUCCESS, detail)

"""I1: is an invoice ready to go to Xero? I11: may a "Ready to update" invoice be pushed again, and how?

Each "no" carries a reason in plain words, written for the finance user who reads sync history.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from connector.domain.connection_rules import is_time_zone
from connector.domain.dynamics import ConnectionSettings, ExportStatus, Invoice, InvoiceState, XeroDetails
from connector.domain.xero_records import XeroInvoice, XeroInvoiceStatus


class IneligibleReason(StrEnum):
    """Why an invoice is not synced; services branch on these, people read `Eligibility.reason`."""

    NOT_ACTIVE = "not_active"
    NO_XERO_DETAILS = "no_xero_details"
    NO_CONNECTION = "no_connection"
    WRONG_CONNECTION = "wrong_connection"
    RECONNECT_NEEDED = "reconnect_needed"
    EXPORT_STATUS = "export_status"
    NO_DATE_DELIVERED = "no_date_delivered"
    FUTURE_DATE_DELIVERED = "future_date_delivered"
    NO_LINES = "no_lines"


class Eligibility(BaseModel):
    """The answer to "sync this invoice now?"."""

    model_config = ConfigDict(frozen=True)

    eligible: bool
    code: IneligibleReason | None = None
    reason: str | None = None


_ELIGIBLE = Eligibility(eligible=True)

_STATE_WORDS = {
    InvoiceState.CLOSED: "closed",
    InvoiceState.PAID: "paid",
    InvoiceState.CANCELED: "cancelled",
}


def local_today(now_utc: datetime, time_zone: str) -> date:
    """The calendar date at `now_utc` in `time_zone` (an IANA name such as "Pacific/Auckland").

    A naive `now_utc` is taken as UTC. An unknown zone raises ValueError, so a typo in the
    connection's settings is reported instead of silently using UTC.
    """
    if not is_time_zone(time_zone):
        raise ValueError(f"Unknown time zone {time_zone!r}")
    zone = ZoneInfo(time_zone)
    if now_utc.tzinfo is None:
        now_utc = now_utc.replace(tzinfo=ZoneInfo("UTC"))
    return now_utc.astimezone(zone).date()


def _no(code: IneligibleReason, reason: str) -> Eligibility:
    return Eligibility(eligible=False, code=code, reason=reason)


def check_eligibility(
    invoice: Invoice,
    xero_details: XeroDetails | None,
    connection: ConnectionSettings | None,
    today: date,
) -> Eligibility:
    """I1: all five conditions of the spec, plus "the invoice is still active".

    `today` is the date in the connection's time zone: use `local_today(now, connection.time_zone)`.
    """
    if invoice.state != InvoiceState.ACTIVE:
        word = _STATE_WORDS.get(invoice.state, "not active")
        return _no(
            IneligibleReason.NOT_ACTIVE, f"The invoice is {word} in Dynamics, so it is not sent to Xero."
        )
    if xero_details is None:
        return _no(
            IneligibleReason.NO_XERO_DETAILS,
            "The invoice has no Xero details record. Run the backfill command to create one.",
        )
    if invoice.connection_id is None or connection is None:
        return _no(IneligibleReason.NO_CONNECTION, "No Xero connection is set on the invoice.")
    if connection.id != invoice.connection_id:
        return _no(
            IneligibleReason.WRONG_CONNECTION,
            "The connection set on the invoice could not be found. Choose a valid connection.",
        )
    if connection.needs_reconnect or not connection.tenant_id:
        return _no(IneligibleReason.RECONNECT_NEEDED, f"Reconnect connection {connection.name} to Xero.")
    if xero_details.export_status != ExportStatus.NO:
        return _no(
            IneligibleReason.EXPORT_STATUS,
            f'Export status is "{xero_details.export_status.value}"; only invoices with export status '
            '"No" are sent to Xero.',
        )
    if invoice.date_delivered is None:
        return _no(IneligibleReason.NO_DATE_DELIVERED, "Date Delivered is not set.")
    if invoice.date_delivered > today:
        return _no(
            IneligibleReason.FUTURE_DATE_DELIVERED,
            f"Date Delivered ({invoice.date_delivered.isoformat()}) is in the future; "
            "the invoice will be sent on that day.",
        )
    if not invoice.lines:
        return _no(IneligibleReason.NO_LINES, "The invoice has no lines.")
    return _ELIGIBLE


UpdateScope = Literal["full", "paid_fields_only"]
# Xero's approval path: the connector only ever moves an invoice along it, never back.
_STATUS_ORDER = {"DRAFT": 0, "SUBMITTED": 1, "AUTHORISED": 2}


class UpdateDecision(BaseModel):
    """I11: may the Xero invoice be updated, how much of it, and to which status."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    scope: UpdateScope | None = None
    reason: str | None = None
    status: XeroInvoiceStatus | None = None  # the status to send (Xero's own when it may not change)


def _refused(reason: str) -> UpdateDecision:
    return UpdateDecision(allowed=False, reason=reason)


def update_settings_refusal(
    xero_details: XeroDetails, connection: ConnectionSettings
) -> UpdateDecision | None:
    """I11 before any Xero call: the refusal when the invoice is not ready to update, the connection does
    not allow updates, or there is no Xero invoice yet; None when Xero's state decides the rest."""
    if xero_details.export_status != ExportStatus.READY_TO_UPDATE:
        return _refused('Export status is not "Ready to update".')
    if not connection.allow_invoice_update:
        return _refused(
            f'Invoice updates are not allowed for connection {connection.name}: turn on "Allow '
            'invoice update in Xero" to push changes.'
        )
    if not xero_details.xero_invoice_id:
        return _refused(
            'The invoice has not been created in Xero yet; set export status to "No" to create it.'
        )
    return None


def decide_update(
    invoice: Invoice,
    xero_details: XeroDetails,
    connection: ConnectionSettings,
    current: XeroInvoice | None = None,
) -> UpdateDecision:
    """I11 for an invoice whose export status is "Ready to update".

    Updates need the connection's "Allow invoice update" setting and a Xero invoice to update. The rest
    is decided from Xero's `current` state (read just before; without it, from the last back-sync):
    - DRAFT/SUBMITTED: everything; the status moves on to the connection's default status, never back;
    - AUTHORISED with no payments: everything but the status;
    - paid or part-paid (payments or credit allocated): only the fields Xero allows, and a bill never.
    """
    refusal = update_settings_refusal(xero_details, connection)
    if refusal is not None:
        return refusal
    if current is not None:
        status: str = current.status
        settled = current.amount_paid + current.amount_credited > 0 or current.has_payments
    else:
        status = xero_details.xero_status or "DRAFT"
        settled = (xero_details.amount_paid or Decimal(0)) + (xero_details.amount_credited or Decimal(0)) > 0
    bill = invoice.invoice_type == "purchase"
    if status in ("VOIDED", "DELETED"):
        return _refused(
            f"The Xero {'bill' if bill else 'invoice'} is {status.lower()}, so it can no longer be changed."
        )
    if status == "PAID" or settled:
        if bill:
            return _refused("The bill is paid in Xero; paid bills are never updated.")
        return UpdateDecision(allowed=True, scope="paid_fields_only", status=cast(XeroInvoiceStatus, status))
    if status == "AUTHORISED":
        return UpdateDecision(allowed=True, scope="full", status="AUTHORISED")
    wanted = connection.default_invoice_status
    moved_on = _STATUS_ORDER[wanted] > _STATUS_ORDER.get(status, 0)
    return UpdateDecision(
        allowed=True, scope="full", status=wanted if moved_on else cast(XeroInvoiceStatus, status)
    )

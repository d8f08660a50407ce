"""Xero reads for reference data (C4) and credit notes raised in Dynamics (I14), and the SDK conversions
they need: tracking on lines (I15), and credit notes with their number, theme and allocations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from xero_python.accounting import CreditNotes, LineItemTracking

from connector.adapters.xero import convert
from connector.adapters.xero.errors import raise_if_invalid
from connector.adapters.xero.session import XeroSession
from connector.domain.xero_records import (
    CreditNoteType,
    XeroAccount,
    XeroAllocation,
    XeroBrandingTheme,
    XeroCreditNote,
    XeroCreditNoteDraft,
    XeroInvoiceStatus,
    XeroLineItem,
    XeroTaxRate,
    XeroTrackingCategory,
    XeroTrackingOption,
)
from connector.errors import NotFoundError

_STATUSES = {"DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"}


def _text(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _dec(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def apply_tracking(sdk_lines: Sequence[Any] | None, lines: Sequence[XeroLineItem]) -> None:
    """Set each SDK line's Tracking (category and option by name) from the domain line it was made from."""
    for sdk_line, line in zip(sdk_lines or [], lines, strict=False):
        if line.tracking:
            sdk_line.tracking = [LineItemTracking(name=t.category, option=t.option) for t in line.tracking]


def credit_note_to_sdk(draft: XeroCreditNoteDraft) -> Any:
    note = convert.credit_note_to_sdk(draft)
    if draft.credit_note_number:
        note.credit_note_number = draft.credit_note_number
    if draft.branding_theme_id:
        note.branding_theme_id = draft.branding_theme_id
    apply_tracking(note.line_items, draft.line_items)
    return note


def credit_note_from_sdk(note: Any) -> XeroCreditNote:
    status = _text(note.status)
    type_ = _text(note.type)
    contact = getattr(note, "contact", None)
    allocations = [
        XeroAllocation(
            invoice_id=str(allocation.invoice.invoice_id),
            invoice_number=getattr(allocation.invoice, "invoice_number", None),
            amount=_dec(allocation.amount),
            date=allocation.date.date() if isinstance(allocation.date, dt.datetime) else allocation.date,
        )
        for allocation in (getattr(note, "allocations", None) or [])
        if getattr(allocation, "invoice", None) is not None and not getattr(allocation, "is_deleted", False)
    ]
    date = note.date.date() if isinstance(note.date, dt.datetime) else note.date
    return XeroCreditNote(
        credit_note_id=str(note.credit_note_id or ""),
        credit_note_number=note.credit_note_number,
        status=cast(XeroInvoiceStatus, status if status in _STATUSES else "DRAFT"),
        total=_dec(note.total),
        remaining_credit=_dec(note.remaining_credit),
        reference=note.reference,
        type=cast(CreditNoteType, type_) if type_ in ("ACCRECCREDIT", "ACCPAYCREDIT") else None,
        contact_id=str(contact.contact_id) if contact is not None and contact.contact_id else None,
        date=date,
        currency_code=_text(note.currency_code),
        sub_total=_dec(note.sub_total),
        total_tax=_dec(note.total_tax),
        allocations=tuple(allocations),
        updated_at=note.updated_date_utc,
    )


def tracking_category_from_sdk(category: Any) -> XeroTrackingCategory:
    return XeroTrackingCategory(
        category_id=str(category.tracking_category_id),
        name=category.name or "",
        status=_text(category.status) or "ACTIVE",
        options=tuple(
            XeroTrackingOption(
                option_id=str(option.tracking_option_id),
                name=option.name or "",
                status=_text(option.status) or "ACTIVE",
            )
            for option in (category.options or [])
        ),
    )


class XeroReferenceReads(XeroSession):
    """Reads of one organisation's settings, and its credit notes by id or by contact and date."""

    def get_tax_rates(self) -> list[XeroTaxRate]:
        """Every tax rate, archived and deleted ones included (Xero takes no If-Modified-Since here)."""
        result = self._call("get_tax_rates", self._accounting.get_tax_rates, self.tenant_id)
        return [convert.tax_rate_from_sdk(rate) for rate in (result.tax_rates or [])]

    def get_accounts(self, modified_since: dt.datetime | None = None) -> list[XeroAccount]:
        """The chart of accounts; only the accounts changed after `modified_since`, when given."""
        kwargs: dict[str, Any] = {}
        if modified_since is not None:
            kwargs["if_modified_since"] = modified_since.astimezone(dt.UTC)
        result = self._call("get_accounts", self._accounting.get_accounts, self.tenant_id, **kwargs)
        return [
            convert.account_from_sdk(account).model_copy(
                update={
                    "account_id": str(account.account_id) if account.account_id else None,
                    "updated_at": account.updated_date_utc,
                }
            )
            for account in (result.accounts or [])
        ]

    def get_branding_themes(self) -> list[XeroBrandingTheme]:
        result = self._call("get_branding_themes", self._accounting.get_branding_themes, self.tenant_id)
        return [
            XeroBrandingTheme(
                branding_theme_id=str(theme.branding_theme_id),
                name=theme.name or "",
                sort_order=theme.sort_order,
            )
            for theme in (result.branding_themes or [])
        ]

    def get_tracking_categories(self) -> list[XeroTrackingCategory]:
        """Every category with every option, archived ones included, so rows can be deactivated."""
        result = self._call(
            "get_tracking_categories",
            self._accounting.get_tracking_categories,
            self.tenant_id,
            include_archived=True,
        )
        return [tracking_category_from_sdk(category) for category in (result.tracking_categories or [])]

    def get_credit_note(self, credit_note_id: str) -> XeroCreditNote:
        """NotFoundError when Xero has no such credit note."""
        result = self._call(
            "get_credit_note", self._accounting.get_credit_note, self.tenant_id, credit_note_id
        )
        if not result.credit_notes:
            raise NotFoundError("Xero get_credit_note: not found")
        return credit_note_from_sdk(result.credit_notes[0])

    def find_credit_notes(
        self, contact_id: str, on: dt.date | None, type_: CreditNoteType
    ) -> list[XeroCreditNote]:
        """The contact's credit notes of one type and date: where a create whose answer was lost is."""
        where = f'Contact.ContactID==Guid("{contact_id}") AND Type=="{type_}"'
        if on is not None:
            where += f" AND Date==DateTime({on.year},{on.month:02d},{on.day:02d})"
        result = self._call(
            "get_credit_notes", self._accounting.get_credit_notes, self.tenant_id, where=where
        )
        return [credit_note_from_sdk(note) for note in (result.credit_notes or [])]

    def create_credit_note(self, draft: XeroCreditNoteDraft, idempotency_key: str) -> XeroCreditNote:
        """Create one credit note; Xero's refusal raises XeroValidationError with its words."""
        kwargs: dict[str, Any] = {"summarize_errors": False, "idempotency_key": idempotency_key}
        if draft.unit_dp == 4:
            kwargs["unitdp"] = 4
        body = CreditNotes(credit_notes=[credit_note_to_sdk(draft)])
        result = self._call(
            "create_credit_notes", self._accounting.create_credit_notes, self.tenant_id, body, **kwargs
        )
        notes = list(result.credit_notes or [])
        raise_if_invalid(notes)
        return credit_note_from_sdk(notes[0])

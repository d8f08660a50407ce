"""The Xero adapter: the only place that talks to xero-python, record by record.

One `XeroClient` per connection (xero-python's ApiClient is not safe to share across tenants).
Methods are synchronous; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict
from xero_python.accounting import (
    Allocation,
    Allocations,
    Contacts,
    Invoice,
    Invoices,
    Items,
    RequestEmpty,
)

from connector.adapters.storage.rate_limit import RateLimiter
from connector.adapters.storage.token_store import TokenStore
from connector.adapters.xero import convert
from connector.adapters.xero.auth import configure_token_endpoints
from connector.adapters.xero.errors import XeroApiError, raise_if_invalid
from connector.adapters.xero.reference_data import XeroReferenceReads, apply_tracking
from connector.domain.xero_records import (
    RateLimitHeadroom,
    XeroContact,
    XeroContactDraft,
    XeroCreditNote,
    XeroInvoice,
    XeroInvoiceDraft,
    XeroItem,
    XeroItemDraft,
)
from connector.errors import (
    NotFoundError,
    XeroValidationError,
)
from connector.settings import Settings

T = TypeVar("T")
InvoiceStatusChange = Literal["DELETED", "VOIDED", "AUTHORISED", "SUBMITTED"]

ITEM_CODES_PER_QUERY = 20
IDS_PER_QUERY = 50  # the IDs filter is reported to hold about 52 GUIDs (XeroAPI/Xero-Java#328)
URLS_PER_QUERY = 15  # each Url clause is ~100 characters: stay under common 2 KB query-string limits


def _invoice_to_sdk(draft: XeroInvoiceDraft, invoice_id: str | None = None) -> Invoice:
    invoice = convert.invoice_to_sdk(draft, invoice_id)
    apply_tracking(invoice.line_items, draft.line_items)  # I15: tracking goes by category and option name
    for sdk_line, line in zip(invoice.line_items or [], draft.line_items, strict=False):
        if line.line_item_id and not line.tracking:
            sdk_line.tracking = []  # I11: an existing line's tracking is cleared, not left as it was
    if invoice_id and not draft.line_items:
        invoice.line_items = None  # I11: no LineItems at all keeps Xero's lines; an empty list would not
    return invoice


class XeroTenantConnection(BaseModel):
    """One row of GET /connections: an organisation this app is authorised for."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant_id: str
    tenant_type: str | None = None
    tenant_name: str | None = None


class XeroClient(XeroReferenceReads):
    """Xero for one connection (one organisation). Converts domain records ⇄ SDK models."""

    # --- contacts -----------------------------------------------------------------------------

    def _contacts_where(self, where: str) -> list[XeroContact]:
        result = self._call("get_contacts", self._accounting.get_contacts, self.tenant_id, where=where)
        return [convert.contact_from_sdk(c) for c in (result.contacts or [])]

    def find_contact_by_name(self, name: str) -> XeroContact | None:
        found = self._contacts_where(convert.where_equals("Name", name))
        return found[0] if found else None

    def find_contact_by_number(self, contact_number: str) -> XeroContact | None:
        found = self._contacts_where(convert.where_equals("ContactNumber", contact_number))
        return found[0] if found else None

    def get_contact(self, contact_id: str) -> XeroContact:
        """The contact with its balances (receivable/payable outstanding and overdue)."""
        result = self._call("get_contact", self._accounting.get_contact, self.tenant_id, contact_id)
        if not result.contacts:
            raise NotFoundError("Xero get_contact: not found")
        return convert.contact_from_sdk(result.contacts[0])

    def get_contacts_by_ids(self, contact_ids: list[str]) -> list[XeroContact]:
        """Many contacts with their balances, IDS_PER_QUERY per call."""
        found: list[XeroContact] = []
        for start in range(0, len(contact_ids), IDS_PER_QUERY):
            ids = contact_ids[start : start + IDS_PER_QUERY]
            result = self._call("get_contacts", self._accounting.get_contacts, self.tenant_id, i_ds=ids)
            found += [convert.contact_from_sdk(contact) for contact in (result.contacts or [])]
        return found

    def create_contact(self, draft: XeroContactDraft, idempotency_key: str) -> XeroContact:
        body = Contacts(contacts=[convert.contact_to_sdk(draft)])
        result = self._call(
            "create_contacts",
            self._accounting.create_contacts,
            self.tenant_id,
            body,
            summarize_errors=False,
            idempotency_key=idempotency_key,
        )
        contacts = list(result.contacts or [])
        raise_if_invalid(contacts)
        return convert.contact_from_sdk(contacts[0])

    def update_contact(self, contact_id: str, draft: XeroContactDraft, idempotency_key: str) -> XeroContact:
        body = Contacts(contacts=[convert.contact_to_sdk(draft, contact_id)])
        result = self._call(
            "update_contact",
            self._accounting.update_contact,
            self.tenant_id,
            contact_id,
            body,
            idempotency_key=idempotency_key,
        )
        contacts = list(result.contacts or [])
        raise_if_invalid(contacts)
        return convert.contact_from_sdk(contacts[0])

    # --- items --------------------------------------------------------------------------------

    def get_items_by_codes(self, codes: list[str]) -> list[XeroItem]:
        unique = list(dict.fromkeys(code for code in codes if code))
        items: list[XeroItem] = []
        for start in range(0, len(unique), ITEM_CODES_PER_QUERY):
            chunk = unique[start : start + ITEM_CODES_PER_QUERY]
            result = self._call(
                "get_items",
                self._accounting.get_items,
                self.tenant_id,
                where=convert.where_any("Code", chunk),
            )
            items.extend(convert.item_from_sdk(item) for item in (result.items or []))
        return items

    def create_items(self, drafts: list[XeroItemDraft], idempotency_key: str) -> list[XeroItem]:
        """Create items; any element Xero refuses raises XeroValidationError with all its messages."""
        if not drafts:
            return []
        body = Items(items=[convert.item_to_sdk(draft) for draft in drafts])
        result = self._call(
            "create_items",
            self._accounting.create_items,
            self.tenant_id,
            body,
            summarize_errors=False,
            idempotency_key=idempotency_key,
        )
        items = list(result.items or [])
        raise_if_invalid(items)
        return [convert.item_from_sdk(item) for item in items]

    # --- invoices -----------------------------------------------------------------------------

    def _invoices_where(self, where: str) -> list[XeroInvoice]:
        result = self._call("get_invoices", self._accounting.get_invoices, self.tenant_id, where=where)
        return [convert.invoice_from_sdk(invoice) for invoice in (result.invoices or [])]

    def find_invoices_by_urls(self, urls: list[str]) -> list[XeroInvoice]:
        """Crash-window lookup: invoices whose Url is one of the Dynamics record links we set on create,
        up to URLS_PER_QUERY per call."""
        found: list[XeroInvoice] = []
        for start in range(0, len(urls), URLS_PER_QUERY):
            found += self._invoices_where(convert.where_any("Url", urls[start : start + URLS_PER_QUERY]))
        return found

    def find_invoices_by_numbers(self, numbers: list[str]) -> list[XeroInvoice]:
        """Invoices and bills with one of these numbers (the InvoiceNumbers filter), IDS_PER_QUERY per call:
        how the backfill finds invoices entered in Xero before the connector."""
        found: list[XeroInvoice] = []
        unique = list(dict.fromkeys(number for number in numbers if number))
        for start in range(0, len(unique), IDS_PER_QUERY):
            chunk = unique[start : start + IDS_PER_QUERY]
            result = self._call(
                "get_invoices", self._accounting.get_invoices, self.tenant_id, invoice_numbers=chunk
            )
            found += [convert.invoice_from_sdk(invoice) for invoice in (result.invoices or [])]
        return found

    def find_invoice_by_reference(self, reference: str) -> XeroInvoice | None:
        """The live invoice with this Reference (deleted/voided ones only if nothing else matches)."""
        found = self._invoices_where(convert.where_equals("Reference", reference))
        live = [invoice for invoice in found if invoice.status not in ("DELETED", "VOIDED")]
        candidates = live or found
        return candidates[0] if candidates else None

    def create_invoices(
        self, drafts: list[XeroInvoiceDraft], idempotency_key: str, summarize_errors: bool = False
    ) -> list[XeroInvoice]:
        """Create a batch. With summarize_errors=False each result carries its own validation_errors."""
        if not drafts:
            return []
        kwargs: dict[str, Any] = {"summarize_errors": summarize_errors, "idempotency_key": idempotency_key}
        if any(draft.unit_dp == 4 for draft in drafts):
            kwargs["unitdp"] = 4
        body = Invoices(invoices=[_invoice_to_sdk(draft) for draft in drafts])
        result = self._call(
            "create_invoices", self._accounting.create_invoices, self.tenant_id, body, **kwargs
        )
        returned = list(result.invoices or [])
        return [
            convert.invoice_from_sdk(invoice, drafts[index] if index < len(drafts) else None)
            for index, invoice in enumerate(returned)
        ]

    def create_invoice(self, draft: XeroInvoiceDraft, idempotency_key: str) -> XeroInvoice:
        """Create one invoice; Xero's refusal raises XeroValidationError with its messages word for word."""
        results = self.create_invoices([draft], idempotency_key)
        if not results:
            raise XeroApiError("Xero create_invoices returned no invoice", 200)
        invoice = results[0]
        if invoice.validation_errors:
            raise XeroValidationError(list(invoice.validation_errors))
        return invoice

    def update_invoice(self, invoice_id: str, draft: XeroInvoiceDraft, idempotency_key: str) -> XeroInvoice:
        kwargs: dict[str, Any] = {"idempotency_key": idempotency_key}
        if draft.unit_dp == 4:
            kwargs["unitdp"] = 4
        body = Invoices(invoices=[_invoice_to_sdk(draft, invoice_id)])
        result = self._call(
            "update_invoice", self._accounting.update_invoice, self.tenant_id, invoice_id, body, **kwargs
        )
        invoices = list(result.invoices or [])
        raise_if_invalid(invoices)
        return convert.invoice_from_sdk(invoices[0], draft)

    def get_invoice(self, invoice_id: str) -> XeroInvoice:
        result = self._call("get_invoice", self._accounting.get_invoice, self.tenant_id, invoice_id)
        if not result.invoices:
            raise NotFoundError("Xero get_invoice: not found")
        return convert.invoice_from_sdk(result.invoices[0])

    def get_invoices_by_ids(self, invoice_ids: list[str]) -> list[XeroInvoice]:
        """Many invoices, IDS_PER_QUERY per call (the IDs filter)."""
        found: list[XeroInvoice] = []
        for start in range(0, len(invoice_ids), IDS_PER_QUERY):
            ids = invoice_ids[start : start + IDS_PER_QUERY]
            result = self._call("get_invoices", self._accounting.get_invoices, self.tenant_id, i_ds=ids)
            found += [convert.invoice_from_sdk(invoice) for invoice in (result.invoices or [])]
        return found

    def get_invoices_modified_since(
        self, since: dt.datetime, page: int = 1, page_size: int = 100
    ) -> list[XeroInvoice]:
        """One page (up to `page_size`, at most 1,000) of invoices changed since `since`, oldest change
        first. Naive means UTC."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        result = self._call(
            "get_invoices",
            self._accounting.get_invoices,
            self.tenant_id,
            if_modified_since=since,
            order="UpdatedDateUTC ASC",
            page=page,
            page_size=page_size,
        )
        return [convert.invoice_from_sdk(invoice) for invoice in (result.invoices or [])]

    def get_online_invoice_url(self, invoice_id: str) -> str | None:
        result = self._call(
            "get_online_invoice", self._accounting.get_online_invoice, self.tenant_id, invoice_id
        )
        online = list(result.online_invoices or [])
        return str(online[0].online_invoice_url) if online and online[0].online_invoice_url else None

    def email_invoice(self, invoice_id: str, idempotency_key: str) -> None:
        self._call(
            "email_invoice",
            self._accounting.email_invoice,
            self.tenant_id,
            invoice_id,
            RequestEmpty(),
            idempotency_key=idempotency_key,
        )

    def set_invoice_status(
        self, invoice_id: str, status: InvoiceStatusChange, idempotency_key: str
    ) -> XeroInvoice:
        """DELETED (draft/submitted), VOIDED (authorised, unpaid) or AUTHORISED, by POSTing the status."""
        body = Invoices(invoices=[Invoice(invoice_id=invoice_id, status=status)])
        result = self._call(
            "update_invoice",
            self._accounting.update_invoice,
            self.tenant_id,
            invoice_id,
            body,
            idempotency_key=idempotency_key,
        )
        invoices = list(result.invoices or [])
        raise_if_invalid(invoices)
        return convert.invoice_from_sdk(invoices[0])

    # --- credit notes -------------------------------------------------------------------------

    def allocate_credit_note(
        self,
        credit_note_id: str,
        invoice_id: str,
        amount: Decimal,
        idempotency_key: str,
        on: dt.date | None = None,
    ) -> None:
        allocation = Allocation(
            invoice=Invoice(invoice_id=invoice_id), amount=amount, date=on or dt.datetime.now(dt.UTC).date()
        )
        result = self._call(
            "create_credit_note_allocation",
            self._accounting.create_credit_note_allocation,
            self.tenant_id,
            credit_note_id,
            Allocations(allocations=[allocation]),
            summarize_errors=False,
            idempotency_key=idempotency_key,
        )
        raise_if_invalid(list(getattr(result, "allocations", None) or []))

    def find_credit_notes_by_reference(self, reference: str) -> list[XeroCreditNote]:
        result = self._call(
            "get_credit_notes",
            self._accounting.get_credit_notes,
            self.tenant_id,
            where=convert.where_equals("Reference", reference),
        )
        return [convert.credit_note_from_sdk(note) for note in (result.credit_notes or [])]

    def get_connections(self) -> list[XeroTenantConnection]:
        """The organisations this connection's token may use (GET /connections)."""
        result = self._call("get_connections", self._identity.get_connections)
        return [
            XeroTenantConnection(
                id=str(row.id),
                tenant_id=str(row.tenant_id),
                tenant_type=getattr(row.tenant_type, "value", row.tenant_type),
                tenant_name=row.tenant_name,
            )
            for row in (result or [])
        ]


class XeroClientFactory:
    """One XeroClient per connection, created on first use and kept for the process."""

    def __init__(
        self,
        settings: Settings,
        token_store: TokenStore,
        *,
        headroom_listener: Callable[[str, RateLimitHeadroom], None] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._limiter = limiter
        self._settings = settings
        self._store = token_store
        self._listener = headroom_listener
        self._clients: dict[str, XeroClient] = {}
        self._lock = threading.Lock()
        configure_token_endpoints(settings.xero_identity_base_url)

    def for_connection(
        self, connection_id: str, tenant_id: str, *, custom_connection: bool = False
    ) -> XeroClient:
        key = str(connection_id)
        with self._lock:
            client = self._clients.get(key)
            if client is None or client.tenant_id != tenant_id:
                listener = self._listener
                client = XeroClient(
                    self._settings,
                    key,
                    tenant_id,
                    self._store,
                    custom_connection=custom_connection,
                    headroom_listener=(lambda headroom: listener(tenant_id, headroom)) if listener else None,
                    limiter=self._limiter,
                )
                self._clients[key] = client
            return client

    def forget(self, connection_id: str) -> None:
        """Drop a cached client (e.g. after the connection was re-authorised or removed)."""
        with self._lock:
            self._clients.pop(str(connection_id), None)

"""The Xero adapter: the only module that talks to xero-python.

One `XeroClient` per connection (xero-python's ApiClient is not safe to share across tenants).
Methods are synchronous; async callers use `asyncio.to_thread`.

How headers are read: every SDK call is made with `_return_http_data_only=False`, which in xero-python
15.2.0 returns `(data, status, headers)` with headers as urllib3's case-insensitive HTTPHeaderDict.
`ApiClient.last_response` is not used: it is shared between threads and only set on success. On
errors, the SDK's HTTPStatusException carries the response, and `.headers` gives the same dict.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal, TypeVar

import certifi
import urllib3
from pydantic import BaseModel, ConfigDict
from xero_python.accounting import (
    AccountingApi,
    Allocation,
    Allocations,
    Contacts,
    CreditNotes,
    Invoice,
    Invoices,
    Items,
    RequestEmpty,
)
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.exceptions import AccessTokenExpiredError, ApiException, HTTPStatusException
from xero_python.identity import IdentityApi

from connector.adapters import xero_convert as convert
from connector.adapters.rate_limit import RateLimiter
from connector.adapters.token_store import REFRESH_MARGIN_SECONDS, TokenSet, TokenStore
from connector.adapters.xero_auth import XeroTokenFetcher, configure_token_endpoints
from connector.domain.xero_records import (
    RateLimitHeadroom,
    XeroAccount,
    XeroBrandingTheme,
    XeroContact,
    XeroContactDraft,
    XeroCreditNote,
    XeroCreditNoteDraft,
    XeroInvoice,
    XeroInvoiceDraft,
    XeroItem,
    XeroItemDraft,
    XeroTaxRate,
)
from connector.errors import (
    AuthorisationError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    RetryableError,
    XeroValidationError,
)
from connector.settings import Settings

T = TypeVar("T")
InvoiceStatusChange = Literal["DELETED", "VOIDED", "AUTHORISED", "SUBMITTED"]

DEFAULT_RETRY_AFTER_SECONDS = 60.0
ITEM_CODES_PER_QUERY = 20


class XeroApiError(ConnectorError):
    """Xero answered with a status we have no rule for (e.g. 405, 409). A bug: not retried."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class XeroTenantConnection(BaseModel):
    """One row of GET /connections: an organisation this app is authorised for."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant_id: str
    tenant_type: str | None = None
    tenant_name: str | None = None


# --- headers and errors ---------------------------------------------------------------------------


def _header_int(headers: Mapping[str, Any] | None, name: str) -> int | None:
    if not headers:
        return None
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def headroom_from_headers(headers: Mapping[str, Any] | None) -> RateLimitHeadroom | None:
    """Xero's X-*Limit-Remaining headers, or None when the response carried none."""
    headroom = RateLimitHeadroom(
        minute_remaining=_header_int(headers, "X-MinLimit-Remaining"),
        day_remaining=_header_int(headers, "X-DayLimit-Remaining"),
        app_minute_remaining=_header_int(headers, "X-AppMinLimit-Remaining"),
    )
    if headroom == RateLimitHeadroom():
        return None
    return headroom


def validation_messages_from_body(body: bytes | str | None) -> list[str]:
    """Elements[].ValidationErrors[].Message from a 400 body, word for word, in order."""
    if not body:
        return []
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return []
    if not isinstance(data, dict):
        return []
    messages: list[str] = []
    for element in data.get("Elements") or []:
        for error in (element or {}).get("ValidationErrors") or []:
            message = (error or {}).get("Message")
            if message:
                messages.append(str(message))
    if not messages and data.get("Message"):
        messages.append(str(data["Message"]))
    return messages


def http_status(exc: HTTPStatusException) -> int:
    """The HTTP status. Not `exc.status`: on a 400 that property parses the body and fails on plain text."""
    return int(getattr(exc.http_resp, "status", 0) or 0)


def map_sdk_error(exc: Exception, operation: str) -> ConnectorError:
    """Classify an SDK or transport failure. Messages never include request headers (tokens)."""
    if isinstance(exc, HTTPStatusException):
        status = http_status(exc)
        headers = exc.headers or {}
        if status == 429:
            problem = headers.get("X-Rate-Limit-Problem")
            retry_after = headers.get("Retry-After")
            try:
                seconds = float(retry_after) if retry_after is not None else DEFAULT_RETRY_AFTER_SECONDS
            except ValueError:
                seconds = DEFAULT_RETRY_AFTER_SECONDS
            return RateLimitedError(
                f"Xero {operation}: rate limited ({problem or 'unknown'} limit)",
                retry_after=seconds,
                problem=problem,
            )
        if status == 400:
            messages = validation_messages_from_body(exc.body)
            return XeroValidationError(messages or [f"Xero rejected {operation} (HTTP 400)"])
        if status in (401, 403):
            return AuthorisationError(
                f"Xero {operation}: not authorised (HTTP {status}); reconnect the organisation"
            )
        if status == 404:
            return NotFoundError(f"Xero {operation}: not found")
        if status >= 500:
            return RetryableError(f"Xero {operation}: server error HTTP {status}")
        return XeroApiError(f"Xero {operation}: unexpected HTTP {status}", status)
    if isinstance(exc, AccessTokenExpiredError):
        return RetryableError(f"Xero {operation}: access token expired before the call")
    if isinstance(exc, urllib3.exceptions.HTTPError | ApiException | ConnectionError | TimeoutError):
        return RetryableError(f"Xero {operation}: transport failure ({type(exc).__name__})")
    return XeroApiError(f"Xero {operation}: unexpected {type(exc).__name__}", 0)


def _raise_if_invalid(models: list[Any]) -> None:
    messages = [message for model in models for message in convert.validation_messages(model)]
    if messages:
        raise XeroValidationError(messages)


# --- SDK plumbing ---------------------------------------------------------------------------------


def build_api_client(settings: Settings) -> ApiClient:
    """An ApiClient with credentials set after construction and urllib3 retries off."""
    config = Configuration()  # no constructor args: they leak across instances (reference §2.3 pitfall a)
    secret = settings.xero_client_secret.get_secret_value() if settings.xero_client_secret else None
    config.oauth2_token = OAuth2Token(client_id=settings.xero_client_id, client_secret=secret)
    api_client = ApiClient(config, pool_threads=1)
    # urllib3's default Retry(3) repeats a timed-out PUT: a create could reach Xero four times.
    api_client.rest_client.pool_manager = urllib3.PoolManager(
        num_pools=4, maxsize=5, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), retries=False
    )
    return api_client


def request_timeout(seconds: int) -> tuple[int, int]:
    """xero-python honours only int or (connect, read) tuples; a float is silently ignored."""
    return (min(10, seconds), seconds)


class XeroClient:
    """Xero for one connection (one organisation). Converts domain records ⇄ SDK models."""

    def __init__(
        self,
        settings: Settings,
        connection_id: str,
        tenant_id: str,
        token_store: TokenStore,
        *,
        custom_connection: bool = False,
        headroom_listener: Callable[[RateLimitHeadroom], None] | None = None,
        clock: Callable[[], float] = time.time,
        limiter: RateLimiter | None = None,
        max_wait_seconds: float = 5.0,
    ) -> None:
        self.connection_id = connection_id
        # O3: every call takes a slot from the organisation's budget, shared by all instances.
        self._limiter = limiter
        self._max_wait = max_wait_seconds
        # Custom connections need no xero-tenant-id; the SDK still wants the argument, so "".
        self.tenant_id = tenant_id
        self._store = token_store
        self._custom = custom_connection
        self._listener = headroom_listener
        self._clock = clock
        self._timeout = request_timeout(settings.xero_timeout_seconds)
        configure_token_endpoints(settings.xero_identity_base_url)
        self._api_client = build_api_client(settings)
        self._api_client.oauth2_token_getter(self._sdk_token)
        self._api_client.oauth2_token_saver(self._sdk_saved_token)
        self._accounting = AccountingApi(self._api_client, base_url=settings.xero_api_base_url)
        self._identity = IdentityApi(self._api_client, base_url=settings.xero_connections_base_url)
        self._fetcher = XeroTokenFetcher(
            self._api_client,
            settings.xero_client_id or "",
            settings.xero_client_secret.get_secret_value() if settings.xero_client_secret else "",
            clock=clock,
        )
        self._token: TokenSet | None = None
        self._lock = threading.Lock()
        self.call_counts: Counter[str] = Counter()
        self.last_headroom: RateLimitHeadroom | None = None

    # --- bookkeeping --------------------------------------------------------------------------

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self.call_counts.values())

    def _record(self, operation: str, headers: Mapping[str, Any] | None) -> None:
        headroom = headroom_from_headers(headers)
        with self._lock:
            self.call_counts[operation] += 1
            if headroom is not None:
                self.last_headroom = headroom
        if headroom is not None and self._listener is not None:
            self._listener(headroom)

    # --- tokens -------------------------------------------------------------------------------

    def _sdk_token(self) -> dict[str, Any]:
        token = self._token
        if token is None:  # only reachable if a call bypassed _ensure_token
            raise AuthorisationError("no Xero token loaded for this connection")
        return token.to_sdk()

    def _sdk_saved_token(self, token: dict[str, Any]) -> None:
        # The SDK cannot refresh by itself (to_sdk() withholds the refresh token); this hook must stay unused.
        raise AuthorisationError("unexpected token refresh inside xero-python")

    def _ensure_token(self, stale: TokenSet | None = None) -> TokenSet:
        """A usable token: cached, re-read from the store, or refreshed through its single flight."""
        now = self._clock()
        token = self._token
        if stale is None and token is not None and not token.expires_within(REFRESH_MARGIN_SECONDS, now):
            return token
        token = self._store.get(self.connection_id)
        if token is None:
            if not self._custom:
                raise AuthorisationError("no Xero token is stored for this connection: connect it first")
            token = self._fetcher.client_credentials()
            self._store.save(self.connection_id, token)
        if stale is not None or token.expires_within(REFRESH_MARGIN_SECONDS, now):
            token = self._store.refresh_single_flight(self.connection_id, self._fetcher.renew, stale=stale)
        self._token = token
        return token

    def refresh_token_now(self) -> TokenSet:
        """Force a refresh (single flight) of the connection's token."""
        return self._ensure_token(stale=self._ensure_token())

    # --- the one call path --------------------------------------------------------------------

    def _call(self, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call: token, timeout, headers, counting, error mapping; one retry after a 401."""
        token = self._ensure_token()
        for attempt in (1, 2):
            try:
                data, _status, headers = self._send(method, *args, **kwargs)
            except RateLimitedError:
                raise  # our own budget said wait: nothing was sent
            except Exception as exc:
                headers = exc.headers if isinstance(exc, HTTPStatusException) else None
                self._record(operation, headers)
                status = http_status(exc) if isinstance(exc, HTTPStatusException) else None
                if status == 401 and attempt == 1:
                    # Perhaps another instance rotated the token; a 401 means nothing was written: retry once.
                    token = self._ensure_token(stale=token)
                    continue
                raise map_sdk_error(exc, operation) from None
            self._record(operation, headers)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One HTTP request inside a rate-limit slot; Xero's headers and 429s tighten the shared budget."""
        limiter = self._limiter
        if limiter is None:
            return method(*args, _return_http_data_only=False, _request_timeout=self._timeout, **kwargs)
        permit = limiter.acquire_blocking(self.tenant_id, self._max_wait)
        headroom: RateLimitHeadroom | None = None
        try:
            result = method(*args, _return_http_data_only=False, _request_timeout=self._timeout, **kwargs)
            headroom = headroom_from_headers(result[2])
            return result
        except HTTPStatusException as exc:
            headroom = headroom_from_headers(exc.headers)
            if http_status(exc) == 429:
                mapped = map_sdk_error(exc, "rate limit")
                if isinstance(mapped, RateLimitedError):
                    limiter.rate_limited(self.tenant_id, mapped.retry_after)
            raise
        finally:
            limiter.release(permit, headroom)

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
        _raise_if_invalid(contacts)
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
        _raise_if_invalid(contacts)
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
        _raise_if_invalid(items)
        return [convert.item_from_sdk(item) for item in items]

    # --- invoices -----------------------------------------------------------------------------

    def _invoices_where(self, where: str) -> list[XeroInvoice]:
        result = self._call("get_invoices", self._accounting.get_invoices, self.tenant_id, where=where)
        return [convert.invoice_from_sdk(invoice) for invoice in (result.invoices or [])]

    def find_invoices_by_url(self, url: str) -> list[XeroInvoice]:
        """Crash-window lookup: invoices whose Url is the Dynamics record link we set on create."""
        return self._invoices_where(convert.where_equals("Url", url))

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
        body = Invoices(invoices=[convert.invoice_to_sdk(draft) for draft in drafts])
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
        body = Invoices(invoices=[convert.invoice_to_sdk(draft, invoice_id)])
        result = self._call(
            "update_invoice", self._accounting.update_invoice, self.tenant_id, invoice_id, body, **kwargs
        )
        invoices = list(result.invoices or [])
        _raise_if_invalid(invoices)
        return convert.invoice_from_sdk(invoices[0], draft)

    def get_invoice(self, invoice_id: str) -> XeroInvoice:
        result = self._call("get_invoice", self._accounting.get_invoice, self.tenant_id, invoice_id)
        if not result.invoices:
            raise NotFoundError("Xero get_invoice: not found")
        return convert.invoice_from_sdk(result.invoices[0])

    def get_invoices_modified_since(self, since: dt.datetime, page: int = 1) -> list[XeroInvoice]:
        """One page (up to 100) of invoices changed since `since`, oldest change first. Naive means UTC."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        result = self._call(
            "get_invoices",
            self._accounting.get_invoices,
            self.tenant_id,
            if_modified_since=since,
            order="UpdatedDateUTC ASC",
            page=page,
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
        _raise_if_invalid(invoices)
        return convert.invoice_from_sdk(invoices[0])

    # --- credit notes -------------------------------------------------------------------------

    def create_credit_note(self, draft: XeroCreditNoteDraft, idempotency_key: str) -> XeroCreditNote:
        body = CreditNotes(credit_notes=[convert.credit_note_to_sdk(draft)])
        result = self._call(
            "create_credit_notes",
            self._accounting.create_credit_notes,
            self.tenant_id,
            body,
            summarize_errors=False,
            idempotency_key=idempotency_key,
        )
        notes = list(result.credit_notes or [])
        _raise_if_invalid(notes)
        return convert.credit_note_from_sdk(notes[0])

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
        _raise_if_invalid(list(getattr(result, "allocations", None) or []))

    def find_credit_notes_by_reference(self, reference: str) -> list[XeroCreditNote]:
        result = self._call(
            "get_credit_notes",
            self._accounting.get_credit_notes,
            self.tenant_id,
            where=convert.where_equals("Reference", reference),
        )
        return [convert.credit_note_from_sdk(note) for note in (result.credit_notes or [])]

    # --- reference data -----------------------------------------------------------------------

    def get_tax_rates(self) -> list[XeroTaxRate]:
        result = self._call("get_tax_rates", self._accounting.get_tax_rates, self.tenant_id)
        return [convert.tax_rate_from_sdk(rate) for rate in (result.tax_rates or [])]

    def get_accounts(self) -> list[XeroAccount]:
        result = self._call("get_accounts", self._accounting.get_accounts, self.tenant_id)
        return [convert.account_from_sdk(account) for account in (result.accounts or [])]

    def get_branding_themes(self) -> list[XeroBrandingTheme]:
        result = self._call("get_branding_themes", self._accounting.get_branding_themes, self.tenant_id)
        return [convert.branding_theme_from_sdk(theme) for theme in (result.branding_themes or [])]

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

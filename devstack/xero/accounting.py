"""Routes under /api.xro/2.0: Invoices, CreditNotes, Payments, Contacts, Items and the read-only settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.xero.documents import CREDIT_NOTE, INVOICE, DocumentBook, Kind
from devstack.xero.emulator import Emulator
from devstack.xero.ledger import Ledger
from devstack.xero.money import round_unit
from devstack.xero.responses import (
    echo_with_errors,
    json_response,
    not_found,
    post_data_invalid,
    query_parse_error,
    validation_error,
)
from devstack.xero.serialize import envelope, is_guid, parse_datetime_header
from devstack.xero.spec import validate_request_body
from devstack.xero.store import Outcome, Record, Tenant
from devstack.xero.where import QueryParseError, compile_where

INVOICE_FIELDS = {
    "InvoiceID",
    "InvoiceNumber",
    "Type",
    "Status",
    "Contact",
    "Reference",
    "Url",
    "Date",
    "DueDate",
    "AmountDue",
    "AmountPaid",
    "AmountCredited",
    "Total",
    "SubTotal",
    "TotalTax",
    "CurrencyCode",
    "UpdatedDateUTC",
    "BrandingThemeID",
    "LineAmountTypes",
    "SentToContact",
    "FullyPaidOnDate",
    "HasAttachments",
    "IsDiscounted",
}
CREDIT_NOTE_FIELDS = {
    "CreditNoteID",
    "CreditNoteNumber",
    "Type",
    "Status",
    "Contact",
    "Reference",
    "Date",
    "DueDate",
    "Total",
    "SubTotal",
    "TotalTax",
    "RemainingCredit",
    "CurrencyCode",
    "UpdatedDateUTC",
    "FullyPaidOnDate",
    "LineAmountTypes",
}
CONTACT_FIELDS = {
    "ContactID",
    "ContactNumber",
    "AccountNumber",
    "ContactStatus",
    "Name",
    "FirstName",
    "LastName",
    "EmailAddress",
    "IsCustomer",
    "IsSupplier",
    "UpdatedDateUTC",
    "DefaultCurrency",
    "TaxNumber",
}
PAYMENT_FIELDS = {
    "PaymentID",
    "Date",
    "Amount",
    "Reference",
    "Status",
    "PaymentType",
    "Invoice",
    "Account",
    "UpdatedDateUTC",
    "IsReconciled",
    "CurrencyRate",
}
ITEM_FIELDS = {
    "ItemID",
    "Code",
    "Name",
    "Description",
    "IsSold",
    "IsPurchased",
    "IsTrackedAsInventory",
    "UpdatedDateUTC",
}


class Call:
    """What a handler needs for one request: the tenant, the emulator, and query helpers."""

    def __init__(self, emulator: Emulator, request: Request) -> None:
        self.emulator = emulator
        self.request = request
        self.tenant: Tenant = emulator.state.tenants[request.scope["xero.tenant_id"]]
        self.now = emulator.clock.now().replace(microsecond=(emulator.clock.now().microsecond // 1000) * 1000)
        self.today = emulator.clock.today()
        self.emit = emulator.emitter(self.tenant.tenant_id)
        self.query = request.query_params

    @property
    def unitdp(self) -> int:
        return 4 if self.query.get("unitdp") == "4" else 2

    @property
    def per_element(self) -> bool:
        return self.query.get("summarizeErrors", "true").lower() == "false"

    def flag(self, name: str) -> bool:
        return self.query.get(name, "false").lower() == "true"

    def ledger(self) -> Ledger:
        return Ledger(self.tenant, self.now, self.today, self.emit)

    def book(self, kind: Kind) -> DocumentBook:
        return DocumentBook(self.tenant, kind, self.now, self.today, self.emit, self.unitdp)

    def envelope(self, key: str, records: list[Any], **extra: Any) -> Response:
        return json_response(envelope(key, records, self.emulator.clock.now(), **extra))

    async def body(self, key: str | None) -> tuple[Any, Response | None]:
        """The JSON body (validated against the spec when loaded); `key` unwraps {"Invoices": [...]}."""
        raw = await self.request.body()
        try:
            body = json.loads(raw or b"{}", parse_float=Decimal)
        except ValueError:
            return None, post_data_invalid("JSON for post data was invalid, could not be parsed")
        if self.emulator.spec is not None and self.emulator.options.validate_requests:
            path = self.request.url.path.removeprefix("/api.xro/2.0")
            problem = validate_request_body(
                self.emulator.spec, self.request.method, path, json.loads(raw or b"{}")
            )
            self.emulator.state.spec_checks.append({"kind": "request", "path": path, "ok": problem is None})
            if problem:
                return None, post_data_invalid(f"The request body does not match the API schema: {problem}")
        if key is None:
            return body, None
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            return None, post_data_invalid(
                f"JSON for post data was invalid: expected an object with '{key}' array"
            )
        return body[key], None


def filtered(
    call: Call,
    records: list[Record],
    fields: set[str],
    view: Callable[[Record], Record],
    modified_since: bool = True,
) -> list[Record]:
    """`where`, then `If-Modified-Since` (only where the spec declares it: `modified_since`), then
    `order`. Changed records come oldest change first unless `order` says otherwise, so a client paging
    through them can move its watermark page by page (the spec names no default order: assumed)."""
    where = call.query.get("where")
    if where:
        predicate = compile_where(where, fields)
        records = [r for r in records if predicate(view(r))]
    since = call.request.headers.get("if-modified-since") if modified_since else None
    if since:
        moment = parse_datetime_header(since)
        # Compared as the wire shows it (milliseconds), so a watermark read back from a record excludes it.
        records = [r for r in records if r.get("UpdatedDateUTC") and _to_ms(r["UpdatedDateUTC"]) > moment]
        records = sorted(records, key=lambda r: r["UpdatedDateUTC"])
    order = call.query.get("order")
    if order:
        for clause in reversed([c.strip() for c in order.split(",") if c.strip()]):
            name, _, direction = clause.partition(" ")
            records = sorted(records, key=_sorter(view, name), reverse=direction.upper() == "DESC")
    return records


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _sorter(view: Callable[[Record], Record], name: str) -> Callable[[Record], tuple[int, Any]]:
    return lambda record: _sort_key(view(record).get(name))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value.casefold())
    if isinstance(value, datetime | date):
        return (2, value.isoformat())
    return (3, value)


def _csv(call: Call, name: str) -> list[str] | None:
    raw = call.query.get(name)
    return [v.strip() for v in raw.split(",") if v.strip()] if raw else None


def _paged(call: Call, records: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    if not call.query.get("page"):
        return records, {}
    page = max(int(call.query["page"]), 1)
    size = min(max(int(call.query.get("pageSize") or 100), 1), 1000)
    count = len(records)
    pagination = {"page": page, "pageSize": size, "pageCount": (count + size - 1) // size, "itemCount": count}
    return records[(page - 1) * size : page * size], {"pagination": pagination}


def _unit_view(call: Call, record: Record) -> Record:
    if call.unitdp == 4 or "LineItems" not in record:
        return record
    lines = []
    for line in record["LineItems"]:
        if line.get("UnitAmount") is not None:
            line = dict(line, UnitAmount=round_unit(line["UnitAmount"], 2))
        lines.append(line)
    return dict(record, LineItems=lines)


def save_batch(
    call: Call,
    key: str,
    elements: list[Any],
    save: Callable[[Record], Outcome],
    view: Callable[[Record], Record],
) -> Response:
    """Xero's batch semantics: valid elements are saved either way; summarized mode: 400 if any fail."""
    outcomes = [
        save(e) if isinstance(e, dict) else Outcome(element={}, errors=["Element must be an object"])
        for e in elements
    ]
    failed = [o for o in outcomes if o.errors]
    if call.per_element:
        results = []
        for outcome in outcomes:
            if outcome.errors:
                results.append(echo_with_errors(outcome.element, outcome.errors, per_element=True))
            else:
                assert outcome.record is not None
                results.append(dict(view(outcome.record), StatusAttributeString="OK"))
        return call.envelope(key, results)
    if failed:
        return validation_error([echo_with_errors(o.element, o.errors, per_element=False) for o in failed])
    return call.envelope(key, [view(o.record) for o in outcomes if o.record is not None])


def endpoint(emulator: Emulator, fn: Callable[[Call], Any]) -> Callable[[Request], Any]:
    """An endpoint running `fn` (sync or async) on a Call; a bad `where` is a 400 QueryParseException."""

    async def run(request: Request) -> Response:
        call = Call(emulator, request)
        try:
            result = fn(call)
            if hasattr(result, "__await__"):
                result = await result
        except QueryParseError as exc:
            return query_parse_error(str(exc))
        return result  # type: ignore[no-any-return]

    return run


def id_set(call: Call, name: str) -> set[str] | None:
    """A comma-separated id filter (`IDs`, `ContactIDs`) as a set of lower-case ids, built once a call."""
    values = _csv(call, name)
    return {v.lower() for v in values} if values else None


def routes(emulator: Emulator) -> list[Route]:
    state = emulator.state

    # ---- invoices & credit notes --------------------------------------------------------------------------
    def doc_list(kind: Kind) -> Callable[[Call], Response]:
        def run(call: Call) -> Response:
            with state.lock:
                ledger = call.ledger()
                docs = list(kind.collection(call.tenant).values())
                if kind is INVOICE:
                    ids, numbers = id_set(call, "IDs"), _csv(call, "InvoiceNumbers")
                    contacts, statuses = id_set(call, "ContactIDs"), _csv(call, "Statuses")
                    if ids:
                        docs = [d for d in docs if d["InvoiceID"] in ids]
                    if numbers:
                        wanted = set(numbers)
                        docs = [d for d in docs if d.get("InvoiceNumber") in wanted]
                    if contacts:
                        docs = [d for d in docs if d["Contact"]["ContactID"] in contacts]
                    if statuses:
                        upper = {s.upper() for s in statuses}
                        docs = [d for d in docs if d["Status"] in upper]
                    term = (call.query.get("searchTerm") or "").casefold()
                    if term:
                        docs = [
                            d
                            for d in docs
                            if term in (d.get("InvoiceNumber") or "").casefold()
                            or term in (d.get("Reference") or "").casefold()
                        ]
                    view: Callable[[Record], Record] = ledger.invoice_view
                    fields = INVOICE_FIELDS
                else:
                    view, fields = ledger.credit_note_view, CREDIT_NOTE_FIELDS
                docs = filtered(call, docs, fields, view)
                docs, extra = _paged(call, docs)
                summary = call.flag("summaryOnly") and kind is INVOICE
                out = [
                    _unit_view(call, ledger.invoice_view(d, summary) if kind is INVOICE else view(d))
                    for d in docs
                ]
            return call.envelope(kind.name + "s", out, **extra)

        return run

    def doc_get(kind: Kind) -> Callable[[Call], Response]:
        def run(call: Call) -> Response:
            with state.lock:
                key = call.request.path_params["id"]
                doc = kind.collection(call.tenant).get(key.lower())
                if doc is None and not is_guid(key):
                    doc = next(
                        (d for d in kind.collection(call.tenant).values() if d.get(kind.number_key) == key),
                        None,
                    )
                if doc is None:
                    return not_found()
                ledger = call.ledger()
                view = ledger.invoice_view(doc) if kind is INVOICE else ledger.credit_note_view(doc)
                return call.envelope(kind.name + "s", [_unit_view(call, view)])

        return run

    def doc_save(
        kind: Kind, allow_create: bool, allow_update: bool, by_path: bool = False
    ) -> Callable[[Call], Any]:
        async def run(call: Call) -> Response:
            elements, problem = await call.body(kind.name + "s")
            if problem:
                return problem
            doc_id = call.request.path_params.get("id") if by_path else None
            with state.lock:
                if doc_id and doc_id.lower() not in kind.collection(call.tenant):
                    return not_found()
                book, ledger = call.book(kind), call.ledger()
                view = ledger.invoice_view if kind is INVOICE else ledger.credit_note_view

                def save(element: Record) -> Outcome:
                    return book.save(
                        element, doc_id=doc_id, allow_create=allow_create, allow_update=allow_update
                    )

                return save_batch(call, kind.name + "s", elements, save, lambda r: _unit_view(call, view(r)))

        return run

    def online_invoice(call: Call) -> Response:
        with state.lock:
            invoice = call.tenant.invoices.get(call.request.path_params["id"].lower())
            if invoice is None:
                return not_found()
            if invoice["Status"] in ("DRAFT", "DELETED") or invoice["Type"] != "ACCREC":
                return validation_error(
                    [
                        {
                            "InvoiceID": invoice["InvoiceID"],
                            "ValidationErrors": [
                                {"Message": "No online invoice for a draft, deleted or purchase invoice"}
                            ],
                        }
                    ]
                )
            url = f"{str(call.request.base_url).rstrip('/')}/_emulator/online-invoice/{invoice['InvoiceID']}"
            return call.envelope("OnlineInvoices", [{"OnlineInvoiceUrl": url}])

    async def email_invoice(call: Call) -> Response:
        _, problem = await call.body(None)
        if problem:
            return problem
        with state.lock:
            invoice = call.tenant.invoices.get(call.request.path_params["id"].lower())
            if invoice is None:
                return not_found()
            if invoice["Status"] != "AUTHORISED" or invoice["Type"] != "ACCREC":
                return validation_error(
                    [
                        {
                            "InvoiceID": invoice["InvoiceID"],
                            "ValidationErrors": [
                                {"Message": "Only AUTHORISED sales invoices can be emailed"}
                            ],
                        }
                    ]
                )
            call.tenant.emails_sent.append(invoice["InvoiceID"])
            invoice["SentToContact"] = True
            invoice["UpdatedDateUTC"] = call.now
            call.emit("INVOICE", "UPDATE", invoice["InvoiceID"])
        return Response(status_code=204)

    async def allocate(call: Call) -> Response:
        elements, problem = await call.body("Allocations")
        if problem:
            return problem
        with state.lock:
            note_id = call.request.path_params["id"]
            if note_id.lower() not in call.tenant.credit_notes:
                return not_found()
            ledger = call.ledger()
            return save_batch(
                call, "Allocations", elements, lambda e: ledger.allocate(note_id, e), ledger.allocation_view
            )

    def delete_allocation(call: Call) -> Response:
        with state.lock:
            ledger = call.ledger()
            allocation = ledger.delete_allocation(
                call.request.path_params["id"], call.request.path_params["aid"]
            )
            if allocation is None:
                return not_found()
            return json_response(envelope("Allocations", [allocation], call.now)["Allocations"][0])

    # ---- payments -----------------------------------------------------------------------------------------
    def payments_list(call: Call) -> Response:
        with state.lock:
            ledger = call.ledger()
            records = filtered(call, list(call.tenant.payments.values()), PAYMENT_FIELDS, ledger.payment_view)
            records, extra = _paged(call, records)
            return call.envelope("Payments", [ledger.payment_view(p) for p in records], **extra)

    def payment_get(call: Call) -> Response:
        with state.lock:
            payment = call.tenant.payments.get(call.request.path_params["id"].lower())
            if payment is None:
                return not_found()
            return call.envelope("Payments", [call.ledger().payment_view(payment)])

    async def payments_put(call: Call) -> Response:
        elements, problem = await call.body("Payments")
        if problem:
            return problem
        with state.lock:
            ledger = call.ledger()
            return save_batch(call, "Payments", elements, ledger.create_payment, ledger.payment_view)

    async def payment_post(call: Call) -> Response:
        body, problem = await call.body(None)
        if problem:
            return problem
        elements = (
            body["Payments"] if isinstance(body, dict) and isinstance(body.get("Payments"), list) else [body]
        )
        with state.lock:
            ledger = call.ledger()
            return save_batch(call, "Payments", elements, ledger.create_payment, ledger.payment_view)

    async def payment_delete(call: Call) -> Response:
        body, problem = await call.body(None)
        if problem:
            return problem
        with state.lock:
            payment_id = call.request.path_params["id"]
            if payment_id.lower() not in call.tenant.payments:
                return not_found()
            ledger = call.ledger()
            element = body if isinstance(body, dict) else {}
            element = element["Payments"][0] if isinstance(element.get("Payments"), list) else element
            return save_batch(
                call,
                "Payments",
                [element],
                lambda e: ledger.delete_payment(payment_id, e),
                ledger.payment_view,
            )

    # ---- contacts -----------------------------------------------------------------------------------------
    def contacts_list(call: Call) -> Response:
        with state.lock:
            ledger = call.ledger()
            records = list(call.tenant.contacts.values())
            if not call.flag("includeArchived"):
                records = [c for c in records if c.get("ContactStatus") != "ARCHIVED"]
            ids = id_set(call, "IDs")
            if ids:
                records = [c for c in records if c["ContactID"] in ids]
            term = (call.query.get("searchTerm") or "").casefold()
            if term:
                keys = ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
                records = [c for c in records if any(term in str(c.get(k) or "").casefold() for k in keys)]
            records = filtered(call, records, CONTACT_FIELDS, ledger.contact_view)
            records, extra = _paged(call, records)
            summary = call.flag("summaryOnly")
            return call.envelope("Contacts", [ledger.contact_view(c, summary) for c in records], **extra)

    def contact_get(call: Call) -> Response:
        with state.lock:
            ledger = call.ledger()
            contact = ledger.find_contact(call.request.path_params["id"])
            if contact is None:
                return not_found()
            return call.envelope("Contacts", [ledger.contact_view(contact)])

    def contacts_save(allow_create: bool, allow_update: bool, by_path: bool = False) -> Callable[[Call], Any]:
        async def run(call: Call) -> Response:
            elements, problem = await call.body("Contacts")
            if problem:
                return problem
            with state.lock:
                ledger = call.ledger()
                contact_id = call.request.path_params.get("id") if by_path else None
                if contact_id and ledger.find_contact(contact_id) is None:
                    return not_found()
                if contact_id:
                    contact_id = ledger.find_contact(contact_id)["ContactID"]  # type: ignore[index]

                def save(element: Record) -> Outcome:
                    return ledger.save_contact(
                        element, contact_id=contact_id, allow_create=allow_create, allow_update=allow_update
                    )

                return save_batch(call, "Contacts", elements, save, ledger.contact_view)

        return run

    # ---- items --------------------------------------------------------------------------------------------
    def items_list(call: Call) -> Response:
        with state.lock:
            records = filtered(call, list(call.tenant.items.values()), ITEM_FIELDS, lambda r: r)
            return call.envelope("Items", records)

    def item_get(call: Call) -> Response:
        with state.lock:
            key = call.request.path_params["id"]
            item = call.tenant.items.get(key.lower()) or call.tenant.item_by_code(key)
            return call.envelope("Items", [item]) if item else not_found()

    def items_save(allow_create: bool, allow_update: bool, by_path: bool = False) -> Callable[[Call], Any]:
        async def run(call: Call) -> Response:
            elements, problem = await call.body("Items")
            if problem:
                return problem
            with state.lock:
                ledger = call.ledger()
                item_id = call.request.path_params.get("id") if by_path else None
                if item_id and item_id.lower() not in call.tenant.items:
                    return not_found()

                def save(element: Record) -> Outcome:
                    if item_id:
                        element = dict(element, ItemID=item_id)
                    return ledger.save_item(element, allow_create=allow_create, allow_update=allow_update)

                return save_batch(call, "Items", elements, save, lambda r: r)

        return run

    def r(path: str, fn: Callable[[Call], Any], method: str) -> Route:
        return Route("/api.xro/2.0" + path, endpoint(emulator, fn), methods=[method])

    return [
        r("/Invoices", doc_list(INVOICE), "GET"),
        r("/Invoices", doc_save(INVOICE, True, False), "PUT"),
        r("/Invoices", doc_save(INVOICE, True, True), "POST"),
        r("/Invoices/{id}", doc_get(INVOICE), "GET"),
        r("/Invoices/{id}", doc_save(INVOICE, False, True, by_path=True), "POST"),
        r("/Invoices/{id}/OnlineInvoice", online_invoice, "GET"),
        r("/Invoices/{id}/Email", email_invoice, "POST"),
        r("/CreditNotes", doc_list(CREDIT_NOTE), "GET"),
        r("/CreditNotes", doc_save(CREDIT_NOTE, True, False), "PUT"),
        r("/CreditNotes", doc_save(CREDIT_NOTE, True, True), "POST"),
        r("/CreditNotes/{id}", doc_get(CREDIT_NOTE), "GET"),
        r("/CreditNotes/{id}", doc_save(CREDIT_NOTE, False, True, by_path=True), "POST"),
        r("/CreditNotes/{id}/Allocations", allocate, "PUT"),
        r("/CreditNotes/{id}/Allocations/{aid}", delete_allocation, "DELETE"),
        r("/Payments", payments_list, "GET"),
        r("/Payments", payments_put, "PUT"),
        r("/Payments", payment_post, "POST"),
        r("/Payments/{id}", payment_get, "GET"),
        r("/Payments/{id}", payment_delete, "POST"),
        r("/Contacts", contacts_list, "GET"),
        r("/Contacts", contacts_save(True, False), "PUT"),
        r("/Contacts", contacts_save(True, True), "POST"),
        r("/Contacts/{id}", contact_get, "GET"),
        r("/Contacts/{id}", contacts_save(False, True, by_path=True), "POST"),
        r("/Items", items_list, "GET"),
        r("/Items", items_save(True, False), "PUT"),
        r("/Items", items_save(True, True), "POST"),
        r("/Items/{id}", item_get, "GET"),
        r("/Items/{id}", items_save(False, True, by_path=True), "POST"),
    ]

"""The control API under /_emulator: reset, seeding, acting as a Xero user, request log, faults,
clock, webhooks."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from devstack.xero import settings
from devstack.xero.documents import CREDIT_NOTE, INVOICE, DocumentBook, Kind
from devstack.xero.emulator import DEFAULT_SCOPE, Emulator
from devstack.xero.ledger import Ledger
from devstack.xero.seed import build_tenant, default_contacts, default_items
from devstack.xero.serialize import to_wire
from devstack.xero.store import Outcome, Tenant


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def routes(emulator: Emulator) -> list[Route]:
    state = emulator.state

    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        return dict(await request.json()) if raw else {}

    async def reset(request: Request) -> Response:
        await asyncio.to_thread(emulator.reset)
        return JSONResponse({"reset": True})

    async def seed(request: Request) -> Response:
        body = await body_of(request)
        with state.lock:
            now = emulator.clock.now()
            try:
                tenant = build_tenant(
                    now,
                    body.get("name", "Demo Company (NZ)"),
                    body.get("country", "NZ"),
                    body.get("currencies"),
                )
            except ValueError as exc:
                return _error(str(exc))
            state.tenants[tenant.tenant_id] = tenant
            ledger = Ledger(tenant, now, emulator.clock.today(), lambda *_: None)
            for item in body.get("items", default_items()):
                outcome = ledger.save_item(item, allow_create=True, allow_update=False)
                if outcome.errors:
                    return _error(f"item {item.get('Code')}: {outcome.errors}")
            for contact in body.get("contacts", default_contacts()):
                outcome = ledger.save_contact(contact, contact_id=None, allow_create=True, allow_update=False)
                if outcome.errors:
                    return _error(f"contact {contact.get('Name')}: {outcome.errors}")
            client = state.clients.get(body.get("client_id") or "") or emulator.register_client(
                body.get("client_id"), body.get("client_secret")
            )
            emulator.connect(client, tenant.tenant_id)
            if body.get("custom_connection"):
                client.custom_connection_tenant = tenant.tenant_id
            token = emulator.sdk_token(emulator.issue_tokens(client, body.get("scope", DEFAULT_SCOPE)))
            return JSONResponse(
                {
                    "tenant_id": tenant.tenant_id,
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                    "token": token,
                }
            )

    def _act(kind: Kind, request: Request, element: dict[str, Any]) -> Response:
        tenant = state.tenants.get(request.path_params["tenant"])
        if tenant is None:
            return _error("unknown tenant", 404)
        emit = emulator.emitter(tenant.tenant_id)
        book = DocumentBook(tenant, kind, emulator.clock.now(), emulator.clock.today(), emit)
        outcome = book.save(element, doc_id=request.path_params["id"], allow_create=False, allow_update=True)
        if outcome.errors:
            return _error("; ".join(outcome.errors))
        return JSONResponse(to_wire(outcome.record))

    async def approve(request: Request) -> Response:
        kind = INVOICE if request.path_params["kind"] == "invoices" else CREDIT_NOTE
        with state.lock:
            return _act(kind, request, {"Status": "AUTHORISED"})

    async def void(request: Request) -> Response:
        kind = INVOICE if request.path_params["kind"] == "invoices" else CREDIT_NOTE
        with state.lock:
            return _act(kind, request, {"Status": "VOIDED"})

    async def pay(request: Request) -> Response:
        body = await body_of(request)
        with state.lock:
            tenant = state.tenants.get(request.path_params["tenant"])
            if tenant is None:
                return _error("unknown tenant", 404)
            invoice = tenant.invoices.get(request.path_params["id"].lower())
            if invoice is None:
                return _error("unknown invoice", 404)
            ledger = Ledger(
                tenant, emulator.clock.now(), emulator.clock.today(), emulator.emitter(tenant.tenant_id)
            )
            element = {
                "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                "Account": {"Code": body.get("account_code", "090")},
                "Amount": body.get("amount", str(invoice["AmountDue"])),
                "Date": body.get("date"),
                "Reference": body.get("reference"),
            }
            outcome = ledger.create_payment(element)
            if outcome.errors:
                return _error("; ".join(outcome.errors))
            return JSONResponse(to_wire(outcome.record))

    async def allocate(request: Request) -> Response:
        body = await body_of(request)
        with state.lock:
            tenant = state.tenants.get(request.path_params["tenant"])
            if tenant is None:
                return _error("unknown tenant", 404)
            ledger = Ledger(
                tenant, emulator.clock.now(), emulator.clock.today(), emulator.emitter(tenant.tenant_id)
            )
            outcome = ledger.allocate(
                request.path_params["id"],
                {
                    "Invoice": {"InvoiceID": body.get("invoice_id")},
                    "Amount": body.get("amount"),
                    "Date": body.get("date"),
                },
            )
            if outcome.errors:
                return _error("; ".join(outcome.errors))
            return JSONResponse(to_wire(outcome.record))

    async def edit_setting(request: Request, change: Callable[[Tenant, dict[str, Any]], Outcome]) -> Response:
        body = await body_of(request)
        with state.lock:
            tenant = state.tenants.get(request.path_params["tenant"])
            if tenant is None:
                return _error("unknown tenant", 404)
            outcome = change(tenant, body)
            if outcome.errors:
                return _error("; ".join(outcome.errors))
            assert outcome.record is not None
            return JSONResponse(to_wire(outcome.record))

    async def edit_account(request: Request) -> Response:
        code, now = request.path_params["code"], emulator.clock.now()
        return await edit_setting(
            request, lambda tenant, body: settings.edit_account(tenant, code, body, now)
        )

    async def edit_tax_rate(request: Request) -> Response:
        tax_type = request.path_params["tax_type"]
        return await edit_setting(
            request, lambda tenant, body: settings.edit_tax_rate(tenant, tax_type, body)
        )

    async def requests_log(request: Request) -> Response:
        since = int(request.query_params.get("since") or 0)
        return JSONResponse(state.requests_since(since, request.query_params.get("tenant")))

    async def requests_count(request: Request) -> Response:
        query = request.query_params
        try:
            path = re.compile(query["path"]) if query.get("path") else None
        except re.error as exc:
            return _error(f"path: {exc}")
        entries = state.requests_since(int(query.get("since") or 0), query.get("tenant"))
        method = (query.get("method") or "").upper()
        counted = [
            e
            for e in entries
            if (not method or e["method"] == method)
            and (path is None or path.search(e["path"]))
            and ("fault" not in query or (e.get("fault") or "") == query["fault"])
        ]
        with state.lock:
            last, dropped = state.request_seq, state.request_log_dropped
        return JSONResponse({"count": len(counted), "last_seq": last, "dropped": dropped})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                rule = emulator.faults.add(await body_of(request))
            except (TypeError, ValueError) as exc:
                return _error(str(exc))
            return JSONResponse(dataclasses.asdict(rule))
        if request.method == "DELETE":
            emulator.faults.clear()
        return JSONResponse(emulator.faults.describe())

    async def random_faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                return JSONResponse(emulator.faults.set_random(await body_of(request)).describe())
            except (TypeError, ValueError) as exc:
                return _error(str(exc))
        if request.method == "DELETE":
            return JSONResponse({"stopped": emulator.faults.stop_random()})
        return JSONResponse(emulator.faults.describe()["random"])

    async def held(request: Request) -> Response:
        return JSONResponse(emulator.faults.held())

    async def release(request: Request) -> Response:
        body = await body_of(request)
        ids = body.get("ids")
        released = emulator.faults.release(list(ids) if ids is not None else None, bool(body.get("answer")))
        return JSONResponse({"released": released})

    async def clock(request: Request) -> Response:
        body = await body_of(request)
        if "today" in body:
            emulator.clock.set_today(date.fromisoformat(body["today"]) if body["today"] else None)
        if body.get("advance_seconds"):
            emulator.clock.advance(float(body["advance_seconds"]))
        return JSONResponse(
            {"now": emulator.clock.now().isoformat(), "today": emulator.clock.today().isoformat()}
        )

    async def limits(request: Request) -> Response:
        body = await body_of(request)
        names = {
            "rate_limit_per_minute",
            "rate_limit_per_day",
            "rate_limit_concurrent",
            "app_limit_per_minute",
            "rate_limit_time_scale",
            "rate_limits_enabled",
            "access_token_lifetime",
            "refresh_token_grace_seconds",
            "idempotency_retention_seconds",
            "request_log_size",
        }
        unknown = set(body) - names
        if unknown:
            return _error(f"unknown settings {sorted(unknown)}")
        for name, value in body.items():
            setattr(emulator.options, name, value)
        if "request_log_size" in body:
            state.resize_request_log(int(body["request_log_size"]))
        emulator.limiter.reset()
        return JSONResponse({name: getattr(emulator.options, name) for name in sorted(names)})

    async def webhooks(request: Request) -> Response:
        if request.method == "DELETE":
            emulator.webhooks.unsubscribe()
            return JSONResponse({"subscribed": False})
        body = await body_of(request)
        sub = await asyncio.to_thread(emulator.webhooks.subscribe, body["url"], body["key"])
        return JSONResponse({"status": sub.status, "intent_to_receive": sub.intent_results})

    async def flush(request: Request) -> Response:
        body = await body_of(request)
        done = await asyncio.to_thread(emulator.webhooks.flush, float(body.get("timeout", 10)))
        return JSONResponse({"flushed": done, "deliveries": list(emulator.webhooks.deliveries)})

    async def deliveries(request: Request) -> Response:
        return JSONResponse(list(emulator.webhooks.deliveries))

    async def online_invoice(request: Request) -> Response:
        return HTMLResponse(f"<h1>Online invoice {request.path_params['id']}</h1>")

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "spec_validation": emulator.spec is not None})

    async def spec_report(request: Request) -> Response:
        with state.lock:
            return JSONResponse({"checks": len(state.spec_checks), "violations": state.spec_violations})

    base = "/_emulator"
    return [
        Route(base + "/reset", reset, methods=["POST"]),
        Route(base + "/organisations", seed, methods=["POST"]),
        Route(base + "/tenants/{tenant}/{kind:str}/{id}/approve", approve, methods=["POST"]),
        Route(base + "/tenants/{tenant}/{kind:str}/{id}/void", void, methods=["POST"]),
        Route(base + "/tenants/{tenant}/invoices/{id}/pay", pay, methods=["POST"]),
        Route(base + "/tenants/{tenant}/credit-notes/{id}/allocate", allocate, methods=["POST"]),
        Route(base + "/tenants/{tenant}/accounts/{code}", edit_account, methods=["POST"]),
        Route(base + "/tenants/{tenant}/tax-rates/{tax_type}", edit_tax_rate, methods=["POST"]),
        Route(base + "/requests", requests_log, methods=["GET"]),
        Route(base + "/requests/count", requests_count, methods=["GET"]),
        Route(base + "/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(base + "/faults/random", random_faults, methods=["GET", "POST", "DELETE"]),
        Route(base + "/faults/held", held, methods=["GET"]),
        Route(base + "/faults/release", release, methods=["POST"]),
        Route(base + "/clock", clock, methods=["POST"]),
        Route(base + "/limits", limits, methods=["POST"]),
        Route(base + "/webhooks", webhooks, methods=["POST", "DELETE"]),
        Route(base + "/webhooks/flush", flush, methods=["POST"]),
        Route(base + "/webhooks/deliveries", deliveries, methods=["GET"]),
        Route(base + "/online-invoice/{id}", online_invoice, methods=["GET"]),
        Route(base + "/health", health, methods=["GET"]),
        Route(base + "/spec-report", spec_report, methods=["GET"]),
    ]

"""The control API under /_emulator: reset, seeding, acting as a Xero user, request log, faults,
clock, webhooks."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from devstack.xero.documents import CREDIT_NOTE, INVOICE, DocumentBook, Kind
from devstack.xero.emulator import DEFAULT_SCOPE, Emulator
from devstack.xero.ledger import Ledger
from devstack.xero.seed import build_tenant, default_contacts, default_items
from devstack.xero.serialize import to_wire


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

    async def requests_log(request: Request) -> Response:
        with state.lock:
            return JSONResponse(list(state.request_log))

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
        }
        unknown = set(body) - names
        if unknown:
            return _error(f"unknown settings {sorted(unknown)}")
        for name, value in body.items():
            setattr(emulator.options, name, value)
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
        Route(base + "/requests", requests_log, methods=["GET"]),
        Route(base + "/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(base + "/clock", clock, methods=["POST"]),
        Route(base + "/limits", limits, methods=["POST"]),
        Route(base + "/webhooks", webhooks, methods=["POST", "DELETE"]),
        Route(base + "/webhooks/flush", flush, methods=["POST"]),
        Route(base + "/webhooks/deliveries", deliveries, methods=["GET"]),
        Route(base + "/online-invoice/{id}", online_invoice, methods=["GET"]),
        Route(base + "/health", health, methods=["GET"]),
        Route(base + "/spec-report", spec_report, methods=["GET"]),
    ]

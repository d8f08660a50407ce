"""ASGI middleware in front of the accounting API: auth, tenant, rate limits, faults, idempotency,
request log, and (optionally) response validation against the spec. Faults also reach the identity
endpoints, for rules that name them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Coroutine
from typing import Any

from starlette.requests import Request

from devstack.xero.emulator import Emulator
from devstack.xero.faults import IDENTITY_PREFIXES, FaultRule
from devstack.xero.identity import bearer, forbidden, unauthorized
from devstack.xero.spec import declared_statuses, validate_response
from devstack.xero.store import IdempotentResponse

API_PREFIX = "/api.xro/2.0"
Message = dict[str, Any]


class Captured:
    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


def _simple(status: int, body: bytes, content_type: bytes, extra: dict[str, str] | None = None) -> Captured:
    captured = Captured()
    captured.status = status
    captured.body = body
    captured.headers = [(b"content-type", content_type)]
    captured.headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    return captured


class Gateway:
    def __init__(self, app: Any, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await self._api(scope, receive, send)
        elif scope["type"] == "http" and scope["path"].startswith(IDENTITY_PREFIXES):
            await self._identity(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _api(self, scope: Message, receive: Any, send: Any) -> None:
        started = time.monotonic()
        body = await _read_body(receive)
        request = Request(scope)
        method, path = scope["method"], scope["path"]
        entry = _entry(scope, request)
        tenant_id, captured, fault, limited = None, None, None, False
        try:
            tenant_id, captured = self._authorise(request)
            if captured is None:
                entry["tenant"] = tenant_id
                verdict = self.emulator.limiter.acquire(tenant_id)
                limited = verdict.problem is None
                if verdict.problem is not None:
                    extra = dict(verdict.headers, **{"X-Rate-Limit-Problem": verdict.problem})
                    if verdict.retry_after is not None:
                        extra["Retry-After"] = str(verdict.retry_after)
                    captured = _simple(429, b"", b"text/plain", extra)
                else:
                    fault = self.emulator.faults.take(method, path)
                    entry["fault"] = fault.kind if fault else None
                    captured = await self._faulted(fault, self._handle(scope, body, request, tenant_id or ""))
                    if captured is None:
                        entry["status"] = "dropped"
                        await self._drop(send)
                        return
                    captured.headers += [(k.lower().encode(), v.encode()) for k, v in verdict.headers.items()]
            self._check_response(method, path, request, captured)
            if limited and fault is not None and fault.kind == "commit_then_hold":
                # The work is done: a held answer is a lost one, not a call still running in Xero.
                self.emulator.limiter.release(tenant_id)
                limited = False
            await self._deliver(fault, captured, send, entry)
        finally:
            if limited:
                self.emulator.limiter.release(tenant_id)
            entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            self.emulator.state.log_request(entry)

    async def _identity(self, scope: Message, receive: Any, send: Any) -> None:
        """The token and connection endpoints see faults only from rules that name them; those calls are
        logged, the others are not (the log is of the accounting API)."""
        fault = self.emulator.faults.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        body = await _read_body(receive)
        entry = _entry(scope, Request(scope))
        entry["tenant"], entry["fault"] = None, fault.kind
        try:
            captured = await self._faulted(fault, self._call_app(scope, body, None))
            if captured is None:
                entry["status"] = "dropped"
                await self._drop(send)
                return
            await self._deliver(fault, captured, send, entry)
        finally:
            entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            self.emulator.state.log_request(entry)

    async def _faulted(
        self, fault: FaultRule | None, handle: Coroutine[Any, Any, Captured]
    ) -> Captured | None:
        """The answer under `fault`: a canned one, or the handled request (after any delay); None to drop."""
        if fault is None or fault.kind in (
            "slow",
            "commit_then_timeout",
            "commit_then_drop",
            "commit_then_hold",
        ):
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            return await handle
        handle.close()  # never run: faults that do not commit leave state alone
        if fault.kind == "drop":
            return None
        if fault.kind == "rate_limit":
            headers = {"Retry-After": str(fault.retry_after), "X-Rate-Limit-Problem": fault.problem}
            return _simple(429, b"", b"text/plain", headers)
        return _simple(fault.status, fault.body.encode(), b"text/plain")

    async def _deliver(self, fault: FaultRule | None, captured: Captured, send: Any, entry: Message) -> None:
        kind = fault.kind if fault is not None else None
        if fault is not None and kind == "commit_then_hold":
            faults = self.emulator.faults
            held = faults.hold(entry, captured.status, self.emulator.clock.now().isoformat())
            try:
                answered = await held.wait(fault.hold_seconds)
            finally:
                faults.forget(held)
            if answered:
                entry["status"] = captured.status
                await _send(send, captured)
                return
        if kind in ("commit_then_timeout", "commit_then_drop", "commit_then_hold"):
            entry["status"] = f"{captured.status} (not delivered)"
            if fault is not None and kind == "commit_then_timeout":
                await asyncio.sleep(fault.delay)
            await self._drop(send)
            return
        entry["status"] = captured.status
        await _send(send, captured)

    def _authorise(self, request: Request) -> tuple[str | None, Captured | None]:
        state = self.emulator.state
        with state.lock:
            access = bearer(self.emulator, request)
            if access is None:
                response = unauthorized()
                return None, _simple(
                    401, bytes(response.body), b"application/json", {"xero-correlation-id": str(uuid.uuid4())}
                )
            tenant_id = (request.headers.get("xero-tenant-id") or "").strip().lower() or access.tenant_id
            client = state.clients.get(access.client_id)
            allowed = set(client.tenant_ids()) if client else set()
            if access.tenant_id is not None:
                allowed = {access.tenant_id}
            if not tenant_id or tenant_id not in allowed or tenant_id not in state.tenants:
                return None, _simple(403, bytes(forbidden().body), b"application/json")
            return tenant_id, None

    async def _handle(self, scope: Message, body: bytes, request: Request, tenant_id: str) -> Captured:
        key = request.headers.get("idempotency-key")
        method = scope["method"]
        if key is None or method not in ("PUT", "POST"):
            return await self._call_app(scope, body, tenant_id)
        if len(key) > 128:
            return _simple(
                400,
                json.dumps(
                    {
                        "ErrorNumber": 10,
                        "Type": "ValidationException",
                        "Message": "Idempotency-Key must be 128 characters or fewer",
                    }
                ).encode(),
                b"application/json",
            )
        state = self.emulator.state
        fingerprint = hashlib.sha256(
            method.encode() + scope["path"].encode() + b"?" + scope.get("query_string", b"") + b"\n" + body
        ).hexdigest()
        now = self.emulator.clock.timestamp()
        with state.lock:
            for stored_key, old in list(state.idempotency.items()):
                if now - old.stored_at > self.emulator.options.idempotency_retention_seconds:
                    del state.idempotency[stored_key]
            stored = state.idempotency.get((tenant_id, key))
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    return _problem(
                        422,
                        "Idempotency-Key reused with a different request",
                        "This Idempotency-Key was already used for a different request body or path.",
                    )
                if not stored.done:
                    return _problem(
                        409,
                        "Request in progress",
                        "A request with this Idempotency-Key is still being processed.",
                    )
                replay = _simple(stored.status, stored.body, b"application/json")
                replay.headers = [*stored.headers, (b"idempotent-replayed", b"true")]
                return replay
            state.idempotency[(tenant_id, key)] = IdempotentResponse(fingerprint, 0, [], b"", now, done=False)
        captured = await self._call_app(scope, body, tenant_id)
        with state.lock:
            if captured.status >= 500:
                state.idempotency.pop((tenant_id, key), None)
            else:
                state.idempotency[(tenant_id, key)] = IdempotentResponse(
                    fingerprint, captured.status, list(captured.headers), captured.body, now
                )
        return captured

    async def _call_app(self, scope: Message, body: bytes, tenant_id: str | None) -> Captured:
        captured = Captured()
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        inner = scope if tenant_id is None else dict(scope, **{"xero.tenant_id": tenant_id})
        await self.app(inner, receive, captured.send)
        return captured

    def _check_response(self, method: str, path: str, request: Request, captured: Captured) -> None:
        emulator = self.emulator
        if emulator.spec is None or not emulator.options.validate_responses:
            return
        sub_path = path.removeprefix(API_PREFIX)
        declared = declared_statuses(emulator.spec, method, sub_path)
        if not declared or captured.status not in declared or captured.status == 204:
            return
        problem = validate_response(
            emulator.spec, method, sub_path, dict(request.query_params), captured.status, captured.body
        )
        emulator.state.spec_checks.append(
            {"kind": "response", "path": sub_path, "status": captured.status, "ok": problem is None}
        )
        if problem:
            emulator.state.spec_violations.append(
                {"method": method, "path": sub_path, "status": captured.status, "problem": problem[:2000]}
            )

    async def _drop(self, send: Any) -> None:
        """Start a response promising a body, then end the exchange: the client sees a broken connection."""
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})


async def _read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message: Message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def _send(send: Any, captured: Captured) -> None:
    await send({"type": "http.response.start", "status": captured.status, "headers": captured.headers})
    await send({"type": "http.response.body", "body": captured.body})


def _entry(scope: Message, request: Request) -> dict[str, Any]:
    return {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope.get("query_string", b"").decode(),
        "tenant": request.headers.get("xero-tenant-id"),
        "idempotency_key": request.headers.get("idempotency-key"),
        "fault": None,
    }


def _problem(status: int, title: str, detail: str) -> Captured:
    body: dict[str, Any] = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return _simple(status, json.dumps(body).encode(), b"application/json")

"""The Dataverse emulator: Web API + control API (`/_emulator`) as one Starlette app.

State is in memory; `reset` starts over. Auth is a bearer token: a configured static one or one
issued by `POST /_emulator/token`; each token belongs to a systemuser, and service protection
counts per user.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.dataverse import customizations, sales, security
from devstack.dataverse.batch import BatchProcessor
from devstack.dataverse.faults import Fault, RandomFaults
from devstack.dataverse.protection import REQUESTS_CODE, Limits, Refusal, ServiceProtection
from devstack.dataverse.seed import install_platform_rows, seed_sample_data
from devstack.dataverse.store import EmulatorState, ODataError
from devstack.dataverse.ui_actions import UiActions
from devstack.dataverse.webapi import API_PREFIX, ApiRequest, ApiResponse, WebApi
from devstack.dataverse.webhooks import Identity, WebhookDispatcher

DEFAULT_STATIC_TOKEN = "dataverse-emulator-token"
APP_USER_ID = "a11ce000-0000-4000-8000-000000000001"
INJECTED_FAULT_CODE = "0x80040216"

__all__ = ["DEFAULT_STATIC_TOKEN", "Emulator", "EmulatorOptions", "Fault", "RandomFaults", "create_app"]


@dataclass
class EmulatorOptions:
    static_token: str | None = DEFAULT_STATIC_TOKEN
    organization_name: str = "emulator"
    organization_domain: str = "emulator.crm.dynamics.com"
    # Service protection API limits, per user, on by default (api-limits.md). None turns one limit off.
    service_protection: bool = True
    requests_per_window: int | None = 6000
    window_seconds: float = 300.0
    max_concurrent: int | None = 52
    execution_ms_per_window: float | None = 1_200_000
    # Emulated seconds per real second: 60 makes the 5-minute window last 5 real seconds.
    time_scale: float = 1.0
    webhook_timeout: float = 60.0
    webhook_retry_delay: float = 0.2
    # Share of webhook deliveries POSTed twice (at-least-once delivery), and the seed deciding which.
    webhook_duplicate_rate: float = 0.0
    webhook_duplicate_seed: int = 0
    webhook_duplicate_delay: float = 0.05
    # Messages a Sales-UI state change (mark paid, cancel) raises. See reference §2.5 (unconfirmed).
    ui_state_messages: tuple[str, ...] = ("Update", "SetStateDynamicEntity")

    def limits(self) -> Limits:
        return Limits(
            self.service_protection,
            self.requests_per_window,
            self.window_seconds,
            self.max_concurrent,
            self.execution_ms_per_window,
            self.time_scale,
        )


class Emulator:
    """Everything the app serves; replaceable state (reset) behind a stable object."""

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        self.options = options or EmulatorOptions()
        self.identity = Identity(
            organization_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, self.options.organization_domain)),
            organization_name=self.options.organization_name,
            organization_domain=self.options.organization_domain,
            business_unit_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, "bu." + self.options.organization_domain)),
        )
        self.app_user_id = APP_USER_ID
        self.tokens: dict[str, str] = {}  # issued token → systemuser id
        self.faults: list[Fault] = []
        self.random_faults: RandomFaults | None = None
        self.request_log: list[dict[str, Any]] = []
        self.solution_components: dict[str, list[tuple[str, str]]] = {}
        self._control = threading.Lock()
        self.protection = ServiceProtection(self.options.limits())
        self.security = security.Security()
        self.state = self._new_state()
        self.webhooks = WebhookDispatcher(
            lambda: self.state, self.identity, self.options.webhook_timeout, self.options.webhook_retry_delay
        )
        self._default_duplicates()
        self.api = WebApi(self)
        self.batch = BatchProcessor(self.api)
        self.ui = UiActions(self)

    def _new_state(self) -> EmulatorState:
        state = EmulatorState()
        sales.install(state)
        state.after_commit.append(lambda events: self.webhooks.on_commit(events))
        customizations.install(state)
        install_platform_rows(state, self.app_user_id)
        security.install(
            state, self.identity.business_unit_id, self.identity.organization_name, [self.app_user_id]
        )
        return state

    def reset(self) -> None:
        self.webhooks.wait_idle(5)
        with self._control:
            self.state = self._new_state()
            self.faults.clear()
            self.random_faults = None
            self.request_log.clear()
            self.security.clear()
            self.solution_components.clear()
            self.webhooks.clear()
            self.protection.reset(self.options.limits())
            self._default_duplicates()

    def _default_duplicates(self) -> None:
        if self.options.webhook_duplicate_rate > 0:
            self.webhooks.set_duplicates(
                self.options.webhook_duplicate_rate,
                self.options.webhook_duplicate_seed,
                self.options.webhook_duplicate_delay,
            )
        else:
            self.webhooks.stop_duplicates()

    def seed(self) -> dict[str, Any]:
        return seed_sample_data(self.state)

    def issue_token(self, user_id: str | None = None) -> str:
        """A bearer token for `user_id` (default: the connector's application user)."""
        token = "emu-" + secrets.token_urlsafe(24)
        self.tokens[token] = str(uuid.UUID(user_id)) if user_id else self.app_user_id
        return token

    def user_for(self, header: str | None) -> str | None:
        """The systemuser a bearer token belongs to; None when the token is missing or unknown."""
        if not header or not header.lower().startswith("bearer "):
            return None
        token = header[7:].strip()
        if token in self.tokens:
            return self.tokens[token]
        if self.options.static_token is not None and token == self.options.static_token:
            return self.app_user_id
        return None

    def token_ok(self, header: str | None) -> bool:
        return self.user_for(header) is not None

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._control:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    fault.fired += 1
                    return fault
        return None

    def fault_response(self, method: str, path: str) -> tuple[ApiResponse | None, Fault | None, str | None]:
        """A counted fault first, then a random one. "slow" faults delay instead of answering."""
        fault = self.take_fault(method, path)
        if fault is not None:
            if fault.kind == "429":
                return _throttle_response(fault.retry_after), fault, "429"
            if fault.kind == "status":
                return _status_fault(fault.status), fault, str(fault.status)
            return None, fault, "slow"
        random_faults = self.random_faults
        kind = random_faults.draw(method, path) if random_faults is not None else None
        if kind is None or random_faults is None:
            return None, None, None
        if kind == "429":
            return _throttle_response(random_faults.retry_after), None, kind
        return _status_fault(int(kind)), None, kind


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _throttle_response(retry_after: float, refusal: Refusal | None = None) -> ApiResponse:
    """429 as service protection answers it; injected ones use the number-of-requests wording."""
    message = (
        refusal.message
        if refusal is not None
        else "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
    )
    code = refusal.code if refusal is not None else REQUESTS_CODE
    return ApiResponse.error(ODataError(429, message, code, {"Retry-After": _seconds_text(retry_after)}))


def _status_fault(status: int) -> ApiResponse:
    return ApiResponse.error(ODataError(status, f"Injected fault: HTTP {status}", INJECTED_FAULT_CODE))


def _to_starlette(response: ApiResponse) -> Response:
    return Response(response.body or None, status_code=response.status, headers=response.headers)


def create_app(emulator: Emulator | None = None) -> Starlette:
    """The ASGI app. `app.state.emulator` is the Emulator behind it."""
    emu = emulator or Emulator()

    async def web_api(request: Request) -> Response:
        path = request.path_params["path"]
        body = await request.body()
        entry: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(),
            "method": request.method,
            "path": path,
            "query": dict(request.query_params),
            "headers": {
                k: v
                for k, v in request.headers.items()
                if k in {"prefer", "if-match", "if-none-match", "mscrm.solutionuniquename", "content-type"}
            },
        }
        emu.request_log.append(entry)
        response = await _serve_api(request, path, body, entry)
        entry["status"] = response.status
        return _to_starlette(response)

    async def _serve_api(request: Request, path: str, body: bytes, entry: dict[str, Any]) -> ApiResponse:
        user = emu.user_for(request.headers.get("authorization"))
        if user is None:
            return ApiResponse(
                401,
                headers={
                    "WWW-Authenticate": f'Bearer authorization_uri="{request.base_url}_emulator/token", '
                    f'resource_id="{str(request.base_url).rstrip("/")}"'
                },
            )
        entry["user"] = user
        emu.protection.arrive(user)
        response = await _protected(request, path, body, user, entry)
        response.headers.update(emu.protection.headers(user))
        return response

    async def _protected(
        request: Request, path: str, body: bytes, user: str, entry: dict[str, Any]
    ) -> ApiResponse:
        # Faults answer before anything runs, so a faulted request never commits.
        faulted, fault, kind = emu.fault_response(request.method, path)
        if kind is not None:
            entry["fault"] = kind
        if faulted is not None:
            return faulted
        decision = emu.protection.admit(user)
        if isinstance(decision, Refusal):
            entry["throttled"] = decision.limit
            return _throttle_response(decision.retry_after, decision)
        try:
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)  # a slow server: counts as execution time
            api_request = ApiRequest(
                request.method,
                path,
                dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()},
                body,
                str(request.base_url).rstrip("/"),
                user,
            )
            # A $batch is one request for the number-of-requests limit; its whole run is execution time.
            handler = emu.batch.handle if path.strip("/") == "$batch" else emu.api.handle
            return await asyncio.to_thread(handler, api_request)
        finally:
            emu.protection.finish(decision)

    async def token(request: Request) -> Response:
        data = await _json_body(request)
        try:
            issued = emu.issue_token(data.get("user_id") if isinstance(data, dict) else None)
        except (ValueError, TypeError, AttributeError):
            return _control_error("user_id must be a GUID")
        return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": 3600})

    async def reset(request: Request) -> Response:
        await asyncio.to_thread(emu.reset)
        return Response(status_code=204)

    async def seed(request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(emu.seed))

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            emu.request_log.clear()
            return Response(status_code=204)
        return JSONResponse(emu.request_log)

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            emu.faults.clear()
            emu.random_faults = None
            return Response(status_code=204)
        if request.method == "GET":
            random_faults = emu.random_faults
            return JSONResponse(
                {
                    "faults": [fault.to_json() for fault in emu.faults],
                    "random": random_faults.to_json() if random_faults is not None else None,
                }
            )
        data = await _json_body(request)
        if not isinstance(data, dict) or data.get("kind") not in {"429", "status", "slow"}:
            return _control_error('kind must be "429", "status" or "slow"')
        fault = Fault(**{key: value for key, value in data.items() if key in Fault.__dataclass_fields__})
        emu.faults.append(fault)
        return JSONResponse(fault.to_json(), status_code=201)

    async def random_faults(request: Request) -> Response:
        if request.method == "DELETE":
            emu.random_faults = None
            return Response(status_code=204)
        if request.method == "GET":
            current = emu.random_faults
            return JSONResponse(current.to_json() if current is not None else None)
        data = await _json_body(request)
        try:
            emu.random_faults = RandomFaults.from_json(data if isinstance(data, dict) else {})
        except (TypeError, ValueError) as exc:
            return _control_error(str(exc))
        return JSONResponse(emu.random_faults.to_json(), status_code=201)

    async def throttling(request: Request) -> Response:
        if request.method == "POST":
            data = await _json_body(request)
            try:
                emu.protection.configure(data if isinstance(data, dict) else {})
            except (TypeError, ValueError) as exc:
                return _control_error(str(exc))
        elif request.method == "DELETE":
            emu.protection.reset()
        return JSONResponse(emu.protection.snapshot())

    async def duplicates(request: Request) -> Response:
        if request.method == "DELETE":
            emu.webhooks.stop_duplicates()
            return Response(status_code=204)
        if request.method == "POST":
            data = await _json_body(request)
            data = data if isinstance(data, dict) else {}
            try:
                emu.webhooks.set_duplicates(
                    data.get("rate"),
                    data.get("seed", 0),
                    data.get("delay", emu.options.webhook_duplicate_delay),
                )
            except (TypeError, ValueError) as exc:
                return _control_error(str(exc))
        return JSONResponse(emu.webhooks.duplicates_json())

    async def security_checks(request: Request) -> Response:
        if request.method == "DELETE":
            emu.security.clear()
            return Response(status_code=204)
        return JSONResponse(emu.security.summary(request.query_params.get("user")))

    async def deliveries(request: Request) -> Response:
        if request.query_params.get("wait", "true") != "false":
            await asyncio.to_thread(emu.webhooks.wait_idle, float(request.query_params.get("timeout", "10")))
        return JSONResponse([delivery.to_json() for delivery in emu.webhooks.deliveries])

    async def async_operations(request: Request) -> Response:
        await asyncio.to_thread(emu.webhooks.wait_idle, 10.0)
        return JSONResponse(emu.webhooks.async_operations)

    async def ui_action(request: Request) -> Response:
        data = await request.json() if (await request.body()) else {}
        action = request.path_params.get("action", "")
        invoice_id = request.path_params.get("invoice_id")
        try:
            result = await asyncio.to_thread(emu.ui.perform, request.method, invoice_id, action, data)
        except ODataError as error:
            return _to_starlette(ApiResponse.error(error))
        return JSONResponse(result)

    routes = [
        Route(API_PREFIX + "{path:path}", web_api, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
        Route("/_emulator/token", token, methods=["POST"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/seed", seed, methods=["POST"]),
        Route("/_emulator/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/faults/random", random_faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/throttling", throttling, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/webhooks/duplicates", duplicates, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/security/checks", security_checks, methods=["GET", "DELETE"]),
        Route("/_emulator/deliveries", deliveries, methods=["GET"]),
        Route("/_emulator/asyncoperations", async_operations, methods=["GET"]),
        Route("/_emulator/ui/invoices", ui_action, methods=["POST"]),
        Route("/_emulator/ui/invoices/{invoice_id}", ui_action, methods=["PATCH", "DELETE"]),
        Route("/_emulator/ui/invoices/{invoice_id}/{action}", ui_action, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = emu
    return app


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _control_error(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


def today() -> date:
    return datetime.now(UTC).date()

"""The Dataverse emulator: Web API + control API (`/_emulator`) as one Starlette app.

State is in memory; `reset` starts over. Auth is a bearer token: a configured static one or one
issued by `POST /_emulator/token`.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.dataverse import sales
from devstack.dataverse.batch import BatchProcessor
from devstack.dataverse.seed import install_platform_rows, seed_sample_data
from devstack.dataverse.store import EmulatorState, ODataError
from devstack.dataverse.ui_actions import UiActions
from devstack.dataverse.webapi import API_PREFIX, ApiRequest, ApiResponse, WebApi
from devstack.dataverse.webhooks import Identity, WebhookDispatcher

DEFAULT_STATIC_TOKEN = "dataverse-emulator-token"
APP_USER_ID = "a11ce000-0000-4000-8000-000000000001"
THROTTLE_MESSAGE = "Number of requests exceeded the limit of 6000 over time window of 300 seconds."


@dataclass
class EmulatorOptions:
    static_token: str | None = DEFAULT_STATIC_TOKEN
    organization_name: str = "emulator"
    organization_domain: str = "emulator.crm.dynamics.com"
    # Service protection: more than `max_requests` Web API requests within `window_seconds` → 429.
    max_requests: int | None = None
    window_seconds: float = 300.0
    throttle_retry_after: int = 1
    webhook_timeout: float = 60.0
    webhook_retry_delay: float = 0.2
    # Messages a Sales-UI state change (mark paid, cancel) raises. See reference §2.5 (unconfirmed).
    ui_state_messages: tuple[str, ...] = ("Update", "SetStateDynamicEntity")


@dataclass
class Fault:
    """Injected failure for the next `count` matching Web API requests."""

    kind: str  # "429" | "status" | "slow"
    count: int = 1
    status: int = 503
    retry_after: int = 1
    delay: float = 0.0
    path_contains: str | None = None
    method: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def matches(self, method: str, path: str) -> bool:
        if self.count <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path_contains and self.path_contains not in path)


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
        self.tokens: set[str] = set()
        self.faults: list[Fault] = []
        self.request_log: list[dict[str, Any]] = []
        self.solution_components: dict[str, list[tuple[str, str]]] = {}
        self._recent: list[float] = []
        self._control = threading.Lock()
        self.state = self._new_state()
        self.webhooks = WebhookDispatcher(
            lambda: self.state, self.identity, self.options.webhook_timeout, self.options.webhook_retry_delay
        )
        self.api = WebApi(self)
        self.batch = BatchProcessor(self.api)
        self.ui = UiActions(self)

    def _new_state(self) -> EmulatorState:
        state = EmulatorState()
        sales.install(state)
        state.after_commit.append(lambda events: self.webhooks.on_commit(events))
        install_platform_rows(state, self.app_user_id)
        return state

    def reset(self) -> None:
        self.webhooks.wait_idle(5)
        with self._control:
            self.state = self._new_state()
            self.faults.clear()
            self.request_log.clear()
            self.solution_components.clear()
            self._recent.clear()
            self.webhooks.clear()

    def seed(self) -> dict[str, Any]:
        return seed_sample_data(self.state)

    def issue_token(self) -> str:
        token = "emu-" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return token

    def token_ok(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("bearer "):
            return False
        token = header[7:].strip()
        return token in self.tokens or (
            self.options.static_token is not None and token == self.options.static_token
        )

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._control:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    return fault
        return None

    def throttled(self) -> bool:
        if self.options.max_requests is None:
            return False
        now = time.monotonic()
        with self._control:
            self._recent = [t for t in self._recent if now - t < self.options.window_seconds]
            if len(self._recent) >= self.options.max_requests:
                return True
            self._recent.append(now)
        return False


def _throttle_response(retry_after: int) -> ApiResponse:
    error = ODataError(429, THROTTLE_MESSAGE, "0x80072322", {"Retry-After": str(retry_after)})
    return ApiResponse.error(error)


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
        response = await _serve_api(request, path, body)
        entry["status"] = response.status
        return _to_starlette(response)

    async def _serve_api(request: Request, path: str, body: bytes) -> ApiResponse:
        if not emu.token_ok(request.headers.get("authorization")):
            return ApiResponse(
                401,
                headers={
                    "WWW-Authenticate": f'Bearer authorization_uri="{request.base_url}_emulator/token", '
                    f'resource_id="{str(request.base_url).rstrip("/")}"'
                },
            )
        fault = emu.take_fault(request.method, path)
        if fault is not None:
            if fault.kind == "429":
                return _throttle_response(fault.retry_after)
            if fault.kind == "status":
                return ApiResponse.error(
                    ODataError(fault.status, f"Injected fault: HTTP {fault.status}", "0x80040216")
                )
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
        if emu.throttled():
            return _throttle_response(emu.options.throttle_retry_after)
        api_request = ApiRequest(
            request.method,
            path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            body,
            str(request.base_url).rstrip("/"),
        )
        handler = emu.batch.handle if path.strip("/") == "$batch" else emu.api.handle
        return await asyncio.to_thread(handler, api_request)

    async def token(request: Request) -> Response:
        return JSONResponse({"access_token": emu.issue_token(), "token_type": "Bearer", "expires_in": 3600})

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
            return Response(status_code=204)
        if request.method == "GET":
            return JSONResponse([fault.__dict__ for fault in emu.faults])
        data = await request.json()
        fault = Fault(**{key: value for key, value in data.items() if key in Fault.__dataclass_fields__})
        emu.faults.append(fault)
        return JSONResponse(fault.__dict__, status_code=201)

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
        Route("/_emulator/deliveries", deliveries, methods=["GET"]),
        Route("/_emulator/asyncoperations", async_operations, methods=["GET"]),
        Route("/_emulator/ui/invoices", ui_action, methods=["POST"]),
        Route("/_emulator/ui/invoices/{invoice_id}", ui_action, methods=["PATCH", "DELETE"]),
        Route("/_emulator/ui/invoices/{invoice_id}/{action}", ui_action, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = emu
    return app


def today() -> date:
    return datetime.now(UTC).date()

"""HTTP triggers under /api on Starlette, enforcing auth levels with keys from local settings."""

from __future__ import annotations

import hmac
import os
from typing import Any

import azure.functions as func
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.host.invocation import invoke

DEFAULT_FUNCTION_KEY = "local-function-key"
DEFAULT_MASTER_KEY = "local-master-key"


def function_key() -> str:
    return os.environ.get("DEVSTACK_FUNCTION_KEY", DEFAULT_FUNCTION_KEY)


def master_key() -> str:
    return os.environ.get("DEVSTACK_MASTER_KEY", DEFAULT_MASTER_KEY)


def supplied_key(request: Request) -> str | None:
    return request.headers.get("x-functions-key") or request.query_params.get("code")


def key_matches(supplied: str | None, *accepted: str) -> bool:
    if supplied is None:
        return False
    return any(hmac.compare_digest(supplied.encode(), key.encode()) for key in accepted)


def is_authorised(auth_level: func.AuthLevel, request: Request) -> bool:
    if auth_level == func.AuthLevel.ANONYMOUS:
        return True
    if auth_level == func.AuthLevel.ADMIN:
        return key_matches(supplied_key(request), master_key())
    return key_matches(supplied_key(request), function_key(), master_key())


def http_route(function: Any) -> Route:
    trigger = function.get_trigger()
    methods = [
        str(method.value if hasattr(method, "value") else method)
        for method in trigger.methods or ["GET", "POST"]
    ]
    auth_level = trigger.auth_level or func.AuthLevel.FUNCTION

    async def endpoint(request: Request) -> Response:
        if not is_authorised(auth_level, request):
            return Response(status_code=401)
        body = await request.body()
        http_request = func.HttpRequest(
            request.method,
            str(request.url),
            headers=dict(request.headers),
            params=dict(request.query_params),
            route_params=dict(request.path_params),
            body=body,
        )
        result = await invoke(
            function, trigger.name, http_request, reason=f"HTTP {request.method} {request.url.path}"
        )
        if result is None:
            return Response(status_code=204)
        headers = {key: value for key, value in result.headers.items() if key.lower() != "content-length"}
        return Response(
            result.get_body(), status_code=result.status_code, headers=headers, media_type=result.mimetype
        )

    return Route(f"/api/{trigger.route}", endpoint, methods=methods, name=function.get_function_name())


def admin_route(functions: dict[str, Any]) -> Route:
    """POST /admin/functions/{name}: run a non-HTTP function now, as the real host allows (master key)."""

    async def endpoint(request: Request) -> Response:
        if not key_matches(supplied_key(request), master_key()):
            return Response(status_code=401)
        name = request.path_params["name"]
        function = functions.get(name)
        if function is None or function.is_http_function():
            return JSONResponse({"error": f"no non-HTTP function named {name!r}"}, status_code=404)
        payload = await request.json() if await request.body() else {}
        trigger = function.get_trigger()
        if trigger.get_binding_name() == "timerTrigger":
            from azure.functions.timer import TimerRequest

            value: Any = TimerRequest(past_due=False)
        else:
            from datetime import UTC, datetime

            from azure.functions.queue import QueueMessage

            value = QueueMessage(
                id="admin",
                body=str(payload.get("input", "")).encode(),
                dequeue_count=1,
                insertion_time=datetime.now(UTC),
                pop_receipt="admin",
            )
        await invoke(function, trigger.name, value, reason="admin invocation")
        return Response(status_code=202)

    return Route("/admin/functions/{name}", endpoint, methods=["POST"])


def status_route(instance: str) -> Route:
    """GET /admin/host/status: the real host's liveness call (master key), naming this instance."""

    async def endpoint(request: Request) -> Response:
        if not key_matches(supplied_key(request), master_key()):
            return Response(status_code=401)
        return JSONResponse({"state": "Running", "instance": instance, "pid": os.getpid()})

    return Route("/admin/host/status", endpoint, methods=["GET"])

"""The front end of several host instances: one URL, requests spread round-robin over the live ones.

As in Azure, a caller never picks an instance. An instance that refuses connections is skipped; one that
dies while answering gives the caller a 502, which Dataverse and Xero retry by their own rules.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Hop-by-hop and framing headers: the proxy sets its own.
_SKIP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
TIMEOUT_SECONDS = 60.0


def balancer_app(backends: Callable[[], list[str]]) -> Starlette:
    """`backends()` names the base URLs of the instances that should be up right now."""
    turn = itertools.count()
    clients: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # No pooled connections: a reused connection to a killed instance would look like a mid-answer death.
        limits = httpx.Limits(max_keepalive_connections=0)
        clients["http"] = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, limits=limits)
        try:
            yield
        finally:
            await clients["http"].aclose()

    async def forward(request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _SKIP}
        live = backends()
        if not live:
            return Response("no instance is running", status_code=503)
        start = next(turn) % len(live)
        for base in live[start:] + live[:start]:
            try:
                answer = await clients["http"].request(
                    request.method,
                    base + request.url.path,
                    params=list(request.query_params.multi_items()),
                    headers=headers,
                    content=body,
                )
            except httpx.ConnectError:
                continue  # not listening (killed, or not up yet): the next instance takes it
            except httpx.HTTPError:
                return Response("the instance stopped while answering", status_code=502)
            out = {k: v for k, v in answer.headers.items() if k.lower() not in _SKIP | {"content-encoding"}}
            return Response(answer.content, status_code=answer.status_code, headers=out)
        return Response("no instance answered", status_code=503)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)

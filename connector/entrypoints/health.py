"""GET /api/health: version and queue reachability."""

from __future__ import annotations

import asyncio

import azure.functions as func

from connector import __version__
from connector.bootstrap import get_app
from connector.entrypoints.responses import json_response

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    queues = await asyncio.to_thread(get_app().queues.reachable)
    healthy = all(queues.values())
    return json_response(
        200 if healthy else 503,
        {"status": "ok" if healthy else "degraded", "version": __version__, "queues": queues},
    )

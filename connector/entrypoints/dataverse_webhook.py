"""POST /api/dataverse/invoices: the Dataverse webhook. Authenticates, reads, routes, enqueues."""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import UTC, datetime

import azure.functions as func

from connector.bootstrap import get_app
from connector.domain.routing import IgnoredEvent, MalformedWebhookError, RoutedEvent, route_change
from connector.entrypoints.dataverse_context import read_change
from connector.entrypoints.responses import json_response
from connector.settings import Settings
from connector.telemetry import get_logger, log_step, traced_invocation, with_trace

bp = func.Blueprint()
logger = get_logger("entrypoints.dataverse_webhook")


def is_authorised(req: func.HttpRequest, settings: Settings) -> bool:
    """WebhookKey auth sends ?code=; HttpHeader auth sends our header. Either must match, in constant time."""
    secret = settings.dataverse_webhook_secret.get_secret_value().encode("utf-8")
    supplied = (
        req.params.get("code"),
        req.headers.get("x-functions-key"),
        req.headers.get(settings.dataverse_webhook_header),
    )
    return any(value is not None and hmac.compare_digest(value.encode("utf-8"), secret) for value in supplied)


@bp.function_name("dataverse_invoice_webhook")
@bp.route(route="dataverse/invoices", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@traced_invocation("dataverse_webhook")
async def dataverse_invoice_webhook(req: func.HttpRequest) -> func.HttpResponse:
    app = get_app()
    if not is_authorised(req, app.settings):
        log_step(logger, "dataverse_webhook.rejected", logging.WARNING, reason="bad or missing secret")
        return json_response(401, {"error": "unauthorized"})
    try:
        change = read_change(req.get_body(), dict(req.headers), datetime.now(UTC))
        routed = route_change(change, app.details_table, await app.own_user_id(), app.connection_table)
        body = with_trace(routed.message).model_dump_json() if isinstance(routed, RoutedEvent) else ""
    except (MalformedWebhookError, ValueError) as exc:  # ValueError: a value pydantic cannot carry
        reason = str(exc) if isinstance(exc, MalformedWebhookError) else "a value cannot be read"
        log_step(logger, "dataverse_webhook.malformed", logging.WARNING, reason=reason)
        return json_response(400, {"error": reason})
    if isinstance(routed, IgnoredEvent):
        log_step(logger, "dataverse_webhook.ignored", reason=routed.reason)
        return json_response(200, {"ignored": routed.reason})
    queue = app.queue_for(type(routed.message))
    await asyncio.to_thread(app.queues.send, queue, body, visibility_timeout=routed.delay_seconds)
    kind, subject_id = routed.subject  # an invoice, or a connection made default in Dynamics
    log_step(
        logger,
        "dataverse_webhook.enqueued",
        logging.INFO,
        queue=queue,
        message_name=routed.message.message_name,
        correlation_id=routed.message.correlation_id,
        **{f"{kind}_id": subject_id},
    )
    return json_response(202, {"queued": queue, f"{kind}Id": str(subject_id)})

"""POST /api/xero/webhook (B1): verify the signature, enqueue one message per event, reply fast and empty."""

from __future__ import annotations

import asyncio
import logging
import uuid

import azure.functions as func

from connector.bootstrap import get_app
from connector.entrypoints.responses import empty_response
from connector.entrypoints.xero_signature import (
    MalformedXeroWebhookError,
    parse_payload,
    signature_is_valid,
    to_messages,
)
from connector.telemetry import get_logger, log_step, traced_invocation, with_trace

bp = func.Blueprint()
logger = get_logger("entrypoints.xero_webhook")


@bp.function_name("xero_webhook")
@bp.route(route="xero/webhook", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@traced_invocation("xero_webhook")
async def xero_webhook(req: func.HttpRequest) -> func.HttpResponse:
    app = get_app()
    body = req.get_body()
    key = app.settings.xero_webhook_key.get_secret_value()
    if not signature_is_valid(body, req.headers.get("x-xero-signature"), key):
        log_step(logger, "xero_webhook.rejected", logging.WARNING, reason="bad or missing signature")
        return empty_response(401)
    try:
        payload = parse_payload(body)
    except MalformedXeroWebhookError as exc:
        # Signed by Xero yet unreadable: refuse, so Xero retries and ops see it.
        log_step(logger, "xero_webhook.malformed", logging.ERROR, reason=str(exc))
        return empty_response(400)
    correlation_id = str(uuid.uuid4())
    messages = [with_trace(message) for message in to_messages(payload, correlation_id)]
    # Side by side: Xero wants its answer within 5 seconds, and a delivery can carry many events.
    queue = app.settings.xero_events_queue
    await asyncio.gather(
        *(asyncio.to_thread(app.queues.send, queue, message.model_dump_json()) for message in messages)
    )
    log_step(
        logger,
        "xero_webhook.accepted",
        events=len(messages),
        intent_to_receive=not messages,
        correlation_id=correlation_id,
    )
    return empty_response(200)

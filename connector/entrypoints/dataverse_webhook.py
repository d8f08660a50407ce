"""POST /api/dataverse/invoices: the Dataverse webhook. Authenticates, routes, enqueues; no sync work."""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import UTC, datetime
from functools import lru_cache

import azure.functions as func

from connector.domain.dataverse_webhook import (
    IgnoredEvent,
    MalformedWebhookError,
    XeroDetailsTable,
    route_dataverse_webhook,
)
from connector.entrypoints.responses import json_response
from connector.provisioning.schema import EXPORT_STATUS_VALUES, build_schema
from connector.runtime import get_runtime
from connector.settings import Settings
from connector.telemetry import get_logger, log_step

bp = func.Blueprint()
CREATE_DELAY_SECONDS = 2
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


@lru_cache(maxsize=4)
def details_table(prefix: str) -> XeroDetailsTable:
    schema = build_schema(prefix)
    return XeroDetailsTable(
        logical_name=schema.table("xero_details").logical_name,
        invoice_column=schema.lookup("details_invoice").logical_name,
        export_status_column=schema.p("exportstatus"),
        retry_values=frozenset({EXPORT_STATUS_VALUES["No"], EXPORT_STATUS_VALUES["Ready to update"]}),
    )


@bp.function_name("dataverse_invoice_webhook")
@bp.route(route="dataverse/invoices", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def dataverse_invoice_webhook(req: func.HttpRequest) -> func.HttpResponse:
    runtime = get_runtime()
    if not is_authorised(req, runtime.settings):
        log_step(logger, "dataverse_webhook.rejected", logging.WARNING, reason="bad or missing secret")
        return json_response(401, {"error": "unauthorized"})
    try:
        routed = route_dataverse_webhook(
            req.get_body(),
            dict(req.headers),
            datetime.now(UTC),
            details_table(runtime.settings.dataverse_publisher_prefix),
        )
    except MalformedWebhookError as exc:
        log_step(logger, "dataverse_webhook.malformed", logging.WARNING, reason=str(exc))
        return json_response(400, {"error": str(exc)})
    if isinstance(routed, IgnoredEvent):
        log_step(logger, "dataverse_webhook.ignored", reason=routed.reason)
        return json_response(200, {"ignored": routed.reason})

    settings = runtime.settings
    queue = settings.invoice_sync_queue if routed.queue == "sync" else settings.invoice_cancel_queue
    # A new invoice has no lines yet: its line events follow at once and do the work. Holding the Create
    # back a moment lets them set it up first, instead of racing it for the same records.
    delay = CREATE_DELAY_SECONDS if routed.message.message_name == "Create" else None
    await asyncio.to_thread(
        runtime.queues.send, queue, routed.message.model_dump_json(), visibility_timeout=delay
    )
    log_step(
        logger,
        "dataverse_webhook.enqueued",
        queue=queue,
        invoice_id=routed.message.invoice_id,
        message_name=routed.message.message_name,
        correlation_id=routed.message.correlation_id,
    )
    return json_response(202, {"queued": queue, "invoiceId": str(routed.message.invoice_id)})

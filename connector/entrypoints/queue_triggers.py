"""Queue triggers: one per queue. Each hands its message to the handler `bootstrap` maps its type to."""

from __future__ import annotations

import json

import azure.functions as func
from pydantic import BaseModel

from connector.domain.messages import (
    ConnectionDefaultMessage,
    InvoiceCancelMessage,
    InvoiceSyncMessage,
    SweepMessage,
    XeroEventMessage,
)
from connector.entrypoints.queue_processing import process_queue_message

bp = func.Blueprint()
CONNECTION = "AzureWebJobsStorage"
# sync-poll carries the connection-level work: sweeps, and a default set in Dynamics (C1), which is rare
# and quick and needs no queue (nor app setting) of its own.
SYNC_POLL_TYPES: dict[str, type[BaseModel]] = {
    "sync.sweep": SweepMessage,
    "connection.default": ConnectionDefaultMessage,
}


@bp.function_name("invoice_sync")
@bp.queue_trigger(arg_name="msg", queue_name="%INVOICE_SYNC_QUEUE%", connection=CONNECTION)
async def invoice_sync(msg: func.QueueMessage) -> None:
    await process_queue_message(msg, InvoiceSyncMessage)


@bp.function_name("invoice_cancel")
@bp.queue_trigger(arg_name="msg", queue_name="%INVOICE_CANCEL_QUEUE%", connection=CONNECTION)
async def invoice_cancel(msg: func.QueueMessage) -> None:
    await process_queue_message(msg, InvoiceCancelMessage)


@bp.function_name("xero_events")
@bp.queue_trigger(arg_name="msg", queue_name="%XERO_EVENTS_QUEUE%", connection=CONNECTION)
async def xero_events(msg: func.QueueMessage) -> None:
    await process_queue_message(msg, XeroEventMessage)


@bp.function_name("sync_poll")
@bp.queue_trigger(arg_name="msg", queue_name="%SYNC_POLL_QUEUE%", connection=CONNECTION)
async def sync_poll(msg: func.QueueMessage) -> None:
    await process_queue_message(msg, sync_poll_type(msg.get_body()))


def sync_poll_type(body: bytes) -> type[BaseModel]:
    """The message type a sync-poll body declares. One that declares neither is taken for a sweep, and so
    poisoned with the usual reason."""
    try:
        declared = json.loads(body).get("type")
    except (ValueError, AttributeError, RecursionError):
        declared = None
    return SYNC_POLL_TYPES.get(declared, SweepMessage) if isinstance(declared, str) else SweepMessage

"""Queue triggers: one per queue. Each hands its message to the handler `bootstrap` maps its type to."""

from __future__ import annotations

import azure.functions as func

from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage, SweepMessage, XeroEventMessage
from connector.entrypoints.queue_processing import process_queue_message

bp = func.Blueprint()
CONNECTION = "AzureWebJobsStorage"


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
    await process_queue_message(msg, SweepMessage)

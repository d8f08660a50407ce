"""Queue triggers: one per queue, each calling its service through the runtime's handlers."""

from __future__ import annotations

import azure.functions as func

from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage, SweepMessage, XeroEventMessage
from connector.entrypoints.queue_processing import process_queue_message
from connector.runtime import get_runtime

bp = func.Blueprint()
CONNECTION = "AzureWebJobsStorage"


@bp.function_name("invoice_sync")
@bp.queue_trigger(arg_name="msg", queue_name="%INVOICE_SYNC_QUEUE%", connection=CONNECTION)
async def invoice_sync(msg: func.QueueMessage) -> None:
    runtime = get_runtime()
    await process_queue_message(
        msg,
        runtime.settings.invoice_sync_queue,
        InvoiceSyncMessage,
        runtime.handlers.sync_invoice,
        runtime.queues,
        max_dequeue_count=runtime.max_dequeue_count,
        on_last_failure=runtime.handlers.sync_gave_up,
    )


@bp.function_name("invoice_cancel")
@bp.queue_trigger(arg_name="msg", queue_name="%INVOICE_CANCEL_QUEUE%", connection=CONNECTION)
async def invoice_cancel(msg: func.QueueMessage) -> None:
    runtime = get_runtime()
    await process_queue_message(
        msg,
        runtime.settings.invoice_cancel_queue,
        InvoiceCancelMessage,
        runtime.handlers.cancel_invoice,
        runtime.queues,
    )


@bp.function_name("xero_events")
@bp.queue_trigger(arg_name="msg", queue_name="%XERO_EVENTS_QUEUE%", connection=CONNECTION)
async def xero_events(msg: func.QueueMessage) -> None:
    runtime = get_runtime()
    await process_queue_message(
        msg,
        runtime.settings.xero_events_queue,
        XeroEventMessage,
        runtime.handlers.apply_xero_event,
        runtime.queues,
    )


@bp.function_name("sync_poll")
@bp.queue_trigger(arg_name="msg", queue_name="%SYNC_POLL_QUEUE%", connection=CONNECTION)
async def sync_poll(msg: func.QueueMessage) -> None:
    runtime = get_runtime()
    await process_queue_message(
        msg, runtime.settings.sync_poll_queue, SweepMessage, runtime.handlers.sweep, runtime.queues
    )

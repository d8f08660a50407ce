"""The sweep timer (I2, B4): puts a sweep message on sync-poll; the queue handler does the work."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import azure.functions as func

from connector.bootstrap import get_app
from connector.domain.messages import ReferenceDataSyncMessage, SweepMessage
from connector.telemetry import get_logger, log_step, traced_invocation, with_trace

bp = func.Blueprint()
logger = get_logger("entrypoints.timers")


@bp.function_name("sweep_timer")
@bp.timer_trigger(arg_name="timer", schedule="%SWEEP_SCHEDULE%", run_on_startup=False, use_monitor=True)
@traced_invocation("sweep_timer")
async def sweep_timer(timer: func.TimerRequest) -> None:
    app = get_app()
    message = with_trace(SweepMessage(scheduled_for=datetime.now(UTC), correlation_id=str(uuid.uuid4())))
    await asyncio.to_thread(app.queues.send, app.settings.sync_poll_queue, message.model_dump_json())
    log_step(logger, "sweep.enqueued", past_due=timer.past_due, correlation_id=message.correlation_id)


@bp.function_name("reference_data_timer")
@bp.timer_trigger(
    arg_name="timer", schedule="%REFERENCE_DATA_SCHEDULE%", run_on_startup=False, use_monitor=True
)
@traced_invocation("reference_data_timer")
async def reference_data_timer(timer: func.TimerRequest) -> None:
    """C4 on a schedule (daily by default): the work is a few calls per connection, so it runs here rather
    than through a queue; a failure is logged and the next run tries again."""
    app = get_app()
    handler = app.handlers.get(ReferenceDataSyncMessage)
    message = ReferenceDataSyncMessage(requested_at=datetime.now(UTC), correlation_id=str(uuid.uuid4()))
    if handler is None:
        log_step(
            logger, "reference_data.not_configured", logging.WARNING, correlation_id=message.correlation_id
        )
        return
    await handler(message)
    log_step(
        logger, "reference_data.timer_done", past_due=timer.past_due, correlation_id=message.correlation_id
    )

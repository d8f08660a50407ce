"""The sweep timer (I2, B4): puts a sweep message on sync-poll; the queue handler does the work."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import azure.functions as func

from connector.bootstrap import get_app
from connector.domain.messages import SweepMessage
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

"""What every queue trigger does around its service call: parse, poison, wait out 429s, retry."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
from pydantic import BaseModel, ValidationError

from connector.bootstrap import App, GaveUpHandler, get_app
from connector.domain.messages import parse_message
from connector.errors import DeferredError, MalformedMessageError, RateLimitedError
from connector.telemetry import get_logger, handler_span, log_step, redact_text
from connector.telemetry.tracing import HandlerSpan

logger = get_logger("entrypoints.queue")


def poison_queue(queue: str) -> str:
    return f"{queue}-poison"


def poison_body(msg: func.QueueMessage, queue: str, reason: str) -> str:
    """The original body plus the context ops need to understand and replay it."""
    return json.dumps(
        {
            "reason": reason,
            "queue": queue,
            "message_id": msg.id,
            "dequeue_count": msg.dequeue_count,
            "poisoned_at": datetime.now(UTC).isoformat(),
            "body": msg.get_body().decode("utf-8", errors="replace"),
        }
    )


async def process_queue_message(msg: func.QueueMessage, message_type: type[BaseModel]) -> None:
    """Run the app's handler for `message_type` on the parsed message.

    - Malformed: straight to `<queue>-poison` with the reason; never retried.
    - DeferredError (429s, claims held elsewhere): the same body goes back on the queue, hidden for
      Retry-After seconds, so the wait does not use up the dequeue count.
    - Anything else raises: the runtime retries, then poisons after maxDequeueCount; on that last attempt
      the app's gave-up handler runs first (for invoices: export status Failed, with sync history).
    """
    app = get_app()
    queue, queues = app.queue_for(message_type), app.queues
    body = msg.get_body()
    try:
        parsed = parse_message(body)
        if not isinstance(parsed, message_type):
            raise MalformedMessageError(f"expected a {message_type.__name__}, got {type(parsed).__name__}")
    except (ValidationError, MalformedMessageError) as exc:
        reason = _reason(exc)
        await asyncio.to_thread(queues.send, poison_queue(queue), poison_body(msg, queue, reason))
        log_step(logger, "queue.poisoned", logging.ERROR, queue=queue, message_id=msg.id, reason=reason)
        return

    with handler_span(parsed, queue=queue, message_id=msg.id, attempt=msg.dequeue_count) as span:
        await _handle(app, parsed, msg, queue, span)


async def _handle(app: App, parsed: Any, msg: func.QueueMessage, queue: str, span: HandlerSpan) -> None:
    message_type, queues = type(parsed), app.queues
    correlation_id = getattr(parsed, "correlation_id", None)
    try:
        result = await app.handlers[message_type](parsed)
    except DeferredError as exc:
        delay = max(1, math.ceil(exc.retry_after))
        # The same body, traceparent included: the retry continues the same trace.
        await asyncio.to_thread(queues.send, queue, msg.get_body().decode("utf-8"), visibility_timeout=delay)
        rate_limited = isinstance(exc, RateLimitedError)
        span.set_outcome("rate_limited" if rate_limited else "deferred")
        log_step(
            logger,
            "queue.rate_limited" if rate_limited else "queue.deferred",
            logging.WARNING,
            queue=queue,
            message_id=msg.id,
            retry_after=delay,
            reason=str(exc),
            correlation_id=correlation_id,
        )
        return
    except Exception as exc:
        last = (msg.dequeue_count or 0) >= app.max_dequeue_count
        span.set_outcome("poisoned" if last else "retrying")
        gave_up = app.gave_up.get(message_type)
        if gave_up is not None and last:
            await _give_up(gave_up, parsed, exc, queue)
        log_step(
            logger,
            "queue.failed",
            logging.WARNING,
            queue=queue,
            message_id=msg.id,
            dequeue_count=msg.dequeue_count,
            error=type(exc).__name__,
            correlation_id=correlation_id,
        )
        raise
    span.set_outcome("ok", result)
    log_step(logger, "queue.done", queue=queue, message_id=msg.id, correlation_id=correlation_id)


async def _give_up(hook: GaveUpHandler, message: Any, exc: Exception, queue: str) -> None:
    """The runtime is about to poison the message: tell the user, but never hide the original error."""
    try:
        # The reason goes into the invoice's sync history, for users to read: never with a secret.
        await hook(message, redact_text(f"{type(exc).__name__}: {exc}"))
    except Exception as hook_error:
        log_step(logger, "queue.give_up_failed", logging.ERROR, queue=queue, error=type(hook_error).__name__)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"malformed message: {where}: {first['msg']}"
    return f"malformed message: {exc}"

"""What every queue trigger does around its service call: parse, poison, wait out 429s, retry."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import azure.functions as func
from pydantic import BaseModel, ValidationError

from connector.domain.messages import parse_message
from connector.errors import DeferredError, MalformedMessageError, RateLimitedError
from connector.ports import QueueSender
from connector.telemetry import get_logger, log_step

logger = get_logger("entrypoints.queue")

M = TypeVar("M", bound=BaseModel)


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


async def process_queue_message(
    msg: func.QueueMessage,
    queue: str,
    message_type: type[M],
    handler: Callable[[M], Awaitable[None]],
    queues: QueueSender,
    *,
    max_dequeue_count: int = 5,
    on_last_failure: Callable[[M, str], Awaitable[None]] | None = None,
) -> None:
    """Run `handler` on the parsed message.

    - Malformed: straight to `<queue>-poison` with the reason; never retried.
    - DeferredError (429s, claims held elsewhere): the same body goes back on the queue, hidden for
      Retry-After seconds, so the wait does not use up the dequeue count.
    - Anything else raises: the runtime retries, then poisons after maxDequeueCount; on that last attempt
      `on_last_failure` runs first (for invoices: export status Failed, with sync history).
    """
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

    correlation_id = getattr(parsed, "correlation_id", None)
    try:
        await handler(parsed)
    except DeferredError as exc:
        delay = max(1, math.ceil(exc.retry_after))
        await asyncio.to_thread(queues.send, queue, body.decode("utf-8"), visibility_timeout=delay)
        log_step(
            logger,
            "queue.rate_limited" if isinstance(exc, RateLimitedError) else "queue.deferred",
            logging.WARNING,
            queue=queue,
            message_id=msg.id,
            retry_after=delay,
            reason=str(exc),
            correlation_id=correlation_id,
        )
        return
    except Exception as exc:
        if on_last_failure is not None and (msg.dequeue_count or 0) >= max_dequeue_count:
            await _give_up(on_last_failure, parsed, exc, queue)
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
    log_step(logger, "queue.done", queue=queue, message_id=msg.id, correlation_id=correlation_id)


async def _give_up(hook: Callable[[M, str], Awaitable[None]], message: M, exc: Exception, queue: str) -> None:
    """The runtime is about to poison the message: tell the user, but never hide the original error."""
    try:
        await hook(message, f"{type(exc).__name__}: {exc}")
    except Exception as hook_error:
        log_step(logger, "queue.give_up_failed", logging.ERROR, queue=queue, error=type(hook_error).__name__)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"malformed message: {where}: {first['msg']}"
    return f"malformed message: {exc}"

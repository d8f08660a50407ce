"""Calling a user function: async or sync, with the invocation log line the real host writes."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from typing import Any

logger = logging.getLogger("devstack.host")


async def invoke(function: Any, trigger_arg: str, value: Any, reason: str) -> Any:
    """Run one invocation; re-raise the function's exception after logging it."""
    name = function.get_function_name()
    user_function = function.get_user_function()
    invocation_id = uuid.uuid4()
    logger.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", name, reason, invocation_id)
    started = time.perf_counter()
    try:
        if inspect.iscoroutinefunction(user_function):
            result = await user_function(**{trigger_arg: value})
        else:
            result = await asyncio.to_thread(user_function, **{trigger_arg: value})
    except Exception as exc:
        duration = (time.perf_counter() - started) * 1000
        logger.warning(
            "Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms): %s: %s",
            name,
            invocation_id,
            duration,
            type(exc).__name__,
            exc,
        )
        raise
    duration = (time.perf_counter() - started) * 1000
    logger.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)", name, invocation_id, duration)
    return result

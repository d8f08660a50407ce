"""Every message a handler enqueues carries the handler's trace, so the next hop continues it."""

from __future__ import annotations

import json
from typing import Any

from connector.telemetry.state import STATE
from connector.telemetry.tracing import current_traceparent


def with_traceparent(body: str) -> str:
    """A queue message body (JSON with a `type`) with the current traceparent, unless it has one."""
    if not STATE.enabled or '"type"' not in body:
        return body
    traceparent = current_traceparent()
    if traceparent is None:
        return body
    try:
        message = json.loads(body)
    except ValueError:
        return body
    if not isinstance(message, dict) or "type" not in message or message.get("traceparent"):
        return body
    message["traceparent"] = traceparent
    return json.dumps(message, separators=(",", ":"))


class TraceContextQueues:
    """Wraps a QueueSender (duck-typed: telemetry depends on nothing of ours)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def send(self, queue: str, body: str, *, visibility_timeout: int | None = None) -> None:
        self._inner.send(queue, with_traceparent(body), visibility_timeout=visibility_timeout)

    def reachable(self) -> dict[str, bool]:
        result: dict[str, bool] = self._inner.reachable()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

"""Whether telemetry is on, which providers it goes to, and what the current handler has learned."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class State:
    # Off until configure_telemetry (or a test) turns it on: then spans, events and metrics are recorded.
    enabled: bool = False
    mode: str = "off"
    # None: the global providers (the Functions worker's, or the ones configure_telemetry set).
    tracer_provider: Any = None
    meter_provider: Any = None


STATE = State()


@dataclass
class Journey:
    """One handler invocation: what its steps' metrics need that the steps themselves do not say.

    Shared by reference with the worker threads the handler starts (asyncio.to_thread copies the
    context, not this object), so what one learns the others see.
    """

    queue: str
    message_type: str
    event_time: datetime | None = None  # when the event the message reports happened
    connection: str | None = None


JOURNEY: ContextVar[Journey | None] = ContextVar("connector_journey", default=None)


def use_providers(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Tests and the demo: record to these providers. Both None: telemetry off again."""
    STATE.tracer_provider, STATE.meter_provider = tracer_provider, meter_provider
    STATE.enabled = tracer_provider is not None or meter_provider is not None
    STATE.mode = "providers" if STATE.enabled else "off"

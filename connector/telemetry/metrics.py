"""Custom metrics, with low-cardinality dimensions only (connection, queue, operation, outcome, status).

Steps logged with `log_step` feed most of them (see `record_step`), so the services need not know.
Dimension values are scrubbed and cut short: a metric dimension is never where a secret or an id goes.
"""

from __future__ import annotations

import sys
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connector.telemetry.redaction import redact_text
from connector.telemetry.state import JOURNEY, STATE, Journey

METER_NAME = "connector"
XERO_DAY_LIMIT = 5000  # calls per organisation per day
_MAX_DIMENSION = 64

SYNCED = "connector.invoices.synced"
FAILED = "connector.invoices.failed"
ADOPTED = "connector.invoices.adopted"
SYNC_LATENCY = "connector.sync.latency"
XERO_EVENTS = "connector.xero_events.applied"
XERO_CALLS = "connector.xero.calls"
XERO_RATE_LIMITED = "connector.xero.rate_limited"
XERO_DAY_BUDGET = "connector.xero.day_budget_used_ratio"
TOKEN_REQUESTS = "connector.xero.token_requests"  # noqa: S105 - a metric name
DATAVERSE_THROTTLED = "connector.dataverse.throttled"
RATE_LIMIT_WAITS = "connector.rate_limit.waits"
RATE_LIMIT_WAIT_SECONDS = "connector.rate_limit.wait_seconds"
DEFERRED = "connector.queue.deferred"
DEQUEUE_COUNT = "connector.queue.dequeue_count"
HANDLER_DURATION = "connector.handler.duration"
POISONED = "connector.poisoned"
NEEDS_ATTENTION = "connector.deletes.needs_attention"
NEEDS_RECONNECT = "connector.needs_reconnect"
STEPS = "connector.steps"

_ATTEMPT_BUCKETS = (1, 2, 3, 4, 5, 6)
_SECONDS_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
_COUNTERS = {
    SYNCED: "Invoices sent to Xero (outcome: created, updated, adopted).",
    FAILED: "Invoices whose sync or cancel Xero refused, or that ran out of retries.",
    ADOPTED: "Invoices found already in Xero from an attempt that crashed before writing back.",
    XERO_EVENTS: "Xero webhook events applied to Dynamics, by outcome.",
    XERO_CALLS: "Xero API calls, by operation and HTTP status.",
    XERO_RATE_LIMITED: "Xero 429 responses.",
    TOKEN_REQUESTS: "Requests to Xero's token endpoint (refreshes), by HTTP status.",
    DATAVERSE_THROTTLED: "Dataverse 429 responses (service protection limits).",
    RATE_LIMIT_WAITS: "Messages put back on their queue to wait out a rate limit.",
    DEFERRED: "Messages put back on their queue for another reason (an invoice claimed elsewhere).",
    POISONED: "Messages moved to a poison queue (reason: malformed, retries_exhausted).",
    NEEDS_ATTENTION: "Deletes or cancels a person must finish in Xero.",
    NEEDS_RECONNECT: "Connections Xero stopped accepting: an admin must reconnect.",
    STEPS: "Every logged step, by name and level.",
}
_HISTOGRAMS = {
    SYNC_LATENCY: ("s", "Event to effect: Dynamics change to Xero invoice, Xero event to Dynamics."),
    RATE_LIMIT_WAIT_SECONDS: (
        "s",
        "Rate-limit waits: a message put back on its queue (where=requeued), or the Dataverse transport "
        "sleeping before a retry (where=dataverse_transport).",
    ),
    DEQUEUE_COUNT: ("1", "The delivery attempt of each queue message handled."),
    HANDLER_DURATION: ("s", "Queue handler duration, by queue and outcome."),
}

_SYNCED_STEPS = {"sync.created": "created", "sync.updated": "updated", "sync.adopted": "adopted"}
_FAILED_STEPS = {"sync.failed": "sync", "sync.gave_up": "sync_gave_up", "cancel.failed": "cancel"}
_BACK_SYNC_LATENCY = frozenset({"xero_event.paid", "xero_event.updated"})


@dataclass
class _Instruments:
    counters: dict[str, Any]
    histograms: dict[str, Any]
    day_budget: Any


_lock = threading.Lock()
# Keyed by the provider itself, weakly: an id() key is reused once a provider is collected, and a new
# provider would then get the old one's dead instruments.
_cache: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()


def _instruments() -> _Instruments | None:
    if not STATE.enabled:
        return None
    provider = STATE.meter_provider
    if provider is None:
        from opentelemetry import metrics

        provider = metrics.get_meter_provider()
    found = _cache.get(provider)
    if found is not None:
        return found
    with _lock:
        meter = provider.get_meter(METER_NAME)
        made = _Instruments(
            counters={name: meter.create_counter(name, "1", text) for name, text in _COUNTERS.items()},
            histograms={
                name: meter.create_histogram(
                    name,
                    unit,
                    text,
                    explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS if unit == "s" else _ATTEMPT_BUCKETS,
                )
                for name, (unit, text) in _HISTOGRAMS.items()
            },
            day_budget=meter.create_gauge(
                XERO_DAY_BUDGET, "1", "Share of the organisation's 5,000 daily Xero calls used."
            ),
        )
        _cache[provider] = made
        return made


def dimension(value: object) -> str:
    return redact_text(str(value))[:_MAX_DIMENSION] if value not in (None, "") else "unknown"


def _dims(**values: object) -> dict[str, str]:
    return {key: dimension(value) for key, value in values.items()}


def count(name: str, amount: float = 1, **dims: object) -> None:
    found = _instruments()
    if found is not None:
        found.counters[name].add(amount, _dims(**dims))


def observe(name: str, value: float, **dims: object) -> None:
    found = _instruments()
    if found is not None:
        found.histograms[name].record(value, _dims(**dims))


def record_step(step: str, fields: dict[str, Any], level_name: str, journey: Journey | None) -> None:
    """The step-name → metric mapping: services log steps, and these counters follow."""
    if not STATE.enabled:
        return
    count(STEPS, step=step, level=level_name)
    connection = fields.get("connection") or (journey.connection if journey else None)
    queue = fields.get("queue") or (journey.queue if journey else None)
    if step in _SYNCED_STEPS:
        outcome = _SYNCED_STEPS[step]
        count(SYNCED, connection=connection, outcome=outcome)
        if outcome == "adopted":
            count(ADOPTED, connection=connection)
        _latency(journey, "dynamics_to_xero", connection)
    elif step in _FAILED_STEPS:
        count(FAILED, connection=connection, operation=_FAILED_STEPS[step])
    elif step.startswith("xero_event."):
        count(XERO_EVENTS, connection=connection, outcome=step.removeprefix("xero_event."))
        if step in _BACK_SYNC_LATENCY:
            _latency(journey, "xero_to_dynamics", connection)
    elif step.endswith(".needs_attention"):
        count(NEEDS_ATTENTION, connection=connection, operation=step.removesuffix(".needs_attention"))
    elif step == "connection.needs_reconnect":
        count(NEEDS_RECONNECT, connection=connection)
    elif step == "queue.poisoned":
        count(POISONED, queue=queue, reason="malformed")
    elif step == "queue.rate_limited":
        count(RATE_LIMIT_WAITS, queue=queue)
        observe(RATE_LIMIT_WAIT_SECONDS, float(fields.get("retry_after") or 0), where="requeued", queue=queue)
    elif step == "queue.deferred":
        count(DEFERRED, queue=queue)


def _latency(journey: Journey | None, direction: str, connection: object) -> None:
    if journey is None or journey.event_time is None:
        return
    event_time = journey.event_time
    if event_time.tzinfo is None:
        event_time = event_time.replace(tzinfo=UTC)
    seconds = max(0.0, (datetime.now(UTC) - event_time).total_seconds())
    observe(SYNC_LATENCY, seconds, direction=direction, connection=connection)


def record_handler(queue: str, outcome: str, seconds: float, attempt: int | None) -> None:
    observe(HANDLER_DURATION, seconds, queue=queue, outcome=outcome)
    if attempt is not None:
        observe(DEQUEUE_COUNT, attempt, queue=queue)
    if outcome == "poisoned":
        count(POISONED, queue=queue, reason="retries_exhausted")


def record_xero_call(
    operation: str, connection_id: str, headers: object = None, day_remaining: int | None = None
) -> None:
    """One Xero API call, where the adapter counts it: on its error path that is inside the `except`
    block, so the exception being handled gives the status (the adapter passes none)."""
    found = _instruments()
    if found is None:
        return
    error = sys.exc_info()[1]
    if error is not None and headers is not None and getattr(error, "headers", None) is not headers:
        error = None  # an exception some caller further up is handling, not this call's
    status = _status_of(error)
    found.counters[XERO_CALLS].add(1, _dims(connection_id=connection_id, operation=operation, status=status))
    if status == "429":
        found.counters[XERO_RATE_LIMITED].add(1, _dims(connection_id=connection_id, operation=operation))
    if day_remaining is not None:
        used = min(1.0, max(0.0, 1 - day_remaining / XERO_DAY_LIMIT))
        found.day_budget.set(used, _dims(connection_id=connection_id))


def _status_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    # xero-python's HTTPStatusException: the status is on the response (its `.status` parses the body).
    status = getattr(getattr(error, "http_resp", None), "status", None) or getattr(error, "status_code", None)
    return str(status) if isinstance(status, int) else type(error).__name__


def record_dataverse_retry(operation: str, status: int, wait_seconds: float) -> None:
    """The Dataverse transport is about to wait and retry: a 429 is throttling, a 5xx is not."""
    if status == 429:
        count(DATAVERSE_THROTTLED, operation=operation)
        journey = JOURNEY.get()
        queue = journey.queue if journey else None
        observe(RATE_LIMIT_WAIT_SECONDS, wait_seconds, where="dataverse_transport", queue=queue)


def record_token_request(status: int | None) -> None:
    count(TOKEN_REQUESTS, status=status if status is not None else "error")

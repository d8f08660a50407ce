"""The kill points: a host SIGKILLed after Xero committed a write and before the host heard back."""

from __future__ import annotations

import logging
import time
from typing import Any

from devstack.chaos.context import Run
from devstack.chaos.convergence import trigger
from devstack.chaos.processes import restart, senders

logger = logging.getLogger("devstack.chaos")
CREATE_PATH = r"/Invoices$"  # PUT: one invoice or a batch; updates are POSTs
CREDIT_NOTE_PATH = r"/CreditNotes$"


def _key(held: dict[str, Any]) -> str:
    return str(held.get("idempotency_key") or held.get("Idempotency-Key") or held.get("key") or "")


def describe(held: dict[str, Any]) -> str:
    key = _key(held)
    return f"{held.get('method', '?')} {held.get('path', '?')}" + (f" ({key[:40]}…)" if key else "")


def hold_and_kill(
    run: Run, point: str, method: str, path: str, before_wait: Any = None
) -> dict[str, Any] | None:
    """Hold the next matching write, SIGKILL whoever sent it, let the answer go, restart the dead.
    Returns the held request, or None when nothing matched in time (the rule is then removed)."""
    run.xero.hold(method, path)
    if before_wait is not None:
        before_wait()
    held = run.xero.wait_held(run.config.kill_wait_seconds)
    if held is None:
        run.xero.clear_rules()
        run.note(f"{point}: no {method} {path} was held within {run.config.kill_wait_seconds:.0f}s")
        return None
    victims = senders(held, run.platform.hosts)
    run.kills.kill(point, victims, describe(held))
    run.xero.release()
    restart(victims)
    return held


def kill_between_create_and_write_back(run: Run) -> None:
    hold_and_kill(run, "create", "PUT", CREATE_PATH)


def kill_mid_batch(run: Run, created: Any, outage_invoices: int) -> None:
    """An outage (every instance stopped) while Sales users keep saving, so those invoices' webhooks fail
    and only the sweep can find them; then the sweep's batch create held and its host killed."""
    hosts = [host for host in run.platform.hosts if host.alive]
    # Stopped, not killed: a kill here would leave claims and Xero call slots that stall the batch.
    forced = sum(1 for host in hosts if not host.stop(timeout=20))
    run.note(
        f"outage: {', '.join(h.instance for h in hosts)} stopped for {outage_invoices} invoices"
        + (f" ({forced} did not stop within 20s and were killed)" if forced else "")
    )
    target = created() + outage_invoices
    deadline = time.monotonic() + 60
    while created() < target and time.monotonic() < deadline:
        time.sleep(0.1)
    run.pause.set()  # a lull, so the sweep's batch is the next create Xero sees
    try:
        restart(hosts)
        for _ in range(3):
            held = hold_and_kill(
                run, "batch", "PUT", CREATE_PATH, lambda: trigger(run.platform.host_url, "sweep_timer")
            )
            if held is None or "batch" in _key(held) or not _key(held):
                return
            # A single create got there first: that was a create/write-back kill; try again for the batch.
            run.kills.events[-1]["point"] = "create"
        run.note("batch: the sweep's batch create was never the held request")
    finally:
        run.pause.clear()


def kill_mid_cancel(run: Run, cancel_first: Any) -> None:
    """The credit note of the first cancel held; its host killed before it hears Xero's answer."""
    hold_and_kill(run, "cancel", "PUT", CREDIT_NOTE_PATH, cancel_first)

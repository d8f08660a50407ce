"""The kill points: a host SIGKILLed after Xero committed a write and before the host heard back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from devstack.chaos.context import Run
from devstack.chaos.convergence import trigger
from devstack.chaos.processes import restart, senders

logger = logging.getLogger("devstack.chaos")
CREATE_PATH = r"/Invoices$"  # PUT: one invoice or a batch; updates are POSTs
CREDIT_NOTE_PATH = r"/CreditNotes$"
Held = dict[str, Any]


def _key(held: Held) -> str:
    return str(held.get("idempotency_key") or "")


def is_batch(held: Held) -> bool:
    """The sweep's batch create: the connector names the operation at the start of its keys."""
    return "create-batch" in _key(held)


def describe(held: Held) -> str:
    key = _key(held)
    return f"{held.get('method', '?')} {held.get('path', '?')}" + (f" ({key[:40]}…)" if key else "")


def hold_and_kill(
    run: Run,
    point: str,
    method: str,
    path: str,
    *,
    before_wait: Callable[[], object] | None = None,
    wanted: Callable[[Held], bool] | None = None,
    wait_seconds: float | None = None,
) -> Held | None:
    """Hold matching writes until one is `wanted` (others get their answer, a little late), SIGKILL whoever
    sent it, drop its answer, restart the dead. None when none came within the wait (the rule is removed)."""
    run.xero.hold(method, path, count=1 if wanted is None else 1000)
    if before_wait is not None:
        before_wait()
    chosen: Held | None = None
    wait_seconds = wait_seconds or run.config.kill_wait_seconds
    deadline = time.monotonic() + wait_seconds
    while chosen is None and time.monotonic() < deadline:
        for held in run.xero.held():
            if wanted is None or wanted(held):
                chosen = held
                break
            run.xero.release([held["id"]], answer=True)
        else:
            time.sleep(0.05)
    if chosen is None:
        run.xero.clear_rules()
        run.note(f"{point}: no {method} {path} was held within {wait_seconds:.0f}s")
        return None
    victims = senders(chosen, run.platform.hosts, run.taps)
    run.kills.kill(point, victims, describe(chosen))
    run.xero.release([chosen["id"]], answer=False)
    if wanted is not None:  # the rule's other shots must not catch anything after this
        others = [held["id"] for held in run.xero.held()]
        if others:
            run.xero.release(others, answer=True)
        run.xero.clear_rules()
    restart(victims)
    return chosen


def kill_between_create_and_write_back(run: Run) -> None:
    hold_and_kill(run, "create", "PUT", CREATE_PATH)


def kill_mid_batch(run: Run, created: Callable[[], int], outage_invoices: int) -> None:
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
    restart(hosts)
    hold_and_kill(
        run,
        "batch",
        "PUT",
        CREATE_PATH,
        before_wait=lambda: trigger(run.platform.host_url, "sweep_timer"),
        wanted=is_batch,
        # The sweep reads every invoice it sends, behind the backlog, before its one batch call.
        wait_seconds=run.config.kill_wait_seconds * 3,
    )


def kill_mid_cancel(run: Run, cancel_first: Callable[[], object]) -> None:
    """The credit note of the first cancel held; its host killed before it hears Xero's answer."""
    hold_and_kill(run, "cancel", "PUT", CREDIT_NOTE_PATH, before_wait=cancel_first)

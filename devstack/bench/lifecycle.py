"""An invoice's life on the local platform, counted stage by stage to its end: created in Dynamics,
approved in Xero, paid in part, paid in full; and a cancel of an approved invoice.

Each stage is counted until the connector is quiet again (write-backs and the webhooks its own writes
cause included). Then the sweep timer fires once, with reconcile allowed on every sweep
(RECONCILE_MIN_INTERVAL_SECONDS=0): in production the stages are hours apart and each one's changes are
pulled by one reconcile. What that sweep costs beyond an idle sweep is the stage's reconcile share.

People act in Xero some time after the connector last wrote there: the connector takes a Xero event
that close behind its own write for the echo of it, so a stage acting in Xero waits that long first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from connector.settings import get_settings
from devstack.bench.meter import BlobCounter, Mark, Meter, Queues, Window, settle, wait_until
from devstack.bench.world import (
    CANCELED,
    CUSTOMERS,
    EXPORT_YES,
    INVOICE_TOTAL,
    PAID,
    DynamicsInvoice,
    create_invoice,
    dynamics_invoices,
    fire_sweep,
    xero_invoices,
)
from devstack.local_platform import LocalPlatform
from devstack.scenario import Scenario

logger = logging.getLogger("devstack.bench")
PART_PAYMENT = (INVOICE_TOTAL / 2).quantize(Decimal("0.01"))
SWEEPS_PER_STAGE = 1
# Online links left for later (the budget was contended) are fetched by the sweeps that follow: a stage is
# counted until every approved invoice has its link, up to this many sweeps.
MAX_SWEEPS_PER_STAGE = 10
STAGE_TIMEOUT = 900.0  # seconds for one stage to go quiet; the Xero minute budget can stretch a burst
XERO_WRITES = ("PUT", "POST", "DELETE")
# The balance refresh reads the contacts changed since the last sweep, 50 a call, once per sweep: a cost
# per organisation and sweep interval that does not grow with the invoices, so it is counted apart.
BALANCE_REFRESH = "GET /Contacts?ids"


def echo_window() -> float:
    """Seconds after its own Xero write in which the connector ignores a Xero event (and a margin)."""
    from connector.services import back_sync

    window = getattr(back_sync, "OWN_WRITE_ECHO", timedelta(seconds=30))
    return float(window.total_seconds()) + 3.0


@dataclass
class Stage:
    name: str
    invoices: int
    events: Window  # the stage itself, to the end
    sweeps: Window  # the sweeps that follow it
    sweeps_run: int
    landed: int  # invoices that reached the stage's state on both sides
    note: str = ""

    def reconcile(self, idle: Window) -> tuple[float, float]:
        """Xero and Dataverse calls of the following sweeps beyond what idle sweeps cost."""
        return (
            self.sweeps.xero - idle.xero * self.sweeps_run,
            self.sweeps.dataverse - idle.dataverse * self.sweeps_run,
        )

    def balance_refreshes(self) -> int:
        return self.events.xero_kinds[BALANCE_REFRESH] + self.sweeps.xero_kinds[BALANCE_REFRESH]


@dataclass
class Lifecycle:
    title: str
    invoices: int
    idle_sweep: Window  # one idle sweep (the mean of two)
    stages: list[Stage] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # Dynamics create → Xero invoice, seconds
    timeouts: int = 0  # settles that ran out of time: figures are then a floor

    def per_invoice(self, stages: list[str] | None = None) -> tuple[float, float, float, float]:
        """(Xero, Dataverse) calls per invoice for the stages' events alone, and with reconcile."""
        chosen = [s for s in self.stages if stages is None or s.name in stages]
        xero = sum(s.events.xero for s in chosen)
        dataverse = sum(s.events.dataverse for s in chosen)
        extra = [s.reconcile(self.idle_sweep) for s in chosen]
        n = max(1, self.invoices)
        return (
            xero / n,
            dataverse / n,
            (xero + sum(x for x, _ in extra)) / n,
            (dataverse + sum(d for _, d in extra)) / n,
        )

    def balance_refreshes(self) -> int:
        return sum(stage.balance_refreshes() for stage in self.stages)

    def sweeps_run(self) -> int:
        return sum(stage.sweeps_run for stage in self.stages)

    def own_xero_per_invoice(self) -> float:
        """Xero calls per invoice, reconcile included, without the balance refresh (counted per sweep)."""
        return self.per_invoice()[2] - self.balance_refreshes() / max(1, self.invoices)


class Session:
    """One platform and organisation, measured."""

    def __init__(self, local: LocalPlatform, scenario: Scenario, blobs: BlobCounter | None) -> None:
        assert local.azurite is not None and local.xero is not None
        self.local = local
        self.scenario = scenario
        self.xero = local.xero
        self.meter = Meter(local, scenario.tenant_id, blobs)
        self.queues = Queues(local.azurite.connection_string, get_settings().queue_names)
        self.timeouts = 0
        self.started: Mark = self.meter.mark()
        self.idle: Window | None = None  # one idle sweep, measured after the warm-up
        self.last_xero_write = 0.0  # monotonic time the connector last wrote to Xero (or later)

    def settle(self, timeout: float = STAGE_TIMEOUT) -> None:
        if not settle(self.local, self.meter, self.queues, timeout=timeout):
            self.timeouts += 1
            logger.warning("the connector was still busy after %.0fs; counting what it did so far", timeout)

    def counted(self, act: Callable[[], object]) -> Window:
        start = self.meter.mark()
        act()
        self.settle()
        window = self.meter.since(start)
        if any(kind.split()[0] in XERO_WRITES for kind in window.xero_kinds):
            self.last_xero_write = time.monotonic()
        return window

    def as_a_person(self) -> None:
        """Wait until a change in Xero cannot be taken for the echo of the connector's own write."""
        time.sleep(max(0.0, self.last_xero_write + echo_window() - time.monotonic()))

    def sweeps(self, times: int = SWEEPS_PER_STAGE) -> Window:
        total = Window.empty()
        for _ in range(times):
            total = total + self.counted(lambda: fire_sweep(self.local))
        return total

    def idle_sweep(self) -> Window:
        """What a sweep costs with nothing new (once per session; the mean of two), without the balance
        refresh of what the warm-up changed."""
        if self.idle is None:
            two = self.sweeps(2)
            self.idle = Window(
                two.seconds / 2,
                (two.xero - two.xero_kinds[BALANCE_REFRESH]) // 2,  # refreshes are counted apart
                two.xero_429,
                two.xero_kinds,
                two.dataverse // 2,
                two.dataverse_throttled,
                two.dataverse_kinds,
                two.blobs,
            )
        return self.idle

    def links_missing(self, ids: list[str]) -> int:
        """Approved (or paid) sales invoices whose online link has not reached Dynamics yet."""
        approved = ("AUTHORISED", "PAID")
        return sum(
            1 for d in self.dynamics(ids).values() if d.xero_status in approved and not d.online_invoice_url
        )

    def credit_notes(self) -> int:
        state = self.xero.state
        with state.lock:
            return len(state.tenants[self.scenario.tenant_id].credit_notes)

    def dynamics(self, ids: list[str]) -> dict[str, DynamicsInvoice]:
        return dynamics_invoices(self.local, set(ids))

    def xero_ids(self, ids: list[str]) -> dict[str, str]:
        found = xero_invoices(self.local, self.scenario.tenant_id)
        return {i: found[i].invoice_id for i in ids if i in found}

    def warm_up(self) -> None:
        """One invoice per customer first, so contacts and items are known, as in steady state."""
        ids = [create_invoice(self.scenario, index) for index in range(len(CUSTOMERS))]
        wait_until(lambda: len(self.xero_ids(ids)) == len(ids), timeout=120, interval=0.1)
        self.settle()
        self.started = self.meter.mark()

    def close(self) -> None:
        self.queues.close()


def _landed(check: Callable[[DynamicsInvoice], bool]) -> Callable[[Session, list[str]], int]:
    def count(session: Session, ids: list[str]) -> int:
        return sum(1 for d in session.dynamics(ids).values() if check(d))

    return count


LANDED = {
    "create": _landed(lambda d: d.export_status == EXPORT_YES),
    "approve": _landed(lambda d: d.xero_status == "AUTHORISED"),
    "part pay": _landed(lambda d: d.amount_paid == PART_PAYMENT),
    "full pay": _landed(lambda d: d.state == PAID),
    "cancel": _landed(lambda d: d.state == CANCELED and bool(d.credit_note_id)),
}


def _xero_actions(session: Session, ids: list[str]) -> dict[str, Callable[[str], object]]:
    tenant, xero = session.scenario.tenant_id, session.xero
    xero_ids: dict[str, str] = {}

    def xero_id(invoice_id: str) -> str:
        if not xero_ids:
            xero_ids.update(session.xero_ids(ids))
        return xero_ids[invoice_id]

    return {
        "approve": lambda i: xero.approve(tenant, xero_id(i)),
        "part pay": lambda i: xero.pay(tenant, xero_id(i), PART_PAYMENT),
        "full pay": lambda i: xero.pay(tenant, xero_id(i)),
    }


def _stage(
    session: Session, name: str, ids: list[str], act: Callable[[], object], in_xero: bool = False
) -> Stage:
    if in_xero:
        session.as_a_person()  # before counting: the wait is no part of the stage
    events = session.counted(act)
    sweeps, runs = session.sweeps(), SWEEPS_PER_STAGE
    while runs < MAX_SWEEPS_PER_STAGE and session.links_missing(ids):
        sweeps, runs = sweeps + session.sweeps(), runs + SWEEPS_PER_STAGE
    return Stage(name, len(ids), events, sweeps, runs, LANDED[name](session, ids))


def _create_one_at_a_time(session: Session, count: int, latencies: list[float]) -> list[str]:
    ids: list[str] = []
    for index in range(count):
        started = time.monotonic()
        invoice_id = create_invoice(session.scenario, index)
        ids.append(invoice_id)

        def in_xero(invoice_id: str = invoice_id) -> bool:
            return bool(session.xero_ids([invoice_id]))

        if wait_until(in_xero, timeout=120, interval=0.005):
            latencies.append(time.monotonic() - started)
        session.settle()
    return ids


def one_at_a_time(session: Session, count: int) -> Lifecycle:
    """Every event on its own, the connector quiet before the next: create, approve, part pay, full pay."""
    result = Lifecycle("events one at a time", count, session.idle_sweep())
    timeouts = session.timeouts
    ids: list[str] = []
    result.stages.append(
        _stage(
            session,
            "create",
            ids,
            lambda: ids.extend(_create_one_at_a_time(session, count, result.latencies)),
        )
    )
    actions = _xero_actions(session, ids)
    for name in ("approve", "part pay", "full pay"):

        def act(name: str = name) -> None:
            for invoice_id in ids:
                actions[name](invoice_id)
                session.settle()

        result.stages.append(_stage(session, name, ids, act, in_xero=True))
    result.timeouts = session.timeouts - timeouts
    return result


def burst(session: Session, count: int) -> Lifecycle:
    """The same life in bursts, as a bank-reconciliation session works: `count` invoices created, then
    all approved together, then all paid in part, then all paid in full."""
    result = Lifecycle(f"bursts of {count}", count, session.idle_sweep())
    timeouts = session.timeouts
    ids: list[str] = []
    result.stages.append(
        _stage(
            session,
            "create",
            ids,
            lambda: ids.extend(create_invoice(session.scenario, i) for i in range(count)),
        )
    )
    actions = _xero_actions(session, ids)
    for name in ("approve", "part pay", "full pay"):

        def together(name: str = name) -> None:
            for invoice_id in ids:
                actions[name](invoice_id)

        result.stages.append(_stage(session, name, ids, together, in_xero=True))
    result.timeouts = session.timeouts - timeouts
    return result


def cancels(session: Session, count: int) -> Lifecycle:
    """Cancel in Dynamics, one at a time, of invoices already approved in Xero (set-up not counted)."""
    result = Lifecycle("cancel of an approved invoice", count, session.idle_sweep())
    timeouts = session.timeouts
    ids: list[str] = []
    session.counted(lambda: ids.extend(create_invoice(session.scenario, i) for i in range(count)))
    approve = _xero_actions(session, ids)["approve"]
    session.as_a_person()
    session.counted(lambda: [approve(invoice_id) for invoice_id in ids])
    assert session.local.dataverse is not None
    dataverse = session.local.dataverse

    def act() -> None:
        for invoice_id in ids:
            dataverse.ui_cancel(invoice_id)
            session.settle()

    notes_before = session.credit_notes()
    result.stages.append(_stage(session, "cancel", ids, act))
    result.stages[
        -1
    ].note = f"{session.credit_notes() - notes_before} Xero credit notes made for {count} cancels"
    result.timeouts = session.timeouts - timeouts
    return result

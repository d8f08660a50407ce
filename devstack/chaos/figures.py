"""The run's figures, from the emulators' and Azurite's own state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devstack.chaos.context import Run
from devstack.chaos.state import PAID_STATE, DynamicsView, XeroView

WINDOW = timedelta(minutes=5)  # Dataverse service protection's window


@dataclass
class Figures:
    invoices: int
    xero_invoices: int
    duplicates: int  # extra live Xero invoices pointing at one Dynamics invoice
    duplicated_invoices: int  # Dynamics invoices with more than one live Xero invoice
    lost: int  # Dynamics invoices with no live Xero invoice
    extra_credit_notes: int
    missing_credit_notes: int
    cancelled: int
    paid: int
    payments_converged: int
    converge_seconds: float
    poisoned: int
    failed: int
    host_kills: int
    xero_faults: Counter[str] = field(default_factory=Counter)
    dataverse_faults: Counter[str] = field(default_factory=Counter)
    duplicate_webhooks: int | None = None
    dataverse_peak_5min: int = 0
    dataverse_throttled: int = 0  # service protection's own 429s
    examples: dict[str, list[str]] = field(default_factory=dict)  # a few ids per problem, to look into

    @property
    def ok(self) -> bool:
        return (
            self.duplicates == 0
            and self.lost == 0
            and self.extra_credit_notes == 0
            and self.missing_credit_notes == 0
            and self.payments_converged == self.paid
        )


def _peak(entries: list[dict[str, Any]]) -> int:
    """Most Web API requests inside any 5-minute window, from the request log's timestamps."""
    times = sorted(datetime.fromisoformat(str(e["at"])) for e in entries if e.get("at"))
    peak, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= WINDOW:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def _dataverse_faults(run: Run, log: list[dict[str, Any]]) -> Counter[str]:
    fired = run.dataverse.random_report().get("fired")
    if isinstance(fired, dict):
        return Counter({str(k): int(v) for k, v in fired.items()})
    # No report from the emulator: answers by status (a 429 may also be service protection).
    return Counter(str(e["status"]) for e in log if e.get("status") in (429, 503))


def _duplicate_webhooks(run: Run) -> int | None:
    duplicated = run.dataverse.duplicates_report().get("duplicated")
    return int(duplicated) if isinstance(duplicated, int) else None


def measure(run: Run) -> Figures:
    xero = XeroView.take(run.platform, run.tenant_id)
    dynamics = DynamicsView.take(run.platform, run.prefix)
    ids = [plan.id.lower() for plan in run.workload.created]
    live = {dynamics_id: xero.live(dynamics_id) for dynamics_id in ids}
    duplicated = [d for d, found in live.items() if len(found) > 1]
    lost = [d for d, found in live.items() if not found]
    notes, orphans = xero.credit_notes_by_dynamics()
    cancelled = {d.lower() for d in run.cancelled}
    extra = orphans + sum(max(0, n - 1) if d in cancelled else n for d, n in notes.items())
    missing = [d for d in cancelled if notes.get(d, 0) == 0]
    paid = [d.lower() for d, x in run.paid.items() if xero.invoices.get(x, {}).get("Status") == "PAID"]
    unconverged = [d for d in paid if dynamics.state_codes.get(d) != PAID_STATE]
    poisoned = sum(run.queues.poisoned().values())
    assert run.platform.dataverse is not None and run.platform.xero is not None
    log = list(run.platform.dataverse.emulator.request_log)
    throttling = run.dataverse.throttling()
    peak = throttling.get("peak_per_window")
    with run.platform.xero.state.lock:
        xero_log = list(run.platform.xero.state.request_log)
    return Figures(
        invoices=len(ids),
        xero_invoices=sum(len(found) for found in live.values()),
        duplicates=sum(len(found) - 1 for found in live.values() if found),
        duplicated_invoices=len(duplicated),
        lost=len(lost),
        extra_credit_notes=extra,
        missing_credit_notes=len(missing),
        cancelled=len(cancelled),
        paid=len(paid),
        payments_converged=len(paid) - len(unconverged),
        converge_seconds=sum(run.seconds.get(p, 0.0) for p in ("sync_converge", "back_converge")),
        poisoned=poisoned,
        failed=sum(1 for d in ids if dynamics.export_status.get(d) == "Failed"),
        host_kills=run.kills.kills,
        xero_faults=Counter(str(e["fault"]) for e in xero_log if e.get("fault")),
        dataverse_faults=_dataverse_faults(run, log),
        duplicate_webhooks=_duplicate_webhooks(run),
        dataverse_peak_5min=int(peak) if isinstance(peak, int) else _peak(log),
        dataverse_throttled=int(throttling.get("throttled") or 0),
        examples={
            "duplicated": duplicated[:5],
            "lost": lost[:5],
            "missing credit note": missing[:5],
            "payment not in Dynamics": unconverged[:5],
        },
    )

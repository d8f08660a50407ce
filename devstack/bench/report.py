"""The bench's printout: a section per measurement, then `key: value` lines to compare runs by."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from devstack.bench.backlog import Backlog
from devstack.bench.lifecycle import Lifecycle
from devstack.bench.meter import Window
from devstack.bench.quiet import ColdStart, Idle

NOT_RUN = "n/a"


def _out(text: str = "") -> None:
    print(text, flush=True)


def _kinds(counts: Counter[str], top: int = 6) -> str:
    shown = ", ".join(f"{kind} {n}" for kind, n in counts.most_common(top))
    rest = sum(counts.values()) - sum(n for _, n in counts.most_common(top))
    return shown + (f", other {rest}" if rest else "") if counts else "none"


def _429s(window: Window) -> str:
    parts = []
    if window.xero_429:
        parts.append(f"{window.xero_429} Xero 429s")
    if window.dataverse_throttled:
        parts.append(f"{window.dataverse_throttled} Dataverse 429s")
    if window.xero_log_dropped:
        parts.append(f"Xero log dropped {window.xero_log_dropped} entries: a floor")
    return f"  ({'; '.join(parts)})" if parts else ""


def lifecycle(result: Lifecycle) -> None:
    idle = result.idle_sweep
    sweeps = result.stages[0].sweeps_run if result.stages else 0
    _out(
        f"Lifecycle, {result.title}: {result.invoices} invoices; {sweeps} sweeps after each stage"
        f" (an idle sweep costs {idle.xero} Xero, {idle.dataverse} Dataverse calls)"
    )
    _out(
        f"  {'stage':<10} {'landed':>9} {'Xero':>6} {'/inv':>6} {'Dataverse':>10} {'/inv':>6}"
        f" {'+reconcile Xero':>16} {'Dataverse':>10} {'seconds':>8}"
    )
    for stage in result.stages:
        n = max(1, stage.invoices)
        xero_extra, dataverse_extra = stage.reconcile(idle)
        _out(
            f"  {stage.name:<10} {stage.landed:>4}/{stage.invoices:<4} {stage.events.xero:>6} "
            f"{stage.events.xero / n:>6.2f} {stage.events.dataverse:>10} {stage.events.dataverse / n:>6.2f}"
            f" {xero_extra / n:>16.2f} {dataverse_extra / n:>10.2f} {stage.events.seconds:>8.1f}"
            + _429s(stage.events + stage.sweeps)
        )
        if stage.note:
            _out(f"      {stage.note}")
        _out(f"      Xero: {_kinds(stage.events.xero_kinds)}")
        _out(f"      Dataverse: {_kinds(stage.events.dataverse_kinds)}")
    _out(
        f"  idle sweep: Xero {_kinds(idle.xero_kinds)}; Dataverse {_kinds(idle.dataverse_kinds)} (two sweeps)"
    )
    xero, dataverse, xero_all, dataverse_all = result.per_invoice()
    _out(
        f"  per invoice, whole life: Xero {xero:.2f} (events) {xero_all:.2f} (with reconcile); "
        f"Dataverse {dataverse:.2f} (events) {dataverse_all:.2f} (with reconcile)"
    )
    _out(
        f"  of the Xero calls, the balance refresh: {result.balance_refreshes()} in"
        f" {result.sweeps_run()} sweeps (a cost per sweep, not per invoice); without it"
        f" {result.own_xero_per_invoice():.2f} per invoice"
    )
    if result.latencies:
        p50, p95 = latency(result.latencies)
        _out(
            f"  Dynamics create → Xero invoice, host.json polling: p50 {p50:.2f}s, p95 {p95:.2f}s "
            f"({len(result.latencies)} invoices)"
        )
    if result.timeouts:
        _out(
            f"  WARNING: {result.timeouts} stage(s) were still busy at their time limit: figures are a floor"
        )
    _out()


def latency(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return samples[0], samples[0]
    return statistics.median(samples), statistics.quantiles(samples, n=20, method="inclusive")[18]


def limiter(window: Window) -> float | None:
    trips = window.limiter_round_trips("xero")
    per_call = trips / window.xero if window.xero else None
    _out("Limiter storage round trips: blob requests to the limiters' containers, counted by wrapping the")
    _out("Azure SDK's HTTP transports in this process, where the connector ran for the lifecycle runs:")
    shown = f"{per_call:.2f}" if per_call is not None else NOT_RUN
    _out(f"  Xero budget: {trips} round trips for {window.xero} Xero calls: {shown} per Xero call")
    pacer = window.limiter_round_trips("dataverse")
    if pacer:
        per_request = f"{pacer / window.dataverse:.2f}" if window.dataverse else NOT_RUN
        _out(
            f"  Dataverse budget: {pacer} round trips for {window.dataverse} Dataverse calls: "
            f"{per_request} per call"
        )
    _out(f"  all blob requests by container: {_kinds(window.blobs, 10)}")
    _out()
    return per_call


def idle(result: Idle) -> None:
    w, hours = result.window, result.emulated_seconds / 3600
    _out(
        f"Idle: clock ×{result.speed:g} for {result.seconds:.0f}s = {hours:.1f} emulated hours"
        f" (sweep every {300 / result.speed:g}s, interval settings ÷{result.speed:g}): {w.xero} Xero,"
        f" {w.dataverse} Dataverse calls"
    )
    _out(f"  Xero: {_kinds(w.xero_kinds)}")
    for timer in result.timers:
        _out(
            f"  {timer.name} ({timer.production}), fired {timer.fires}× by hand: {timer.window.xero} Xero,"
            f" {timer.window.dataverse} Dataverse calls → {timer.per_day(timer.window.xero):.1f} Xero a day"
        )
    _out(
        f"  per organisation per day: {result.per_day():.0f} Xero calls, "
        f"{result.per_day(dataverse=True):.0f} Dataverse calls"
    )
    _out()


def backlog(result: Backlog) -> None:
    o, w = result.options, result.window
    n = max(1, o.invoices)
    clocks = f"Xero clock ×{o.xero_time_scale:g}, Dataverse clock ×{o.dataverse_time_scale:g}"
    if o.xero_per_minute is not None:
        clocks += f", Xero {o.xero_per_minute}/min"
    _out(
        f"Backlog of {o.invoices} ({clocks}; sweep timer {result.sweep_schedule}; "
        f"made in {result.create_seconds:.0f}s with the webhook steps off):"
    )
    state = (
        f"yes, in {result.drain_seconds:.1f}s"
        if result.drained
        else f"NO: {result.done} after {o.timeout:.0f}s"
    )
    _out(f"  drained: {state}" + ("" if result.settled or not result.drained else " (still busy after it)"))
    _out(f"  Xero calls: {w.xero} ({w.xero / n:.3f} per invoice): {_kinds(w.xero_kinds)}" + _429s(w))
    _out(f"  Dataverse calls: {w.dataverse} ({w.dataverse / n:.2f} per invoice): {_kinds(w.dataverse_kinds)}")
    dv = result.dataverse
    limits = dv.get("limits", {})
    _out(
        f"  Dataverse peak per {limits.get('window_seconds', 300):g}s window (emulated): "
        f"{dv.get('peak_per_window')} received, {dv.get('peak_accepted_per_window')} served "
        f"(limit {limits.get('requests_per_window')}); throttled {dv.get('throttled', 0)}"
    )
    _out(f"  invoices done per minute: {result.per_minute()}; longest stall {result.longest_stall():.0f}s")
    rss = f"{result.peak_rss_mb:.0f} MB" if result.peak_rss_mb is not None else NOT_RUN
    poisoned = ", ".join(f"{n} in {queue}-poison" for queue, n in result.poisoned.items())
    _out(f"  connector host process peak RSS: {rss}" + (f"; poisoned: {poisoned}" if poisoned else ""))
    _out()


def cold_start(result: ColdStart) -> None:
    plain = result.median(result.runs)
    _out(
        f"Cold start (import function_app, fresh interpreter, median of {len(result.runs)}): "
        f"{plain:.3f}s  [{', '.join(f'{r:.3f}' for r in result.runs)}]"
    )
    telemetry = result.median(result.with_telemetry)
    if telemetry is not None:
        configure = result.median(result.telemetry_configure) or 0.0
        _out(
            f"  with Azure Monitor configured first, as the worker does: {telemetry:.3f}s "
            f"(the worker's own configure_azure_monitor() before it: {configure:.3f}s)"
        )
    _out()


@dataclass
class Keys:
    """The closing block: every key printed, `n/a` for what did not run."""

    values: dict[str, str] = field(default_factory=dict)

    def set(self, key: str, value: object, digits: int = 2) -> None:
        if value is None:
            self.values[key] = NOT_RUN
        elif isinstance(value, bool):
            self.values[key] = "yes" if value else "no"
        elif isinstance(value, float):
            self.values[key] = f"{value:.{digits}f}"
        else:
            self.values[key] = str(value)

    def print(self) -> None:
        for key, value in self.values.items():
            _out(f"{key}: {value}")

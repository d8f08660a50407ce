"""`python -m devstack.bench` (`make bench ARGS=...`): what the connector costs on the local platform.

Figures are printed, never asserted: this machine's speed is not the product's. Every run is bounded:
each stage and backlog has a time limit, and a run that hits one says so and prints what it counted.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.telemetry.metrics import XERO_DAY_LIMIT
from devstack.bench import report
from devstack.bench.backlog import Backlog, BacklogOptions, run_backlog
from devstack.bench.lifecycle import Lifecycle, Session, burst, cancels, one_at_a_time
from devstack.bench.meter import BlobCounter, Window
from devstack.bench.quiet import (
    ColdStart,
    Idle,
    TimerCost,
    cold_start,
    fires_per_day,
    other_timers,
    run_idle,
)
from devstack.bench.world import RECONCILE_INTERVAL, SWEEP_SCHEDULE, platform, production_setting

PARTS = ("lifecycle", "burst", "cancel", "idle", "backlog", "cold-start")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.bench", description=__doc__)
    parser.add_argument("what", nargs="?", choices=["sync"], help="(kept for old command lines)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--invoices", type=int, default=20, help="lifecycle invoices, one event at a time")
    parser.add_argument("--burst", type=int, default=50, help="invoices per burst")
    parser.add_argument("--cancels", type=int, default=5, help="cancels of approved invoices")
    parser.add_argument("--backlog", default="1000", help="backlog sizes, comma-separated")
    parser.add_argument("--full", action="store_true", help="add the 10,000 backlog (about 20 minutes)")
    parser.add_argument("--backlog-timeout", type=float, default=1800.0, help="seconds per backlog drain")
    parser.add_argument("--xero-time-scale", type=float, default=1.0, help="backlogs: Xero clock speed-up")
    parser.add_argument("--dataverse-time-scale", type=float, default=1.0, help="backlogs: Dataverse clock")
    parser.add_argument("--idle-seconds", type=float, default=240.0, help="idle period measured (real s)")
    parser.add_argument("--idle-speed", type=float, default=60.0, help="idle: clock speed-up")
    parser.add_argument("--cold-starts", type=int, default=5, help="fresh interpreters for the cold start")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    args.sizes = [int(s) for s in args.backlog.split(",") if s.strip()]
    if args.full and 10000 not in args.sizes:
        args.sizes.append(10000)
    return args


@dataclass
class InProcess:
    """What the platform whose host runs in this process measured."""

    lifecycles: dict[str, Lifecycle] = field(default_factory=dict)
    whole: Window | None = None  # everything after the warm-up, for the limiter's figure
    dataverse_peak: int = 0
    timers: list[TimerCost] = field(default_factory=list)


def run_in_process(args: argparse.Namespace) -> InProcess:
    """Lifecycles, and the non-sweep timers' cost, on one platform whose host runs in this process (so
    its blob calls are seen), every timer off and reconcile allowed on each sweep the bench fires."""
    wanted = [p for p in ("lifecycle", "burst", "cancel") if p in args.parts]
    result = InProcess()
    if not wanted and "idle" not in args.parts:
        return result
    blobs = BlobCounter(blob_port=0).install()
    try:
        with platform(env={RECONCILE_INTERVAL: "0"}) as (local, scenario):
            assert local.dataverse is not None
            blobs.blob_port = local.ports.blob
            session = Session(local, scenario, blobs)
            try:
                session.warm_up()
                local.dataverse.clear_throttling_counts()
                runs = {"lifecycle": (one_at_a_time, args.invoices), "burst": (burst, args.burst)}
                runs["cancel"] = (cancels, args.cancels)
                for part in wanted:
                    run, count = runs[part]
                    result.lifecycles[part] = run(session, count)
                    report.lifecycle(result.lifecycles[part])
                result.whole = session.meter.since(session.started) if wanted else None
                result.dataverse_peak = int(local.dataverse.throttling()["peak_per_window"])
                if "idle" in args.parts:
                    result.timers = other_timers(session)
            finally:
                session.close()
    finally:
        blobs.uninstall()
    return result


def keys(
    started: datetime,
    lifecycles: dict[str, Lifecycle],
    limiter: float | None,
    idle: Idle | None,
    backlogs: dict[int, Backlog],
    cold: ColdStart | None,
    lifecycle_peak: int,
) -> report.Keys:
    out = report.Keys()
    out.set("bench_started_utc", started.strftime("%Y-%m-%dT%H:%M:%SZ"))
    big = backlogs.get(10000)
    out.set("backlog_10000_drained", big.drained if big else None)
    out.set("backlog_10000_xero_calls", big.window.xero if big else None)
    out.set("backlog_10000_seconds", big.drain_seconds if big else None, 1)
    peaks = [int(b.dataverse.get("peak_per_window") or 0) for b in backlogs.values()]
    out.set("dataverse_peak_per_5min", max([*peaks, lifecycle_peak]) if peaks or lifecycles else None)
    rss = [b.peak_rss_mb for b in backlogs.values() if b.peak_rss_mb is not None]
    out.set("backlog_peak_rss_mb", max(rss) if rss else None, 0)
    single, bursts, cancel = (lifecycles.get(p) for p in ("lifecycle", "burst", "cancel"))
    out.set("lifecycle_xero_calls_per_paid_invoice", single.own_xero_per_invoice() if single else None)
    out.set("lifecycle_burst_xero_calls_per_paid_invoice", bursts.own_xero_per_invoice() if bursts else None)
    out.set("lifecycle_dataverse_calls_per_paid_invoice", single.per_invoice()[3] if single else None)
    out.set("cancel_xero_calls", cancel.own_xero_per_invoice() if cancel else None)
    out.set("idle_xero_calls_per_day", idle.per_day() if idle else None, 0)
    out.set("limiter_storage_round_trips_per_xero_call", limiter)
    p95 = report.latency(single.latencies)[1] if single and single.latencies else None
    out.set("event_to_xero_p95_seconds", p95)
    out.set("cold_start_seconds", ColdStart.median(cold.runs) if cold else None, 3)
    # More of the same, for comparing runs.
    out.set("lifecycle_burst_dataverse_calls_per_paid_invoice", bursts.per_invoice()[3] if bursts else None)
    out.set("cancel_dataverse_calls", cancel.per_invoice()[3] if cancel else None)
    out.set("idle_dataverse_calls_per_day", idle.per_day(dataverse=True) if idle else None, 0)
    refresh_per_day = balance_refresh_per_day(lifecycles)
    out.set("balance_refresh_xero_calls_per_day_max", refresh_per_day, 0)
    out.set(
        "lifecycle_xero_calls_per_paid_invoice_with_balance_refresh",
        single.per_invoice()[2] if single else None,
    )
    out.set("cancel_xero_calls_with_balance_refresh", cancel.per_invoice()[2] if cancel else None)
    for key, life in (("one_at_a_time", single), ("in_bursts", bursts)):
        fixed = idle.per_day() + refresh_per_day if idle and refresh_per_day is not None else None
        per_day = (
            (XERO_DAY_LIMIT - fixed) / life.own_xero_per_invoice() if life and fixed is not None else None
        )
        out.set(f"paid_invoices_per_day_per_organisation_{key}", per_day, 0)
    for size, run in sorted(backlogs.items()):
        out.set(f"backlog_{size}_drained", run.drained)
        out.set(f"backlog_{size}_seconds", run.drain_seconds, 1)
        out.set(f"backlog_{size}_xero_calls", run.window.xero)
        out.set(f"backlog_{size}_dataverse_calls", run.window.dataverse)
        out.set(f"backlog_{size}_peak_rss_mb", run.peak_rss_mb, 0)
    out.set("cold_start_with_telemetry_seconds", ColdStart.median(cold.with_telemetry) if cold else None, 3)
    return out


def balance_refresh_per_day(lifecycles: dict[str, Lifecycle]) -> float | None:
    """The balance refresh at its most: the most it cost a sweep, on every sweep of a day."""
    stages = [stage for run in lifecycles.values() for stage in run.stages if stage.sweeps_run]
    if not stages:
        return None
    most = max(stage.balance_refreshes() / stage.sweeps_run for stage in stages)
    schedule = production_setting(SWEEP_SCHEDULE)
    assert schedule is not None, "the sweep schedule has a default in Settings"
    return most * fires_per_day(schedule)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("azure", "httpx", "uvicorn", "connector"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    started = datetime.now(UTC)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"make bench, {started:%Y-%m-%d %H:%M:%S} UTC: {', '.join(args.parts)}", flush=True)
    print(f"(load average {load} on {os.cpu_count()} CPUs: timings are this machine's)\n", flush=True)
    here = run_in_process(args)
    limiter = report.limiter(here.whole) if here.whole is not None else None
    idle = None
    if "idle" in args.parts:
        idle = run_idle(args.idle_seconds, args.idle_speed)
        idle.timers = here.timers
        report.idle(idle)
    backlogs: dict[int, Backlog] = {}
    if "backlog" in args.parts:
        for size in args.sizes:
            options = BacklogOptions(
                size,
                timeout=args.backlog_timeout,
                xero_time_scale=args.xero_time_scale,
                dataverse_time_scale=args.dataverse_time_scale,
            )
            backlogs[size] = run_backlog(options)
            report.backlog(backlogs[size])
    cold = None
    if "cold-start" in args.parts:
        cold = cold_start(args.cold_starts)
        report.cold_start(cold)
    finished = datetime.now(UTC)
    print(f"finished {finished:%Y-%m-%d %H:%M:%S} UTC ({(finished - started).total_seconds():.0f}s)\n")
    keys(started, here.lifecycles, limiter, idle, backlogs, cold, here.dataverse_peak).print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A backlog drained by the sweep, counted to its end, with the connector in a host process of its own
so its memory can be read.

The invoices are made while the connector's webhook steps are switched off (as if they predate the
install, or every event was lost), then the steps go back on and the sweep timer fires; it keeps firing
on its schedule while the backlog drains, as in production. Counting runs from that first firing until
every invoice is in Xero and written back and the connector has gone quiet (the webhooks its own writes
cause, and reconcile, included).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from connector.settings import get_settings
from devstack.bench.meter import Meter, Queues, Sampler, Window, memory_mb, settle
from devstack.bench.world import (
    SWEEP_SCHEDULE,
    create_invoice,
    fire_sweep,
    platform,
    set_webhook_steps,
    sped_up,
    synced,
)

# The connector's settings for its Xero budget, given to the host process when a run lowers Xero's
# limit or speeds up its clock, so its limiter plans for the budget the emulator enforces.
CONNECTOR_XERO_PER_MINUTE = "XERO_RATE_LIMIT_PER_MINUTE"
CONNECTOR_XERO_WINDOW_SECONDS = "XERO_RATE_LIMIT_WINDOW_SECONDS"
# The same for its Dataverse budget (6,000 requests per 5 minutes), when Dataverse's clock is sped up.
CONNECTOR_DATAVERSE_WINDOW_SECONDS = "DATAVERSE_RATE_LIMIT_WINDOW_SECONDS"


@dataclass(frozen=True)
class BacklogOptions:
    invoices: int
    timeout: float = 900.0  # seconds from the first sweep until we stop waiting for the drain
    xero_per_minute: int | None = None  # a lowered Xero per-minute limit (emulator and connector)
    xero_time_scale: float = 1.0  # emulated Xero seconds per real second
    dataverse_time_scale: float = 1.0  # emulated Dataverse seconds per real second
    sample_every: float = 2.0
    settle_after: float = 180.0  # seconds to let the trailing work finish once every invoice is in Xero

    def xero_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"rate_limit_time_scale": self.xero_time_scale}
        if self.xero_per_minute is not None:
            options["rate_limit_per_minute"] = self.xero_per_minute
        return options

    def host_env(self) -> dict[str, str]:
        """Production settings, with the connector's clock-based ones sped up with Xero's clock."""
        env = sped_up(self.xero_time_scale)
        if self.xero_per_minute is not None:
            env[CONNECTOR_XERO_PER_MINUTE] = str(self.xero_per_minute)
        if self.xero_time_scale != 1:
            env[CONNECTOR_XERO_WINDOW_SECONDS] = f"{60 / self.xero_time_scale:g}"
        if self.dataverse_time_scale != 1:
            env[CONNECTOR_DATAVERSE_WINDOW_SECONDS] = f"{300 / self.dataverse_time_scale:g}"
        return env


@dataclass
class Backlog:
    options: BacklogOptions
    drained: bool = False
    drain_seconds: float = 0.0  # first sweep → every invoice in Xero and written back
    done: int = 0
    window: Window = field(default_factory=Window.empty)  # the connector's calls, to quiet again
    settled: bool = False
    create_seconds: float = 0.0
    progress: list[tuple[float, int]] = field(default_factory=list)  # (seconds since the first sweep, done)
    peak_rss_mb: float | None = None
    dataverse: dict[str, Any] = field(default_factory=dict)  # /_emulator/throttling at the end
    poisoned: dict[str, int] = field(default_factory=dict)  # queue → messages in its poison queue
    sweep_schedule: str = ""

    def per_minute(self) -> list[int]:
        """Invoices done in each minute since the first sweep."""
        minutes: list[int] = []
        previous = 0
        for limit in range(60, int(self.progress[-1][0]) + 61 if self.progress else 0, 60):
            upto = max((n for t, n in self.progress if t <= limit), default=previous)
            minutes.append(upto - previous)
            previous = upto
        return minutes

    def longest_stall(self) -> float:
        """Longest stretch without one more invoice done, while some were still to do."""
        longest, since, last = 0.0, 0.0, 0
        for at, done in self.progress:
            if done > last:
                since, last = at, done
            elif done < self.options.invoices:
                longest = max(longest, at - since)
        return longest


def run_backlog(options: BacklogOptions) -> Backlog:
    env = options.host_env()
    result = Backlog(options, sweep_schedule=env[SWEEP_SCHEDULE])
    with platform(
        env=env,
        host_processes=1,
        xero_options=options.xero_options(),
        dataverse_options={"time_scale": options.dataverse_time_scale},
    ) as (local, scenario):
        assert local.dataverse is not None and local.azurite is not None
        set_webhook_steps(local, enabled=False)
        # Counted from before the invoices are made: a timer sweep may start on them meanwhile. Making
        # them (the emulator's UI route) is neither logged nor throttled as Web API traffic.
        local.dataverse.clear_throttling_counts()
        meter = Meter(local, scenario.tenant_id)
        counted_from = meter.mark()
        started = time.monotonic()
        ids = {create_invoice(scenario, index) for index in range(options.invoices)}
        result.create_seconds = time.monotonic() - started
        set_webhook_steps(local, enabled=True)
        queues = Queues(local.azurite.connection_string, get_settings().queue_names)
        pid = local.hosts[0].pid
        assert pid is not None
        start = meter.mark()
        fire_sweep(local)

        def sample() -> None:
            result.done = synced(local, scenario.tenant_id, ids)
            at = time.monotonic() - start.at
            if result.progress and int(at // 60) > int(result.progress[-1][0] // 60):
                print(f"  … {at / 60:.0f} min: {result.done:,} of {options.invoices:,}", flush=True)
            result.progress.append((at, result.done))
            memory = memory_mb(pid)
            if memory is not None:
                result.peak_rss_mb = max(result.peak_rss_mb or 0.0, memory[1])

        every = max(options.sample_every, options.invoices / 2000)  # reading state costs the emulators
        with Sampler(sample, every).running():
            deadline = start.at + options.timeout
            while result.done < options.invoices and time.monotonic() < deadline:
                time.sleep(0.5)
        result.drained = result.done == options.invoices
        result.drain_seconds = (
            next(t for t, n in result.progress if n == options.invoices)
            if result.drained
            else options.timeout
        )
        if result.drained:
            result.settled = settle(local, meter, queues, quiet=3.0, timeout=options.settle_after)
        result.window = meter.since(counted_from)
        result.dataverse = local.dataverse.throttling()
        result.poisoned = queues.poisoned()
        queues.close()
    return result

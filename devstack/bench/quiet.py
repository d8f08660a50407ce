"""What the connector costs when nothing happens, and how long a fresh worker takes to import the app.

Idle: the platform's clock sped up (the sweep timer and the connector's `*_INTERVAL_SECONDS` settings),
the calls over the period scaled to a day; the other timers (daily ones) fired by hand and counted per
firing times their production firings a day."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from croniter import croniter

from devstack.bench.lifecycle import Session
from devstack.bench.meter import Window
from devstack.bench.world import (
    NEVER,
    SWEEP_SCHEDULE,
    SWEEP_TIMER,
    fire_timer,
    platform,
    production_setting,
    sped_up,
    timer_settings,
)
from devstack.paths import REPO_ROOT


def fires_between(schedule: str, start: datetime, end: datetime) -> int:
    """How many times an NCRONTAB schedule (seconds first) fires in (start, end]."""
    times = croniter(schedule, start, second_at_beginning=True)
    count = 0
    while times.get_next(datetime) <= end:
        count += 1
    return count


def fires_per_day(schedule: str) -> int:
    day = datetime(2026, 1, 5, tzinfo=UTC)  # any whole day
    return fires_between(schedule, day - timedelta(microseconds=1), day + timedelta(days=1, microseconds=-1))


@dataclass
class TimerCost:
    """A timer other than the sweep, fired by hand on a platform where no timer fires by itself."""

    name: str
    production: str  # its production schedule
    fires: int
    window: Window

    def per_day(self, calls: int) -> float:
        return calls / max(1, self.fires) * fires_per_day(self.production)


def timer_functions() -> dict[str, str]:
    """Timer function → the setting its schedule comes from (`%SETTING%`), read from function_app."""
    from devstack.host.app import load_functions

    found: dict[str, str] = {}
    for name, function in load_functions().items():
        trigger = function.get_trigger()
        if trigger.get_binding_name() == "timerTrigger":
            setting = re.fullmatch(r"%([^%]+)%", str(trigger.schedule))
            if setting is not None:
                found[name] = setting.group(1)
    return found


def other_timers(session: Session, fires: int = 2) -> list[TimerCost]:
    """What each non-sweep timer costs per firing (every timer of the session's platform is off)."""
    costs = []
    for name, setting in timer_functions().items():
        production = production_setting(setting)
        if name == SWEEP_TIMER or production is None:
            continue
        total = Window.empty()

        def fire(name: str = name) -> None:
            fire_timer(session.local, name)

        for _ in range(fires):
            total = total + session.counted(fire)
        costs.append(TimerCost(name, production, fires, total))
    return costs


@dataclass
class Idle:
    speed: float
    seconds: float
    window: Window  # the sped-up period: the sweep timer and everything clock-driven
    timers: list[TimerCost] = field(default_factory=list)

    @property
    def emulated_seconds(self) -> float:
        return self.seconds * self.speed

    def per_day(self, dataverse: bool = False) -> float:
        swept = self.window.dataverse if dataverse else self.window.xero
        others = sum(t.per_day(t.window.dataverse if dataverse else t.window.xero) for t in self.timers)
        return swept * 86400 / self.emulated_seconds + others


def run_idle(seconds: float = 240.0, speed: float = 60.0) -> Idle:
    """Idle after a little traffic, on a clock `speed` times faster: the sweep every 300/speed s, the
    connector's interval settings divided by speed (other timers off: see `other_timers`). Calls over the
    period, scaled to a day of emulated time."""
    env = {**sped_up(speed), **{name: NEVER for name in timer_settings() if name != SWEEP_SCHEDULE}}
    with platform(env=env) as (local, scenario):
        session = Session(local, scenario, None)
        try:
            session.warm_up()
            time.sleep(300 / speed)  # a sweep fires and ends before counting starts
            session.settle()
            start = session.meter.mark()
            time.sleep(seconds)
            session.settle()
            window = session.meter.since(start)
        finally:
            session.close()
    return Idle(speed, window.seconds, window)


# Measured inside the child: only the import, not the interpreter's own start. os._exit skips exporters'
# shutdown flushes, which are not part of a cold start.
_PLAIN = """
import os, time
started = time.perf_counter()
import function_app
print(time.perf_counter() - started, flush=True)
os._exit(0)
"""
_TELEMETRY = """
import os, time
started = time.perf_counter()
from azure.monitor.opentelemetry import configure_azure_monitor
configure_azure_monitor(disable_offline_storage=True)
configured = time.perf_counter()
import function_app
print(time.perf_counter() - configured, configured - started, flush=True)
os._exit(0)
"""
# Never reached: the worker's exporter would send here, and nothing is exported during an import.
_FAKE_CONNECTION = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
)


@dataclass
class ColdStart:
    runs: list[float]
    with_telemetry: list[float]  # the import after the worker configured Azure Monitor
    telemetry_configure: list[float]  # the worker's own configure_azure_monitor() before it

    @staticmethod
    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None


def _settings_env() -> dict[str, str]:
    """The environment `func start` would give a worker: this one, then local settings for what is unset."""
    own = REPO_ROOT / "local.settings.json"
    path = own if own.exists() else REPO_ROOT / "local.settings.json.example"
    values = {k: str(v) for k, v in json.loads(path.read_text()).get("Values", {}).items()}
    return {**values, **os.environ}


def _child(code: str, env: dict[str, str]) -> list[float]:
    completed = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if completed.returncode != 0:
        raise RuntimeError(f"import function_app failed:\n{completed.stderr[-2000:]}")
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    return [float(value) for value in lines[-1].split()]


def cold_start(runs: int = 5) -> ColdStart:
    env = _settings_env()
    for name in ("APPLICATIONINSIGHTS_CONNECTION_STRING", "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"):
        env.pop(name, None)
    plain = [_child(_PLAIN, env)[-1] for _ in range(runs)]
    telemetry_env = {
        **env,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": _FAKE_CONNECTION,
        "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
    }
    imports, configures = [], []
    try:
        for _ in range(runs):
            imported, configured = _child(_TELEMETRY, telemetry_env)
            imports.append(imported)
            configures.append(configured)
    except (RuntimeError, ValueError):
        pass  # no Azure Monitor distro here: the plain figure stands alone
    return ColdStart(plain, imports, configures)

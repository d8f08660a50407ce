"""One chaos run, phase by phase: set up, load under faults and kills, converge, pay and cancel, converge."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal

from devstack.chaos import diagnostics
from devstack.chaos.actions import pay_and_cancel
from devstack.chaos.config import ChaosConfig
from devstack.chaos.context import Run
from devstack.chaos.convergence import Outcome, Queues, trigger, wait_until
from devstack.chaos.egress import XeroTaps
from devstack.chaos.faults import DataverseFaults, XeroFaults
from devstack.chaos.figures import Figures, measure
from devstack.chaos.kills import kill_between_create_and_write_back, kill_mid_batch
from devstack.chaos.state import PAID_STATE, DynamicsView, XeroView
from devstack.chaos.workload import Workload
from devstack.local_platform import LocalPlatform, PlatformPorts
from devstack.scenario import set_up

logger = logging.getLogger("devstack.chaos")


def platform_for(config: ChaosConfig, taps: XeroTaps) -> LocalPlatform:
    def own_xero(platform: LocalPlatform, instance: str) -> dict[str, str]:
        assert platform.xero is not None
        taps.upstream = platform.xero.base_url
        return {"XERO_API_BASE_URL": f"{taps.url_for(instance)}/api.xro/2.0"}

    return LocalPlatform(
        ports=PlatformPorts.free(),
        data_dir=config.logs,
        xero_options={"request_log_size": 1_000_000},  # the faults fired are counted from this log
        host_processes=config.hosts,
        host_env={
            "SWEEP_SCHEDULE": config.sweep_schedule,
            "XERO_TIMEOUT_SECONDS": str(config.xero_timeout_seconds),
        },
        queue_lease_seconds=config.queue_lease_seconds,
        host_env_for=own_xero,
    )


@contextmanager
def phase(run: Run, name: str) -> Iterator[None]:
    started = time.monotonic()
    logger.info("phase %s", name)
    try:
        yield
    finally:
        run.seconds[name] = time.monotonic() - started


def _monkey(run: Run, created: Callable[[], int], failures: list[BaseException]) -> None:
    """The kill points of the load phase, each when enough invoices have been saved."""
    n = run.config.invoices
    try:
        if "create" in run.config.kills:
            _wait_for(lambda: created() >= round(n * 0.15))
            kill_between_create_and_write_back(run)
        if "batch" in run.config.kills:
            _wait_for(lambda: created() >= round(n * 0.4))
            kill_mid_batch(run, created, outage_invoices=max(3, n // 10))
    except BaseException as exc:
        failures.append(exc)


def _wait_for(condition: Callable[[], bool], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def load(run: Run) -> None:
    """Sales users save every invoice while the faults run and the monkey kills hosts."""
    failures: list[BaseException] = []
    monkey = threading.Thread(
        target=_monkey, args=(run, lambda: len(run.workload.created), failures), daemon=True
    )
    monkey.start()
    for plan in run.workload.plans:
        run.workload.create(plan)
        time.sleep(1 / run.config.rate)
    monkey.join(timeout=run.config.kill_wait_seconds * 4 + 180)
    if failures:
        raise failures[0]
    if monkey.is_alive():
        run.note("kill points still running when the load ended")


def _pending(run: Run, *, back: bool) -> dict[str, int]:
    """Messages left on the queues that carry invoice work (sweep messages come and go on their own)."""
    from connector.settings import get_settings

    settings = get_settings()
    names = {settings.invoice_sync_queue, settings.invoice_cancel_queue}
    if back:
        names.add(settings.xero_events_queue)
    return {name: count for name, count in run.queues.pending().items() if name in names and count}


def sync_settled(run: Run) -> tuple[bool, str]:
    dynamics = DynamicsView.take(run.platform, run.prefix)
    statuses = Counter(dynamics.export_status.get(plan.id.lower(), "none") for plan in run.workload.created)
    pending = _pending(run, back=False)
    finished = statuses["Yes"] + statuses["Failed"] == len(run.workload.created) and not pending
    return finished, f"export status {dict(sorted(statuses.items()))}, queued {pending}"


def back_settled(run: Run) -> tuple[bool, str]:
    xero = XeroView.take(run.platform, run.tenant_id)
    dynamics = DynamicsView.take(run.platform, run.prefix)
    paid = sum(1 for d in run.paid if dynamics.state_codes.get(d.lower()) == PAID_STATE)
    notes, _ = xero.credit_notes_by_dynamics()
    credited = 0
    for dynamics_id, xero_id in run.cancelled.items():
        invoice = xero.invoices.get(xero_id)
        if notes.get(dynamics_id.lower(), 0) and invoice is not None and Decimal(invoice["AmountDue"]) == 0:
            credited += 1
    pending = _pending(run, back=True)
    finished = paid == len(run.paid) and credited == len(run.cancelled) and not pending
    return (
        finished,
        f"paid {paid}/{len(run.paid)}, credited {credited}/{len(run.cancelled)}, queued {pending}",
    )


def converge(run: Run, name: str, settled: Callable[[Run], tuple[bool, str]]) -> Outcome:
    trigger(run.platform.host_url, "sweep_timer")  # ops nudge; the hosts' timer keeps sweeping after
    with phase(run, name):
        outcome = wait_until(lambda: settled(run), run.config.timeout)
    run.converged[name] = outcome.converged
    if not outcome.converged:
        run.note(f"{name}: not converged after {run.config.timeout:.0f}s ({outcome.last_progress})")
    return outcome


def run_chaos(config: ChaosConfig) -> tuple[Figures, Run]:
    from connector.settings import get_settings

    taps = XeroTaps(upstream="")
    with platform_for(config, taps) as platform:
        assert platform.xero is not None and platform.dataverse is not None and platform.azurite is not None
        scenario = set_up(platform)
        settings = get_settings()
        rng = random.Random(config.seed)
        run = Run(
            config=config,
            platform=platform,
            scenario=scenario,
            workload=Workload(scenario, config, random.Random(rng.random())),
            xero=XeroFaults(platform.xero.base_url),
            dataverse=DataverseFaults(platform.dataverse.base_url),
            queues=Queues(platform.azurite.connection_string, settings.queue_names),
            prefix=settings.dataverse_publisher_prefix,
            rng=rng,
            taps=taps,
        )
        try:
            run.workload.prepare()
            run.xero.start_random(config)
            run.dataverse.start_random(config)
            with phase(run, "load"):
                load(run)
            run.xero.stop_random()
            run.dataverse.stop_random()
            converge(run, "sync_converge", sync_settled)
            with phase(run, "pay_and_cancel"):
                pay_and_cancel(run)
            converge(run, "back_converge", back_settled)
            figures = measure(run)
            if config.logs is not None:
                try:
                    diagnostics.write(run, figures, config.logs)
                except (OSError, TypeError, ValueError) as exc:  # the figures matter more than the logs
                    logger.warning("could not write the run's logs to %s: %s", config.logs, exc)
            return figures, run
        finally:
            for host in platform.hosts:  # before the taps they call Xero through
                host.stop()
            run.xero.close()
            run.dataverse.close()
            taps.stop()

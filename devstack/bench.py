"""`python -m devstack.bench sync`: calls per invoice, latency and backlog drain on the local stack.

Figures are printed, never asserted: this machine's speed is not the product's.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from devstack.host.config import QueueOptions
from devstack.local_platform import LocalPlatform, PlatformPorts
from devstack.scenario import Scenario, set_up, wait_for

# Poll queues every 50 ms so the figures measure the connector, not the queue poller's back-off.
FAST_POLLING = QueueOptions(
    batch_size=16,
    new_batch_threshold=8,
    max_polling_interval=timedelta(milliseconds=50),
    visibility_timeout=timedelta(seconds=1),
    max_dequeue_count=5,
)
CUSTOMERS = ("Contoso Ltd", "Fabrikam Inc", "O'Brien & Sons")
DISABLE_SYNC = "AzureWebJobs.invoice_sync.Disabled"  # the host's own switch for one function


@dataclass
class Counts:
    xero: int
    dataverse: int


def counts(scenario: Scenario) -> Counts:
    xero, dataverse = scenario.platform.xero, scenario.platform.dataverse
    assert xero is not None and dataverse is not None
    xero_calls = sum(1 for entry in xero.request_log() if entry.get("tenant") == scenario.tenant_id)
    return Counts(xero_calls, len(dataverse.emulator.request_log))


def xero_invoice_for(scenario: Scenario, invoice_id: str) -> dict[str, Any] | None:
    assert scenario.platform.xero is not None
    tenant = scenario.platform.xero.state.tenants[scenario.tenant_id]
    return next(
        (i for i in list(tenant.invoices.values()) if str(i.get("Url", "")).find(invoice_id) >= 0), None
    )


def create(scenario: Scenario, index: int, day: date) -> str:
    assert scenario.platform.dataverse is not None
    created = scenario.platform.dataverse.ui_create_invoice(
        account_id=scenario.account_id(CUSTOMERS[index % len(CUSTOMERS)]),
        name=f"Bench {index}",
        currency="NZD",
        date_delivered=day.isoformat(),
        lines=[{"product_number": "WID-001", "quantity": "2", "price": "10.00", "tax": "3.00"}],
    )
    return str(created["id"])


def steady_state(scenario: Scenario, invoices: int) -> None:
    today = date.today()
    for index in range(len(CUSTOMERS)):  # warm-up: contacts and items become known, as in steady state
        invoice_id = create(scenario, index, today)
        wait_for(
            lambda invoice_id=invoice_id: xero_invoice_for(scenario, invoice_id), timeout=30, interval=0.01
        )
    time.sleep(1)
    before = counts(scenario)
    latencies = []
    for index in range(invoices):
        started = time.monotonic()
        invoice_id = create(scenario, index, today)
        wait_for(
            lambda invoice_id=invoice_id: xero_invoice_for(scenario, invoice_id), timeout=30, interval=0.005
        )
        latencies.append(time.monotonic() - started)
    time.sleep(1.5)  # let the write-backs and any trailing webhook messages finish
    after = counts(scenario)
    quantiles = statistics.quantiles(latencies, n=20)
    print(f"steady state, {invoices} invoices created one by one in Dynamics:")
    print(f"  Xero calls per invoice:       {(after.xero - before.xero) / invoices:.2f}  (target ≤ 1.2)")
    print(
        f"  Dataverse calls per invoice:  {(after.dataverse - before.dataverse) / invoices:.2f}  (target ≤ 4)"
    )
    p50, p95 = statistics.median(latencies), quantiles[18]
    print(f"  event → Xero invoice latency: p50 {p50:.2f}s, p95 {p95:.2f}s  (target p95 < 5s)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.bench", description=__doc__)
    parser.add_argument("what", choices=["sync"], help="what to measure")
    parser.add_argument("--invoices", type=int, default=20, help="steady-state invoices")
    parser.add_argument("--backlog", type=int, default=200, help="backlog invoices for the sweep")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with LocalPlatform(ports=PlatformPorts.free(), queue_options=FAST_POLLING) as platform:
        scenario = set_up(platform)
        steady_state(scenario, args.invoices)
    run_backlog(args.backlog)


def run_backlog(invoices: int) -> None:
    # A second platform whose invoice_sync function is disabled: webhooks pile messages up, nothing syncs.
    os.environ[DISABLE_SYNC] = "true"
    try:
        with LocalPlatform(ports=PlatformPorts.free(), queue_options=FAST_POLLING) as platform:
            scenario = set_up(platform)
            day = date.today()
            ids = [create(scenario, index, day) for index in range(invoices)]
            time.sleep(1)
            before = counts(scenario)
            started = time.monotonic()
            response = httpx.post(
                f"{platform.host_url}/admin/functions/sweep_timer",
                json={},
                headers={"x-functions-key": os.environ.get("DEVSTACK_MASTER_KEY", "local-master-key")},
            )
            response.raise_for_status()
            wait_for(lambda: all(xero_invoice_for(scenario, i) for i in ids), timeout=600, interval=0.1)
            drained = time.monotonic() - started
            after = counts(scenario)
    finally:
        os.environ.pop(DISABLE_SYNC, None)
    print(f"backlog of {invoices} invoices that piled up while invoice_sync was off, drained by one sweep:")
    print(f"  Xero calls per invoice:       {(after.xero - before.xero) / invoices:.3f}  (target ≤ 0.1)")
    print(f"  Dataverse calls per invoice:  {(after.dataverse - before.dataverse) / invoices:.2f}")
    print(f"  drain time:                   {drained:.1f}s ({invoices / drained:.1f} invoices/s)")


if __name__ == "__main__":
    main()

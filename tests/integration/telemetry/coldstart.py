"""`python -m tests.integration.telemetry.coldstart`: how long `import function_app` takes, in fresh
interpreters, with telemetry off, attached to providers the worker made first, and on the console.

"attached" is what Azure runs: with PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true the worker calls
configure_azure_monitor() before it imports function_app, so that cost is the worker's (it is printed
too, as "worker set-up", since a cold start pays it). Figures are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ENV = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "DATAVERSE_URL": "http://127.0.0.1:9/",
    "DATAVERSE_WEBHOOK_SECRET": "coldstart-dataverse-secret",
    "XERO_WEBHOOK_KEY": "coldstart-xero-key",
    "XERO_CLIENT_ID": "coldstart-client",
    "XERO_CLIENT_SECRET": "coldstart-client-secret",
}
# An unroutable ingestion endpoint: the exporter is built, nothing is sent while measuring.
CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
)

PROGRAM = """
import json, os, sys, time
worker = 0.0
if os.environ.get("COLDSTART_WORKER") == "azure-monitor":
    started = time.perf_counter()
    from azure.monitor.opentelemetry import configure_azure_monitor
    configure_azure_monitor(enable_live_metrics=False)
    worker = time.perf_counter() - started
started, cpu = time.perf_counter(), time.process_time()
import function_app
from connector.telemetry.state import STATE
print(json.dumps({"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                  "worker": worker, "mode": STATE.mode}))
"""


def measure(runs: int, **extra: str) -> dict[str, object]:
    env = {**os.environ, **ENV, **extra}
    results = []
    for _ in range(runs):
        done = subprocess.run(  # noqa: S603 - our own interpreter and program
            [sys.executable, "-c", PROGRAM], env=env, cwd=REPO, capture_output=True, text=True, check=True
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        "mode": results[0]["mode"],
        "wall_min": min(r["wall"] for r in results),
        "wall_median": statistics.median(r["wall"] for r in results),
        "cpu_median": statistics.median(r["cpu"] for r in results),
        "worker_median": statistics.median(r["worker"] for r in results),
    }


def main(runs: int = 5) -> None:
    cases = {
        "off": {},
        "attached (Azure)": {
            "COLDSTART_WORKER": "azure-monitor",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING,
            "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
        },
        "console": {"CONNECTOR_TELEMETRY": "console"},
    }
    print(f"import function_app, {runs} fresh interpreters each (target ≤ 0.5 s):")
    for name, extra in cases.items():
        figures = measure(runs, **extra)
        worker = figures["worker_median"]
        print(
            f"  {name:<17} mode={figures['mode']:<9} wall min {figures['wall_min']:.3f}s, "
            f"median {figures['wall_median']:.3f}s, cpu {figures['cpu_median']:.3f}s"
            + (f"; worker set-up before it {worker:.3f}s" if worker else "")
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

"""The bounded chaos run (issue 10): one Dynamics invoice is one Xero invoice, whatever fails.

`python -m devstack.chaos` in its own process (it starts Azurite, both emulators and two host processes,
and sets the environment for them): about 100 invoices on a fixed seed under the full fault mix, with
hosts SIGKILLed between a committed Xero write and the write-back. The figures come from the emulators'
own state; this test reads the run's final line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from devstack.paths import REPO_ROOT

pytestmark = pytest.mark.e2e

INVOICES = 100
SEED = 10
RUN_LIMIT_SECONDS = 900  # the run bounds itself (timeouts per convergence); this only stops a hang


def final_figures(output: str) -> dict[str, str]:
    lines = [line for line in output.splitlines() if line.startswith("chaos: ")]
    assert lines, f"the run printed no final line; its output ended:\n{output[-3000:]}"
    return dict(re.findall(r"(\w+)=(\S+)", lines[-1]))


@pytest.fixture(scope="module")
def chaos_run() -> tuple[int, dict[str, str]]:
    # Settings come from local.settings.json(.example) in the child, as for `make chaos`; the test
    # session's placeholders must not leak into it.
    env = {k: v for k, v in os.environ.items() if k not in _SESSION_SETTINGS}
    completed = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "devstack.chaos", "--invoices", str(INVOICES), "--seed", str(SEED)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_SECONDS,
        check=False,
    )
    output = completed.stdout + completed.stderr
    print(output[-6000:])  # the table, for whoever reads the CI log
    return completed.returncode, final_figures(output)


_SESSION_SETTINGS = {
    "AzureWebJobsStorage",
    "DATAVERSE_URL",
    "DATAVERSE_WEBHOOK_SECRET",
    "XERO_WEBHOOK_KEY",
    "XERO_CLIENT_ID",
    "XERO_CLIENT_SECRET",
    "CONNECTOR_TIME_ZONE",
}


@pytest.mark.timeout(RUN_LIMIT_SECONDS + 60)
def test_chaos_every_invoice_reaches_xero_exactly_once(chaos_run: tuple[int, dict[str, str]]) -> None:
    _, figures = chaos_run
    assert int(figures["invoices"]) == INVOICES
    assert int(figures["host_kills"]) > 0, "the run killed no host: the kill points never fired"
    assert int(figures["duplicates"]) == 0
    assert int(figures["lost"]) == 0


@pytest.mark.timeout(RUN_LIMIT_SECONDS + 60)
def test_chaos_one_credit_note_per_cancelled_approved_invoice(chaos_run: tuple[int, dict[str, str]]) -> None:
    _, figures = chaos_run
    assert int(figures["extra_credit_notes"]) == 0
    assert int(figures["missing_credit_notes"]) == 0


@pytest.mark.timeout(RUN_LIMIT_SECONDS + 60)
def test_chaos_every_payment_in_xero_reaches_dynamics(chaos_run: tuple[int, dict[str, str]]) -> None:
    returncode, figures = chaos_run
    converged, paid = (int(part) for part in figures["payments_converged"].split("/"))
    assert paid >= INVOICES // 2 - 5, "far fewer invoices were paid in Xero than the run means to pay"
    assert converged == paid
    assert returncode == 0

"""O5: the policy scan a security review runs. checkov (pinned) scans infra/ with its Bicep framework; the
gate fails on any failed check, on any skip without a specific written reason, and on a scan that checked
nothing (a template its parser cannot read used to pass that way, with 0 checks run)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from devstack.paths import REPO_ROOT
from tests.infra.template import INFRA, TEMPLATE

CHECKOV_VERSION = "3.3.30"
REQUIREMENTS = Path(__file__).with_name("requirements-checkov.txt")
# checkov cannot share the project's virtualenv (it pins packaging<24, pytest 9 needs >=24): its own lives
# beside it. CHECKOV_BIN points elsewhere, e.g. in CI.
DEFAULT_CHECKOV = REPO_ROOT / ".venv" / "checkov" / "bin" / "checkov"
SKIP_COMMENT = re.compile(r"//\s*checkov:skip=([A-Z0-9_]+):\s*(.*)")
# Checks that apply to resources this template declares: a scan that missed one of them parsed too little.
EXPECTED_SCANNED = {
    "Microsoft.Storage/storageAccounts",
    "Microsoft.KeyVault/vaults",
    "Microsoft.Web/sites",
    "Microsoft.Web/sites/config",
    "Microsoft.Web/serverfarms",
}


def checkov_executable() -> Path:
    executable = Path(os.environ.get("CHECKOV_BIN", DEFAULT_CHECKOV))
    if not executable.exists():
        pytest.fail(
            f"checkov not found at {executable}. Install it in its own virtualenv:\n"
            "  python3 -m venv .venv/checkov && "
            f".venv/checkov/bin/pip install -r {REQUIREMENTS.relative_to(REPO_ROOT)}"
        )
    return executable


@cache
def scan() -> tuple[dict[str, Any], float]:
    """One checkov run for the module: its JSON report and how long it took."""
    started = time.monotonic()
    completed = subprocess.run(  # noqa: S603
        [
            str(checkov_executable()),
            "-d",
            str(INFRA),
            "--framework",
            "bicep",
            "--output",
            "json",
            "--skip-download",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "BC_API_KEY": "", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert completed.returncode in (0, 1), completed.stderr[-2000:]  # 1: findings, reported below
    report: dict[str, Any] = json.loads(completed.stdout)
    return report, elapsed


def results(kind: str) -> list[dict[str, Any]]:
    report, _ = scan()
    found: list[dict[str, Any]] = report["results"][kind]
    return found


def describe(check: dict[str, Any]) -> str:
    first, last = check.get("file_line_range", ["?", "?"])
    return f"{check['check_id']} on {check['resource']} (main.bicep:{first}-{last}): {check['check_name']}"


def test_o5_checkov_is_the_pinned_version() -> None:
    report, _ = scan()
    assert report["summary"]["checkov_version"] == CHECKOV_VERSION
    assert f"checkov=={CHECKOV_VERSION}" in REQUIREMENTS.read_text().splitlines()


def test_o5_checkov_parses_the_template_and_runs_checks() -> None:
    report, elapsed = scan()
    summary = report["summary"]
    assert report["results"]["parsing_errors"] == []
    assert summary["parsing_errors"] == 0
    ran = summary["passed"] + summary["failed"] + summary["skipped"]
    assert ran > 0, "checkov ran no checks: it could not read the template"
    scanned = {
        check["resource"].rsplit(".", 1)[0] for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for check in results(kind)
    }  # fmt: skip
    assert scanned >= EXPECTED_SCANNED
    print(f"checkov {CHECKOV_VERSION}: {ran} checks in {elapsed:.1f} s: {summary}")


def test_o5_checkov_finds_no_failed_check() -> None:
    failed = [describe(check) for check in results("failed_checks")]
    assert failed == [], (
        "fix these, or skip one with `// checkov:skip=<id>: <specific reason>`:\n" + "\n".join(failed)
    )


def test_o5_every_skip_has_a_specific_reason() -> None:
    skipped = results("skipped_checks")
    assert skipped  # the reasons below are written next to real findings
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert reason != "No comment provided", describe(check)
        words = re.findall(r"[A-Za-z]+", reason)
        assert len(words) >= 10, f"{describe(check)}: reason too short to say why: {reason!r}"
        assert not re.fullmatch(r"(?i)\W*(false positive|not applicable|n/?a|by design|ignore)\W*", reason)


def test_o5_no_stale_skip_comments() -> None:
    """Every skip written in the template silences a check checkov really runs on that resource."""
    written = {
        (match.group(1), number)
        for number, line in enumerate(TEMPLATE.read_text().splitlines(), start=1)
        if (match := SKIP_COMMENT.search(line))
    }
    assert written
    used = {
        (check["check_id"], number)
        for check in results("skipped_checks")
        for number in range(check["file_line_range"][0], check["file_line_range"][1] + 1)
    }
    stale = sorted(
        f"main.bicep:{number} {check_id}" for check_id, number in written if (check_id, number) not in used
    )
    assert stale == []

"""With `--logs DIR`: the emulators' request logs, the kills and the figures, for looking into a run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from devstack.chaos.context import Run
from devstack.chaos.figures import Figures


def _lines(path: Path, entries: list[dict[str, Any]]) -> None:
    with path.open("w") as out:
        for entry in entries:
            out.write(json.dumps(entry, default=str) + "\n")


def write(run: Run, figures: Figures, folder: Path) -> None:
    assert run.platform.xero is not None and run.platform.dataverse is not None
    folder.mkdir(parents=True, exist_ok=True)
    with run.platform.xero.state.lock:
        xero_log = [dict(entry) for entry in run.platform.xero.state.request_log]
    _lines(folder / "xero-requests.jsonl", xero_log)
    dataverse_log = [
        {k: v for k, v in entry.items() if k != "headers"}
        for entry in run.platform.dataverse.emulator.request_log
    ]
    _lines(folder / "dataverse-requests.jsonl", dataverse_log)
    summary = {
        "config": {k: str(v) for k, v in dataclasses.asdict(run.config).items()},
        # Not asdict(): it rebuilds a Counter from (key, value) pairs and counts the pairs.
        "figures": {f.name: getattr(figures, f.name) for f in dataclasses.fields(figures)},
        "kills": run.kills.events,
        "seconds": run.seconds,
        "notes": run.notes,
        "invoices": [dataclasses.asdict(plan) for plan in run.workload.created],
        "paid": run.paid,
        "cancelled": run.cancelled,
    }
    (folder / "chaos.json").write_text(json.dumps(summary, indent=2, default=str))

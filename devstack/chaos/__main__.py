"""`python -m devstack.chaos --invoices N --seed S --timeout SECONDS --hosts 2` (devstack/chaos/README.md)."""

from __future__ import annotations

import logging
import sys
import time

from rich.console import Console

from devstack.chaos.config import parse_args
from devstack.chaos.faults import KnobMissingError
from devstack.chaos.report import print_report
from devstack.chaos.runner import run_chaos


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("devstack.chaos").setLevel(logging.INFO)
    # Dropped answers (commit then drop or hold) are what the run asks for, not errors. A filter, not a
    # level: every uvicorn server started later resets the logger's level.
    logging.getLogger("uvicorn.error").addFilter(
        lambda record: "returned without completing response" not in record.getMessage()
    )
    console = Console(width=160)
    started = time.monotonic()
    try:
        figures, run = run_chaos(config)
    except KnobMissingError as exc:
        console.print(f"The chaos run cannot start: {exc}")
        return 2
    print_report(figures, run, console)
    console.print(f"(whole run {time.monotonic() - started:.0f}s)", highlight=False)
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())

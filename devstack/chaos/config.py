"""What one chaos run does: counts, the seed, the fault mix, where hosts are killed, time limits."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

# The mix of issue 10: per request, the chance of each kind of fault.
XERO_RATES = {"status": 0.10, "rate_limit": 0.05, "commit_then_timeout": 0.02, "commit_then_drop": 0.01}
DATAVERSE_RATES = {"429": 0.025, "503": 0.025}
DUPLICATE_WEBHOOK_RATE = 0.03
KILL_POINTS = ("create", "batch", "cancel")


@dataclass(frozen=True)
class ChaosConfig:
    invoices: int = 100
    seed: int = 10
    timeout: float = 240.0  # for each wait for convergence (after the faults stop; after pay and cancel)
    hosts: int = 2
    xero_rates: dict[str, float] = field(default_factory=lambda: dict(XERO_RATES))
    dataverse_rates: dict[str, float] = field(default_factory=lambda: dict(DATAVERSE_RATES))
    duplicate_webhook_rate: float = DUPLICATE_WEBHOOK_RATE
    kills: tuple[str, ...] = KILL_POINTS
    rate: float = 4.0  # invoices the Sales users save per second (a burst: Xero takes 60 calls a minute)
    purchase_share: float = 0.25  # bills among the invoices
    new_customer_share: float = 0.1  # invoices whose customer Xero has never seen
    paid_share: float = 0.5
    cancel_share: float = 0.05  # of the invoices: approved in Xero, then cancelled in Dynamics
    # The hosts' sweep timer (NCRONTAB seconds): what "two sweep intervals" means for this run.
    sweep_seconds: int = 30
    # A crashed host's messages reappear after this (Azure: 10 minutes); renewed while they run.
    queue_lease_seconds: float = 30.0
    xero_timeout_seconds: int = 3  # the connector's XERO_TIMEOUT_SECONDS: a held answer is felt quickly
    kill_wait_seconds: float = 90.0  # how long a kill point waits for its request to be held
    logs: Path | None = None  # keep the hosts' logs here (otherwise they go with the run's temp folder)

    @property
    def cancels(self) -> int:
        return max(3, round(self.invoices * self.cancel_share))

    @property
    def sweep_schedule(self) -> str:
        return f"*/{self.sweep_seconds} * * * * *"


def default_timeout(invoices: int) -> float:
    """Xero takes 60 calls a minute: a bigger run needs longer to drain."""
    return 240.0 + max(0, invoices - 100)


def parse_args(argv: list[str] | None = None) -> ChaosConfig:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.chaos",
        description="Invoices through the local platform under faults, host kills and two instances; "
        "prints the figures and ends non-zero on any duplicate, loss, extra credit note or unconverged "
        "payment.",
    )
    defaults = ChaosConfig()
    parser.add_argument("--invoices", type=int, default=defaults.invoices)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds allowed for each convergence (default: 240, plus 1 s per invoice beyond 100)",
    )
    parser.add_argument("--hosts", type=int, default=defaults.hosts, help="Functions host processes")
    parser.add_argument(
        "--kills",
        default=",".join(defaults.kills),
        help=f"kill points, comma-separated, from {','.join(KILL_POINTS)} (empty: none)",
    )
    parser.add_argument("--rate", type=float, default=defaults.rate, help="invoices saved per second")
    parser.add_argument("--sweep-seconds", type=int, default=defaults.sweep_seconds)
    parser.add_argument("--logs", type=Path, help="keep the hosts' logs in this folder")
    args = parser.parse_args(argv)
    kills = tuple(point for point in args.kills.split(",") if point)
    unknown = set(kills) - set(KILL_POINTS)
    if unknown:
        parser.error(f"unknown kill points: {', '.join(sorted(unknown))}")
    if args.rate <= 0:
        parser.error("--rate must be positive")
    if args.invoices < 10:
        parser.error("--invoices must be at least 10")
    if args.logs is not None and args.logs.exists() and any(args.logs.iterdir()):
        parser.error("--logs must name a new or empty folder (Azurite's data goes there too)")
    if not 1 <= args.sweep_seconds <= 59 or 60 % args.sweep_seconds:
        parser.error("--sweep-seconds must divide 60")
    return ChaosConfig(
        invoices=args.invoices,
        seed=args.seed,
        timeout=args.timeout if args.timeout is not None else default_timeout(args.invoices),
        hosts=max(1, args.hosts),
        kills=kills,
        sweep_seconds=args.sweep_seconds,
        rate=args.rate,
        logs=args.logs,
    )

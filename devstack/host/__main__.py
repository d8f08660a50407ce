"""`python -m devstack.host --port 7071`: one Functions host in its own process, as one instance in Azure.

Settings come from the environment, then `--settings` (local.settings.json format; the environment wins),
as `func start` reads them. Several of these against one storage account behave like instances of one app.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from devstack.host.app import LocalFunctionsHost
from devstack.host.config import load_local_settings
from devstack.host.queues import PROCESSING_LEASE_SECONDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.host", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="loopback port for HTTP triggers")
    parser.add_argument("--settings", type=Path, help="a local.settings.json to load")
    parser.add_argument("--instance", default="local", help="name of this instance (in logs and status)")
    parser.add_argument(
        "--queue-lease",
        type=float,
        default=PROCESSING_LEASE_SECONDS,
        help="seconds a message being processed stays hidden (renewed); how long a crash hides it",
    )
    parser.add_argument("--timer-lock", action="store_true", help="fire timers only under their lease")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s [{args.instance}] %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("azure", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.settings is not None:
        load_local_settings(args.settings)
    host = LocalFunctionsHost(
        load_settings_file=False,
        queue_lease_seconds=args.queue_lease,
        timer_lock=args.timer_lock,
        instance=args.instance,
    )
    uvicorn.run(host.asgi_app(), host="127.0.0.1", port=args.port, log_level="warning", lifespan="on")
    return 0


if __name__ == "__main__":
    sys.exit(main())

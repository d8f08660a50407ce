"""`python -m devstack up | demo`: the local platform, and the demo on it."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def up() -> int:
    from devstack.local_platform import LocalPlatform

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalPlatform() as platform:
        assert platform.xero is not None and platform.dataverse is not None and platform.azurite is not None
        print(
            "Local platform running (Ctrl-C stops everything):\n"
            f"  Functions host     {platform.host_url}/api/  (health: {platform.host_url}/api/health)\n"
            f"  Xero emulator      {platform.xero.base_url}/api.xro/2.0  (control: /_emulator)\n"
            f"  Dataverse emulator {platform.dataverse.api_url}  (control: /_emulator)\n"
            f"  Azurite            queues :{platform.ports.queue}, blobs :{platform.ports.blob}",
            flush=True,
        )
        stop.wait()
        print("Stopping…", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start Azurite, both emulators and the local Functions host")
    demo = commands.add_parser("demo", help="run the demo on the local platform and print the results")
    demo.add_argument("--keep", action="store_true", help="leave the platform running afterwards")
    demo.add_argument(
        "--traces", action="store_true", help="print each invoice's trace tree and the metrics at the end"
    )
    args = parser.parse_args(argv)
    if args.command == "up":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        for noisy in ("azure", "httpx", "uvicorn.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        return up()
    from devstack.demo import run_demo  # it sends the platform's log lines to a file

    return run_demo(keep=args.keep, traces=args.traces)


if __name__ == "__main__":
    sys.exit(main())

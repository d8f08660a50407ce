"""`python -m devstack.dataverse --port 5050`: serve the emulator on 127.0.0.1."""

from __future__ import annotations

import argparse

from devstack.asgi_server import serve_forever
from devstack.dataverse.emulator import DEFAULT_STATIC_TOKEN, Emulator, EmulatorOptions, create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Dataverse Web API emulator")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument(
        "--token", default=DEFAULT_STATIC_TOKEN, help="static bearer token accepted by the Web API"
    )
    parser.add_argument("--seed", action="store_true", help="load sample currencies, customers and products")
    parser.add_argument(
        "--requests-per-window",
        type=int,
        default=6000,
        help="service protection: requests per user per window",
    )
    parser.add_argument("--window-seconds", type=float, default=300.0, help="service protection window")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="emulated seconds per real second (compresses the window)",
    )
    parser.add_argument(
        "--no-service-protection", action="store_true", help="turn the service protection limits off"
    )
    parser.add_argument(
        "--webhook-duplicate-rate", type=float, default=0.0, help="share of webhook deliveries sent twice"
    )
    args = parser.parse_args()
    options = EmulatorOptions(
        static_token=args.token,
        service_protection=not args.no_service_protection,
        requests_per_window=args.requests_per_window,
        window_seconds=args.window_seconds,
        time_scale=args.time_scale,
        webhook_duplicate_rate=args.webhook_duplicate_rate,
    )
    emulator = Emulator(options)
    if args.seed:
        emulator.seed()
    print(f"Dataverse emulator: http://127.0.0.1:{args.port}/api/data/v9.2/  (bearer token: {args.token})")
    serve_forever(create_app(emulator), args.port)


if __name__ == "__main__":
    main()

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
        "--max-requests", type=int, default=None, help="service protection: requests per window"
    )
    args = parser.parse_args()
    emulator = Emulator(EmulatorOptions(static_token=args.token, max_requests=args.max_requests))
    if args.seed:
        emulator.seed()
    print(f"Dataverse emulator: http://127.0.0.1:{args.port}/api/data/v9.2/  (bearer token: {args.token})")
    serve_forever(create_app(emulator), args.port)


if __name__ == "__main__":
    main()

"""`python -m devstack.xero --port 4010`: the emulator in the foreground, with one seeded organisation."""

from __future__ import annotations

import argparse
import json
import logging

from devstack.asgi_server import serve_forever
from devstack.xero.app import create_app
from devstack.xero.seed import default_contacts


def main() -> None:
    parser = argparse.ArgumentParser(description="Xero API emulator")
    parser.add_argument("--port", type=int, default=4010)
    parser.add_argument(
        "--no-seed", action="store_true", help="start empty (seed through POST /_emulator/organisations)"
    )
    parser.add_argument("--rate-limit-time-scale", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    app, _ = create_app(rate_limit_time_scale=args.rate_limit_time_scale)
    if not args.no_seed:
        from starlette.testclient import TestClient

        with TestClient(app) as client:
            seeded = client.post("/_emulator/organisations", json={"contacts": default_contacts()}).json()
        print(json.dumps({k: seeded[k] for k in ("tenant_id", "client_id", "client_secret")}, indent=2))
        print("access_token:", seeded["token"]["access_token"])
        print("refresh_token:", seeded["token"].get("refresh_token"))
    serve_forever(app, args.port)


if __name__ == "__main__":
    main()

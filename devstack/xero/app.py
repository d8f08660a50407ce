"""Assemble the Starlette app: accounting routes behind the gateway, identity and control routes
beside them."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from devstack.xero import accounting, control, identity, settings_api
from devstack.xero.config import EmulatorOptions
from devstack.xero.emulator import Emulator
from devstack.xero.gateway import Gateway


def create_app(options: EmulatorOptions | None = None, **kwargs: Any) -> tuple[Any, Emulator]:
    """Return (asgi_app, emulator). kwargs are EmulatorOptions fields."""
    emulator = Emulator(options or EmulatorOptions.from_kwargs(**kwargs))
    starlette = Starlette(
        routes=[
            *accounting.routes(emulator),
            *settings_api.routes(emulator),
            *identity.routes(emulator),
            *control.routes(emulator),
        ]
    )
    return Gateway(starlette, emulator), emulator

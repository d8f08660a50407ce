"""In-process emulator for tests, and the recipe for pointing xero-python at it (reference §2.1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from devstack.asgi_server import serve_in_thread
from devstack.xero.app import create_app
from devstack.xero.emulator import Emulator
from devstack.xero.store import State


@dataclass
class SeededOrganisation:
    tenant_id: str
    client_id: str
    client_secret: str
    token: dict[str, Any]  # xero-python token dict: expires_at set, scope a list


class XeroEmulatorHandle:
    """A running emulator: `.base_url`, `.state`, and wrappers for the control API."""

    def __init__(self, base_url: str, emulator: Emulator) -> None:
        self.base_url = base_url
        self.emulator = emulator
        self.control = httpx.Client(base_url=base_url + "/_emulator", timeout=30)

    @property
    def state(self) -> State:
        return self.emulator.state

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.control.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._post("/reset")

    def seed_organisation(self, **body: Any) -> SeededOrganisation:
        """Fields: name, country (NZ|AU), currencies, contacts, items, client_id, custom_connection, scope."""
        data = self._post("/organisations", body)
        return SeededOrganisation(data["tenant_id"], data["client_id"], data["client_secret"], data["token"])

    def approve(self, tenant_id: str, invoice_id: str, kind: str = "invoices") -> dict[str, Any]:
        return dict(self._post(f"/tenants/{tenant_id}/{kind}/{invoice_id}/approve"))

    def void(self, tenant_id: str, invoice_id: str, kind: str = "invoices") -> dict[str, Any]:
        return dict(self._post(f"/tenants/{tenant_id}/{kind}/{invoice_id}/void"))

    def pay(
        self, tenant_id: str, invoice_id: str, amount: Decimal | str | None = None, on: date | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = str(amount)
        if on is not None:
            body["date"] = on.isoformat()
        return dict(self._post(f"/tenants/{tenant_id}/invoices/{invoice_id}/pay", body))

    def allocate(
        self, tenant_id: str, credit_note_id: str, invoice_id: str, amount: Decimal | str
    ) -> dict[str, Any]:
        body = {"invoice_id": invoice_id, "amount": str(amount)}
        return dict(self._post(f"/tenants/{tenant_id}/credit-notes/{credit_note_id}/allocate", body))

    def set_today(self, today: date | None) -> None:
        self._post("/clock", {"today": today.isoformat() if today else None})

    def advance_clock(self, seconds: float) -> None:
        self._post("/clock", {"advance_seconds": seconds})

    def set_limits(self, **settings: Any) -> dict[str, Any]:
        return dict(self._post("/limits", settings))

    def add_fault(
        self, kind: str, method: str = "*", path: str = ".*", count: int = 1, **extra: Any
    ) -> dict[str, Any]:
        return dict(
            self._post("/faults", {"kind": kind, "method": method, "path": path, "count": count, **extra})
        )

    def faults(self) -> dict[str, Any]:
        """Rules, the random mix, counts fired per kind, and how many answers are held."""
        return dict(self.control.get("/faults").json())

    def random_faults(self, seed: int, rates: dict[str, float], **extra: Any) -> dict[str, Any]:
        """Start a seeded random fault mix (extra: method, path, count, status, delay, hold_seconds, …)."""
        return dict(self._post("/faults/random", {"seed": seed, "rates": rates, **extra}))

    def stop_random_faults(self) -> dict[str, Any] | None:
        response = self.control.delete("/faults/random")
        response.raise_for_status()
        stopped = response.json()["stopped"]
        return dict(stopped) if stopped else None

    def held(self) -> list[dict[str, Any]]:
        return list(self.control.get("/faults/held").json())

    def release_held(self, ids: list[str] | None = None, answer: bool = False) -> int:
        """Drop held answers (all, or `ids`); `answer=True` delivers them instead."""
        body: dict[str, Any] = {"answer": answer}
        if ids is not None:
            body["ids"] = ids
        return int(self._post("/faults/release", body)["released"])

    def request_log(self, since: int = 0, tenant: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"since": since}
        if tenant is not None:
            params["tenant"] = tenant
        return list(self.control.get("/requests", params=params).json())

    def request_count(self, **filters: Any) -> dict[str, Any]:
        """`count` of logged requests matching tenant / method / path (regex) / fault / since, with
        `last_seq` (a cursor for `since`) and `dropped` (entries the full log let go)."""
        response = self.control.get(
            "/requests/count", params={k: v for k, v in filters.items() if v is not None}
        )
        response.raise_for_status()
        return dict(response.json())

    def edit_account(self, tenant_id: str, code: str, **changes: Any) -> dict[str, Any]:
        """Act as a Xero user in the chart of accounts (Name, Status, TaxType, …; Type adds an account)."""
        return dict(self._post(f"/tenants/{tenant_id}/accounts/{code}", changes))

    def edit_tax_rate(self, tenant_id: str, tax_type: str, **changes: Any) -> dict[str, Any]:
        return dict(self._post(f"/tenants/{tenant_id}/tax-rates/{tax_type}", changes))

    def subscribe_webhooks(self, url: str, key: str) -> dict[str, Any]:
        return dict(self._post("/webhooks", {"url": url, "key": key}))

    def flush_webhooks(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        data = self._post("/webhooks/flush", {"timeout": timeout})
        return list(data["deliveries"])


@contextmanager
def running_xero_emulator(**options: Any) -> Iterator[XeroEmulatorHandle]:
    """Serve an emulator on loopback for the block. `options` are EmulatorOptions fields."""
    app, emulator = create_app(**options)
    try:
        with serve_in_thread(app) as server:
            handle = XeroEmulatorHandle(server.base_url, emulator)
            try:
                yield handle
            finally:
                handle.control.close()
                emulator.faults.release()  # held answers would keep the server from stopping
    finally:
        emulator.webhooks.stop()


@dataclass
class SdkClients:
    api_client: Any
    accounting: Any
    identity: Any


def make_sdk_clients(
    base_url: str,
    token_getter: Callable[[], dict[str, Any]],
    token_saver: Callable[[dict[str, Any]], None],
    client_id: str = "",
    client_secret: str = "",
) -> SdkClients:
    """xero-python's ApiClient/AccountingApi/IdentityApi pointed at `base_url`.

    Note: TokenApi's endpoint URLs are class attributes, so this re-points them process-wide.
    """
    from xero_python.accounting import AccountingApi
    from xero_python.api_client import ApiClient
    from xero_python.api_client.configuration import Configuration
    from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
    from xero_python.identity import IdentityApi

    config = Configuration()
    config.oauth2_token = OAuth2Token(
        client_id=client_id, client_secret=client_secret
    )  # never via the constructor
    api_client = ApiClient(
        config, pool_threads=1, oauth2_token_getter=token_getter, oauth2_token_saver=token_saver
    )
    TokenApi.refresh_token_url = base_url + "/connect/token"
    TokenApi.client_credentials_token_url = base_url + "/connect/token"
    TokenApi.revoke_token_url = base_url + "/connect/revocation"
    return SdkClients(
        api_client=api_client,
        accounting=AccountingApi(api_client, base_url=base_url + "/api.xro/2.0"),
        identity=IdentityApi(api_client, base_url=base_url),
    )

"""The local platform with the console's sign-in provider, the schema and webhooks in place, and Xero
organisations seeded but not yet connected: what an admin finds on day one."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from devstack.local_platform import LocalPlatform, PlatformPorts
from devstack.oidc import ADMIN_USER

ENV_NAMES = (
    "AzureWebJobsStorage",
    "DATAVERSE_URL",
    "DATAVERSE_STATIC_TOKEN",
    "XERO_API_BASE_URL",
    "XERO_CONNECTIONS_BASE_URL",
    "XERO_IDENTITY_BASE_URL",
    "XERO_LOGIN_BASE_URL",
    "ENTRA_AUTHORITY",
    "ENTRA_CA_BUNDLE",
    "ENTRA_CLIENT_ID",
    "ENTRA_CLIENT_SECRET",
    "CONSOLE_ADMIN_ROLE",
    "CONSOLE_SESSION_KEY",
)
NASTY = "<script>alert(1)</script>"


@dataclass
class ConsoleStack:
    platform: LocalPlatform
    tenants: dict[str, str]  # organisation name → tenant id
    xero_client_id: str
    dynamics: dict[str, Any]
    secrets: list[str] = field(default_factory=list)  # values that must never reach a page or a log

    @property
    def console(self) -> str:
        return f"{self.platform.host_url}/api/console"

    @property
    def xero_url(self) -> str:
        assert self.platform.xero is not None
        return self.platform.xero.base_url

    def browser(self) -> httpx.Client:
        """An HTTP client that keeps cookies like a browser and trusts the local provider's certificate."""
        assert self.platform.oidc is not None
        return httpx.Client(verify=str(self.platform.oidc.cert_path), timeout=20)


def start_stack(monkeypatch: pytest.MonkeyPatch, organisations: list[str]) -> ConsoleStack:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name in ENV_NAMES[:7]:
        monkeypatch.setenv(name, "placeholder")
    monkeypatch.setenv("DATAVERSE_WEBHOOK_SECRET", "local-dataverse-webhook-secret")
    monkeypatch.setenv("XERO_CLIENT_ID", "local-xero-client")
    monkeypatch.setenv("XERO_CLIENT_SECRET", "local-xero-secret")
    monkeypatch.setenv("XERO_TIMEOUT_SECONDS", "5")
    if "REFERENCE_DATA_SCHEDULE" not in os.environ:  # a timer's schedule the example settings may lack
        monkeypatch.setenv("REFERENCE_DATA_SCHEDULE", "0 0 3 * * *")
    platform = LocalPlatform(ports=PlatformPorts.free()).start()
    try:
        return _prepare(platform, organisations)
    except BaseException:
        platform.stop()
        raise


def _prepare(platform: LocalPlatform, organisations: list[str]) -> ConsoleStack:
    from connector.adapters.dataverse.client import client_from_settings
    from connector.settings import get_settings
    from connector.setup.provision import SchemaProvisioner
    from connector.setup.webhooks import WebhookRegistrar

    assert platform.xero is not None and platform.dataverse is not None
    settings = get_settings()
    dynamics = platform.dataverse.seed()
    tenants = {}
    for name in organisations:
        seeded = platform.xero.seed_organisation(
            name=name,
            client_id=settings.xero_client_id,
            client_secret=settings.xero_client_secret.get_secret_value()
            if settings.xero_client_secret
            else None,
            currencies=["NZD", "USD"],
        )
        tenants[name] = seeded.tenant_id
        disconnect_seeded(platform, seeded.tenant_id)

    async def work() -> None:
        async with client_from_settings(settings) as client:
            await SchemaProvisioner(client, settings.dataverse_solution).run()
            await WebhookRegistrar(client).run(
                f"{platform.host_url}/api/dataverse/invoices",
                settings.dataverse_webhook_secret.get_secret_value(),
            )

    asyncio.run(work())
    secrets = [
        "local-xero-secret",
        "local-dataverse-webhook-secret",
        settings.console_session_key.get_secret_value() if settings.console_session_key else "",
        settings.entra_client_secret.get_secret_value() if settings.entra_client_secret else "",
    ]
    return ConsoleStack(platform, tenants, str(settings.xero_client_id), dynamics, [s for s in secrets if s])


def disconnect_seeded(platform: LocalPlatform, tenant_id: str) -> None:
    """Seeding connects the app to the organisation; an admin on day one has not consented yet."""
    assert platform.xero is not None
    httpx.post(
        f"{platform.xero.base_url}/_emulator/tenants/{tenant_id}/revoke-access", timeout=10
    ).raise_for_status()


def sign_in(stack: ConsoleStack, client: httpx.Client, user: str = ADMIN_USER) -> httpx.Response:
    """Open the console, sign in at the OpenID provider as `user`, and land back on the console."""
    response = client.get(stack.console, follow_redirects=True)
    assert "/oauth2/authorize" in str(response.url), response.text[:300]
    return client.post(str(response.url), data={"sub": user}, follow_redirects=True)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def consent(stack: ConsoleStack, client: httpx.Client, page: str, tenant_names: list[str]) -> httpx.Response:
    """Press Connect to Xero (or another button posting to the consent), pick organisations on Xero's
    page, and follow the answer back to the console."""
    response = client.post(f"{stack.console}/xero/connect", data={"csrf": csrf_of(page)})
    return through_xero(stack, client, response, tenant_names)


def through_xero(
    stack: ConsoleStack, client: httpx.Client, response: httpx.Response, tenant_names: list[str]
) -> httpx.Response:
    assert response.status_code == 303, response.text[:300]
    authorize = response.headers["location"]
    assert authorize.startswith(stack.xero_url + "/identity/connect/authorize")
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    form: list[tuple[str, str]] = [*params.items()]
    form += [("tenant_id", stack.tenants[name]) for name in tenant_names]
    answer = client.post(
        authorize.split("?")[0],
        content=urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 302, answer.text[:300]
    return client.get(answer.headers["location"], follow_redirects=True)


def create_invoice(stack: ConsoleStack, name: str, currency: str = "NZD") -> str:
    """A Sales user saves an invoice that is ready to go (delivered today)."""
    assert stack.platform.dataverse is not None
    created = stack.platform.dataverse.ui_create_invoice(
        account_id=str(stack.dynamics["accounts"]["Contoso Ltd"]),
        name=name,
        currency=currency,
        date_delivered=date.today().isoformat(),
        lines=[{"write_in": "Consulting", "quantity": "1", "price": "100.00", "tax": "15.00"}],
    )
    return str(created["id"])


def revoke_at_xero(stack: ConsoleStack, tenant_name: str) -> None:
    """The organisation's admin disconnects the app in Xero."""
    disconnect_seeded(stack.platform, stack.tenants[tenant_name])


@pytest.fixture
def stack(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsoleStack]:
    names: list[Any] = [m.args for m in request.node.iter_markers("organisations")]
    built = start_stack(monkeypatch, list(names[0]) if names else ["Contoso NZ"])
    try:
        yield built
    finally:
        built.platform.stop()
        from connector.bootstrap import use_app

        use_app(None)

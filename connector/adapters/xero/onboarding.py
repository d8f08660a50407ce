"""C2: turning an authorization code (or a custom connection's credentials) into a stored token set."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from connector.adapters.storage.token_store import GrantType, TokenSet
from connector.errors import AuthorisationError
from connector.settings import Settings


@dataclass(frozen=True)
class XeroTenant:
    tenant_id: str
    name: str


def _client_auth(settings: Settings) -> tuple[str, str]:
    if not settings.xero_client_id or settings.xero_client_secret is None:
        raise AuthorisationError("set XERO_CLIENT_ID and XERO_CLIENT_SECRET first")
    return settings.xero_client_id, settings.xero_client_secret.get_secret_value()


def request_tokens(settings: Settings, form: dict[str, str], grant: GrantType) -> TokenSet:
    response = httpx.post(
        f"{settings.xero_identity_base_url.rstrip('/')}/connect/token",
        data=form,
        auth=_client_auth(settings),
        timeout=settings.xero_timeout_seconds,
    )
    if response.status_code != 200:
        # Xero's error code only (e.g. invalid_grant); the body may echo what we sent.
        code = (
            response.json().get("error", response.status_code) if response.content else response.status_code
        )
        raise AuthorisationError(f"Xero refused the token request: {code}")
    return TokenSet.from_token_response(response.json(), time.time(), grant)


def exchange_code(settings: Settings, code: str, redirect_uri: str) -> TokenSet:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return request_tokens(settings, form, "authorization_code")


def client_credentials(settings: Settings) -> TokenSet:
    return request_tokens(settings, {"grant_type": "client_credentials"}, "client_credentials")


def list_tenants(settings: Settings, tokens: TokenSet) -> list[XeroTenant]:
    """GET /connections: the organisations this authorisation covers."""
    response = httpx.get(
        f"{settings.xero_connections_base_url.rstrip('/')}/connections",
        headers={"Authorization": f"Bearer {tokens.access_token.get_secret_value()}"},
        timeout=settings.xero_timeout_seconds,
    )
    if response.status_code != 200:
        raise AuthorisationError(f"Xero refused to list connections ({response.status_code})")
    return [
        XeroTenant(str(row["tenantId"]), str(row.get("tenantName") or row["tenantId"]))
        for row in response.json()
        if row.get("tenantType", "ORGANISATION") == "ORGANISATION"
    ]

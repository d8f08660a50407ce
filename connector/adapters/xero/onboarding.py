"""C2: Xero's consent (authorization code with PKCE and state), the code exchange, GET /connections,
custom connections (client_credentials), and disconnecting (DELETE /connections/{id}, /connect/revocation).

Tokens never leave the server: between the callback and the admin's choice of organisation they wait
in the token store under a random pending key, and only that key travels in the (encrypted) session.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode
from uuid import UUID

import httpx

from connector.adapters.storage.token_store import GrantType, TokenSet, TokenStore
from connector.domain.connection_rules import TokenState, XeroOrganisation, pkce_pair
from connector.errors import AuthorisationError, RetryableError
from connector.settings import Settings

PENDING_PREFIX = "pending-"
__all__ = ["XeroOnboarding", "XeroTenant", "pkce_pair"]

# Kept for the older call sites; XeroOrganisation is the same thing with Xero's connection id.
XeroTenant = XeroOrganisation


def consent_url(settings: Settings, redirect_uri: str, state: str, code_challenge: str) -> str:
    """Xero's authorize URL (login.xero.com/identity/connect/authorize) for this app's scopes."""
    if not settings.xero_client_id:
        raise AuthorisationError("set XERO_CLIENT_ID first")
    query = {
        "response_type": "code",
        "client_id": settings.xero_client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(settings.xero_scopes.split()),
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    return f"{settings.xero_login_base_url.rstrip('/')}/identity/connect/authorize?{urlencode(query)}"


def _client_auth(settings: Settings) -> tuple[str, str]:
    if not settings.xero_client_id or settings.xero_client_secret is None:
        raise AuthorisationError("set XERO_CLIENT_ID and XERO_CLIENT_SECRET first")
    return settings.xero_client_id, settings.xero_client_secret.get_secret_value()


def _post_identity(settings: Settings, path: str, form: dict[str, str]) -> httpx.Response:
    try:
        return httpx.post(
            f"{settings.xero_identity_base_url.rstrip('/')}{path}",
            data=form,
            auth=_client_auth(settings),
            timeout=settings.xero_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        raise RetryableError(f"Xero's identity service is unreachable: {type(exc).__name__}") from None


def request_tokens(settings: Settings, form: dict[str, str], grant: GrantType) -> TokenSet:
    asked_at = time.time()
    response = _post_identity(settings, "/connect/token", form)
    if response.status_code != 200:
        # Xero's error code only (e.g. invalid_grant); the body may echo what we sent.
        try:
            code = response.json().get("error", response.status_code)
        except ValueError:
            code = response.status_code
        raise AuthorisationError(f"Xero refused the token request: {code}")
    return TokenSet.from_token_response(response.json(), asked_at, grant)


def exchange_code(
    settings: Settings, code: str, redirect_uri: str, code_verifier: str | None = None
) -> TokenSet:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        form["code_verifier"] = code_verifier
    return request_tokens(settings, form, "authorization_code")


def client_credentials(settings: Settings) -> TokenSet:
    return request_tokens(settings, {"grant_type": "client_credentials"}, "client_credentials")


def list_tenants(settings: Settings, tokens: TokenSet) -> list[XeroOrganisation]:
    """GET /connections: the organisations this authorisation covers (practices are left out)."""
    try:
        response = httpx.get(
            f"{settings.xero_connections_base_url.rstrip('/')}/connections",
            headers={"Authorization": f"Bearer {tokens.access_token.get_secret_value()}"},
            timeout=settings.xero_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        raise RetryableError(f"Xero is unreachable: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise AuthorisationError(f"Xero refused to list connections ({response.status_code})")
    return [
        XeroOrganisation(
            str(row["tenantId"]), str(row.get("tenantName") or row["tenantId"]), str(row.get("id") or "")
        )
        for row in response.json()
        if row.get("tenantType", "ORGANISATION") == "ORGANISATION"
    ]


def revoke(settings: Settings, tokens: TokenSet, tenant_id: str) -> None:
    """Disconnect the organisation (DELETE /connections/{id}), then revoke the refresh token.

    A 401 or 404 means Xero has already let go of it: nothing is left to undo.
    """
    try:
        for organisation in list_tenants(settings, tokens):
            if organisation.tenant_id == tenant_id and organisation.connection_id:
                httpx.delete(
                    f"{settings.xero_connections_base_url.rstrip('/')}/connections/{organisation.connection_id}",
                    headers={"Authorization": f"Bearer {tokens.access_token.get_secret_value()}"},
                    timeout=settings.xero_timeout_seconds,
                )
    except AuthorisationError:
        pass  # the access token no longer works: the revocation below still ends the authorisation
    if tokens.refresh_token is not None:
        form = {"token": tokens.refresh_token.get_secret_value(), "token_type_hint": "refresh_token"}
        response = _post_identity(settings, "/connect/revocation", form)
        if response.status_code >= 500:
            raise RetryableError(f"Xero could not revoke the token: HTTP {response.status_code}")


class XeroOnboarding:
    """The console's and the CLI's way into Xero; tokens go straight into the token store."""

    def __init__(
        self,
        settings: Settings,
        store: TokenStore,
        written_at: Callable[[str], datetime | None] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._written_at = written_at  # when a connection's token set was last saved (its last refresh)

    def consent_url(self, redirect_uri: str, state: str, code_challenge: str) -> str:
        return consent_url(self._settings, redirect_uri, state, code_challenge)

    def _keep_pending(self, tokens: TokenSet) -> str:
        pending = PENDING_PREFIX + secrets.token_urlsafe(18)
        self._store.save(pending, tokens)
        return pending

    def authorise(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        """Exchange the code; the token set waits under the returned pending key."""
        return self._keep_pending(exchange_code(self._settings, code, redirect_uri, code_verifier))

    def authorise_custom(self) -> str:
        return self._keep_pending(client_credentials(self._settings))

    def _pending(self, pending: str) -> TokenSet:
        tokens = self._store.get(pending) if pending.startswith(PENDING_PREFIX) else None
        if tokens is None:
            raise AuthorisationError("this Xero authorisation has expired: connect again")
        return tokens

    def organisations(self, pending: str) -> list[XeroOrganisation]:
        return list_tenants(self._settings, self._pending(pending))

    def adopt(self, pending: str, connection_id: UUID) -> None:
        """The pending token set becomes the connection's (replacing any it had)."""
        self._store.save(str(connection_id), self._pending(pending))
        self._store.delete(pending)

    def discard(self, pending: str) -> None:
        if pending.startswith(PENDING_PREFIX):
            self._store.delete(pending)

    def token_state(self, connection_id: UUID) -> TokenState | None:
        tokens = self._store.get(str(connection_id))
        if tokens is None:
            return None
        return TokenState(
            grant=tokens.grant_type,
            expires_at=datetime.fromtimestamp(tokens.expires_at, UTC),
            refreshed_at=self._written_at(str(connection_id)) if self._written_at else None,
            has_refresh_token=tokens.refresh_token is not None,
        )

    def disconnect(self, connection_id: UUID, tenant_id: str) -> None:
        """Revoke at Xero (when there is anything to revoke) and delete the stored tokens."""
        tokens = self._store.get(str(connection_id))
        if tokens is not None and tokens.grant_type == "authorization_code":
            revoke(self._settings, tokens, tenant_id)
        self._store.delete(str(connection_id))

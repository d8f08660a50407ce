"""Console sign-in with Microsoft Entra ID through msal: OpenID Connect authorization code with PKCE.

msal builds the request (state, nonce, PKCE), checks state and nonce on the way back and redeems the
code. Since msal 1.38 it no longer validates the id token, so the claims are checked here: issuer,
audience, expiry. The token comes straight from the token endpoint over TLS, which OpenID Connect Core
§3.1.3.7 (6) accepts in place of checking its signature.
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

import msal
import requests

from connector.domain.connection_rules import AdminIdentity
from connector.errors import AuthorisationError
from connector.settings import Settings

CLOCK_SKEW_SECONDS = 120
MICROSOFT_LOGIN = "https://login.microsoftonline.com"


class SignInError(AuthorisationError):
    """The sign-in did not complete; the message is safe to show (it never carries a token)."""


class EntraSignIn:
    def __init__(self, settings: Settings) -> None:
        if not settings.entra_client_id or settings.entra_client_secret is None:
            raise SignInError("set ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET to sign in to the console")
        self._settings = settings
        self._client_id = settings.entra_client_id

    @cached_property
    def _app(self) -> msal.ConfidentialClientApplication:
        settings = self._settings
        secret = settings.entra_client_secret.get_secret_value() if settings.entra_client_secret else None
        options: dict[str, Any] = {"client_credential": secret, "token_cache": None}
        if settings.entra_authority:
            # Any OpenID provider (the local one): discovery at <authority>/.well-known/openid-configuration.
            options["oidc_authority"] = settings.entra_authority.rstrip("/")
        else:
            options["authority"] = f"{MICROSOFT_LOGIN}/{settings.entra_tenant_id}"
        if settings.entra_ca_bundle:
            # requests lets REQUESTS_CA_BUNDLE override a session's own `verify` (psf/requests#3829).
            session = requests.Session()
            session.trust_env = False
            session.verify = settings.entra_ca_bundle
            options["http_client"] = session
        return msal.ConfidentialClientApplication(self._client_id, **options)

    def _issuer(self) -> str:
        issuer = getattr(self._app.authority, "_issuer", None)  # from discovery; not public in msal
        if issuer:
            return str(issuer)
        return f"{MICROSOFT_LOGIN}/{self._settings.entra_tenant_id}/v2.0"

    def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        """(URL to send the browser to, the flow to keep in the session until the callback)."""
        try:
            flow = self._app.initiate_auth_code_flow(
                scopes=[], redirect_uri=redirect_uri, response_mode="query"
            )
        except (ValueError, OSError) as exc:
            raise SignInError(f"the sign-in service cannot be reached: {type(exc).__name__}") from None
        auth_uri = str(flow.pop("auth_uri"))
        return auth_uri, dict(flow)

    def finish(self, flow: dict[str, Any], query: dict[str, str]) -> AdminIdentity:
        """Check the callback against the flow, redeem the code, and read who signed in."""
        try:
            result = self._app.acquire_token_by_auth_code_flow(flow, query)
        except ValueError:
            raise SignInError("the sign-in response does not match the request (state)") from None
        except RuntimeError:
            raise SignInError("the sign-in response does not match the request (nonce)") from None
        if "error" in result:
            raise SignInError(f"sign-in failed: {result.get('error')}")
        claims = result.get("id_token_claims") or {}
        self._check(claims)
        return AdminIdentity(
            subject=str(claims.get("oid") or claims.get("sub")),
            name=str(claims.get("name") or claims.get("preferred_username") or claims.get("email") or ""),
            username=str(claims.get("preferred_username") or claims.get("email") or claims.get("sub") or ""),
            roles=tuple(str(role) for role in claims.get("roles") or ()),
        )

    def _check(self, claims: dict[str, Any]) -> None:
        now = time.time()
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self._client_id not in audiences:
            raise SignInError("the id token is not for this application")
        if str(claims.get("iss", "")).rstrip("/") != self._issuer().rstrip("/"):
            raise SignInError("the id token comes from another issuer")
        if float(claims.get("exp") or 0) < now - CLOCK_SKEW_SECONDS:
            raise SignInError("the id token has expired")
        tenant = self._settings.entra_tenant_id
        if tenant and not self._settings.entra_authority and claims.get("tid") != tenant:
            raise SignInError("the id token is from another directory")

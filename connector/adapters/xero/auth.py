"""Fetch Xero tokens through xero-python's TokenApi: refresh (rotating) and client_credentials."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import urllib3
from xero_python.api_client import ApiClient
from xero_python.api_client.oauth2 import TokenApi
from xero_python.exceptions import ApiException, HTTPStatusException

from connector.adapters.storage.token_store import TokenSet
from connector.errors import AuthorisationError, ConnectorError, RateLimitedError, RetryableError


def configure_token_endpoints(identity_base_url: str) -> None:
    """Point the SDK's token endpoints at `identity_base_url`.

    They are class attributes of TokenApi (process-wide), so this is set once, from settings.
    """
    base = identity_base_url.rstrip("/")
    TokenApi.refresh_token_url = base + "/connect/token"
    TokenApi.client_credentials_token_url = base + "/connect/token"
    TokenApi.revoke_token_url = base + "/connect/revocation"


def _oauth_error_code(exc: HTTPStatusException) -> str | None:
    try:
        body = json.loads(exc.body or b"{}")
    except (ValueError, TypeError):
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return str(code) if code else None


def map_token_error(exc: Exception) -> ConnectorError:
    """Classify a failed token request. Messages never carry the request (it holds secrets)."""
    if isinstance(exc, HTTPStatusException):
        status = exc.status or 0
        if status == 429:
            headers = exc.headers or {}
            return RateLimitedError(
                "Xero token endpoint rate limited", retry_after=float(headers.get("Retry-After") or 60)
            )
        if status >= 500:
            return RetryableError(f"Xero token endpoint failed: HTTP {status}")
        code = _oauth_error_code(exc) or f"HTTP {status}"
        # invalid_grant: the refresh token is expired, revoked or already rotated. An admin must reconnect.
        return AuthorisationError(f"Xero refused the token request ({code}): reconnect the organisation")
    if isinstance(exc, urllib3.exceptions.HTTPError | ApiException):
        return RetryableError(f"Xero token endpoint unreachable: {type(exc).__name__}")
    return RetryableError(f"Xero token request failed: {type(exc).__name__}")


class XeroTokenFetcher:
    """Gets new token sets from Xero's identity service. Used as the store's `refresh_fn`."""

    def __init__(
        self,
        api_client: ApiClient,
        client_id: str,
        client_secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api_client = api_client
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock

    def _token_api(self) -> Any:
        return TokenApi(self._api_client, self._client_id, self._client_secret)

    def renew(self, current: TokenSet) -> TokenSet:
        """A fresh token set to replace `current`, by the grant the connection uses."""
        if current.grant_type == "client_credentials":
            return self.client_credentials()
        if current.refresh_token is None:
            raise AuthorisationError(
                "no refresh token is stored for this connection: reconnect the organisation"
            )
        asked_at = self._clock()
        try:
            data = self._token_api().refresh_token(current.refresh_token.get_secret_value(), current.scope)
        except Exception as exc:  # every SDK/urllib3 failure is classified, never leaked
            raise map_token_error(exc) from None
        return TokenSet.from_token_response(data, asked_at, "authorization_code")

    def client_credentials(self) -> TokenSet:
        """Custom connections: no refresh token; ask again with client id and secret."""
        asked_at = self._clock()
        try:
            data = self._token_api().get_client_credentials_token(False)
        except Exception as exc:
            raise map_token_error(exc) from None
        return TokenSet.from_token_response(data, asked_at, "client_credentials")

"""Credentials for the Dataverse Web API: azure-identity in Azure, a static token on a dev machine."""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential

from connector.settings import Settings


class StaticTokenCredential:
    """A TokenCredential that always returns the same bearer token (local emulator only)."""

    def __init__(self, token: str, lifetime_seconds: int = 3600) -> None:
        self._token = token
        self._lifetime = lifetime_seconds

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + self._lifetime)


def credential_from_settings(settings: Settings) -> TokenCredential:
    """StaticTokenCredential when DATAVERSE_STATIC_TOKEN is set, else DefaultAzureCredential()."""
    if settings.dataverse_static_token is not None:
        return StaticTokenCredential(settings.dataverse_static_token.get_secret_value())
    from azure.identity import DefaultAzureCredential  # imported late: slow, and unused locally

    return DefaultAzureCredential()


def scope_for(dataverse_url: str) -> str:
    """Confidential clients ask for `<environment-url>/.default`."""
    return dataverse_url.rstrip("/") + "/.default"

"""Shared fixtures: a test environment for settings, and one Azurite per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.azurite import Azurite, start_azurite

BASE_ENV = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "DATAVERSE_URL": "http://127.0.0.1:9/",
    "DATAVERSE_WEBHOOK_SECRET": "test-dataverse-secret",
    "XERO_WEBHOOK_KEY": "test-xero-webhook-key",
    "XERO_CLIENT_ID": "test-client-id",
    "XERO_CLIENT_SECRET": "test-client-secret",
    "CONNECTOR_TIME_ZONE": "Pacific/Auckland",
}


@pytest.fixture(autouse=True)
def base_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every test starts with a complete, valid configuration and a fresh settings cache."""
    from connector.settings import get_settings

    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield BASE_ENV
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azurite (blob + queue) on free loopback ports, for the whole session."""
    instance = start_azurite()
    try:
        yield instance
    finally:
        instance.stop()

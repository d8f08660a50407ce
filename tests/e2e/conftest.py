"""The whole app on devstack: Azurite, both emulators and the local Functions host, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.local_platform import LocalPlatform, PlatformPorts
from devstack.scenario import Scenario, set_up


@pytest.fixture
def scenario(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scenario]:
    """A fresh platform per test: e2e tests change state on every side."""
    # The platform writes its endpoints into the environment; monkeypatch restores it afterwards.
    for name in (
        "AzureWebJobsStorage",
        "DATAVERSE_URL",
        "DATAVERSE_STATIC_TOKEN",
        "XERO_API_BASE_URL",
        "XERO_CONNECTIONS_BASE_URL",
        "XERO_IDENTITY_BASE_URL",
        "XERO_LOGIN_BASE_URL",
    ):
        monkeypatch.setenv(name, "placeholder")
    monkeypatch.setenv("DATAVERSE_WEBHOOK_SECRET", "local-dataverse-webhook-secret")
    monkeypatch.setenv("XERO_CLIENT_ID", "local-xero-client")
    monkeypatch.setenv("XERO_CLIENT_SECRET", "local-xero-secret")
    monkeypatch.setenv("XERO_TIMEOUT_SECONDS", "2")  # so "commit then time out" is felt quickly
    for marker in request.node.iter_markers("env"):  # @pytest.mark.env(NAME="value") per test
        for name, value in marker.kwargs.items():
            monkeypatch.setenv(name, value)
    platform = LocalPlatform(ports=PlatformPorts.free()).start()
    try:
        settings = {k: v for m in request.node.iter_markers("connection") for k, v in m.kwargs.items()}
        yield set_up(platform, connection_settings=settings)
    finally:
        platform.stop()
        from connector.bootstrap import use_app

        use_app(None)

"""C2 from the terminal: connect is idempotent (same organisation, same record), a custom connection's
organisation comes from /connections, and status shows headroom and poison."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from connector.setup.cli import app
from tests.integration.admin.console_stack import ConsoleStack
from tests.integration.admin.test_console_connections import connections

pytestmark = pytest.mark.timeout(120)
runner = CliRunner()


def allow(stack: ConsoleStack, consent_url: str, tenant_id: str) -> str:
    """The admin's browser: allow access on Xero's page; returns where Xero sends it back."""
    params = {k: v[0] for k, v in parse_qs(urlsplit(consent_url).query).items()}
    answer = httpx.post(consent_url.split("?")[0], data={**params, "tenant_id": tenant_id})
    assert answer.status_code == 302
    return answer.headers["location"]


@pytest.mark.organisations("Contoso NZ")
def test_c2_cli_connect_twice_keeps_one_record_and_prints_the_consent_url(
    stack: ConsoleStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.setup import cli

    tenant = stack.tenants["Contoso NZ"]
    started: list[str] = []

    def recording_start(*args: Any) -> Any:
        consent = real_start(*args)
        started.append(consent.url)
        return consent

    real_start = cli.start_consent
    monkeypatch.setattr(cli, "start_consent", recording_start)
    # The admin pastes the address Xero sent the browser to.
    monkeypatch.setattr(cli.typer, "prompt", lambda *_a, **_k: allow(stack, started[-1], tenant))
    for expected in ("Connected", "Reconnected (same connection record)"):
        result = runner.invoke(app, ["connect"])
        assert result.exit_code == 0, result.output
        assert "/identity/connect/authorize?" in result.output and "code_challenge=" in result.output
        assert expected in result.output
    (only,) = connections()
    assert only.tenant_id == tenant and only.is_default


@pytest.mark.organisations("Contoso NZ")
def test_c2_custom_connection_gets_its_tenant_from_connections(stack: ConsoleStack) -> None:
    assert stack.platform.xero is not None
    custom = stack.platform.xero.seed_organisation(
        name="Custom Co", client_id=stack.xero_client_id, custom_connection=True
    )
    result = runner.invoke(app, ["connect", "--custom", "--name", "Custom Co"])
    assert result.exit_code == 0, result.output
    (connection,) = connections()
    assert connection.tenant_id == custom.tenant_id != ""
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    assert "Custom Co" in status.output and "poison" in status.output

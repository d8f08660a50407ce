"""The real Xero adapter on a scripted wire: call metrics by status, 429s, the day budget, token
refreshes, and urllib3 dependency spans inside the handler's trace (O1)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
from pydantic import SecretStr

from connector.adapters.storage.token_store import TokenSet
from connector.adapters.xero.client import XeroClient, XeroClientFactory
from connector.errors import RateLimitedError, XeroValidationError
from connector.settings import load_settings
from connector.telemetry import metrics as m
from devstack.asgi_server import serve_in_thread
from tests.fakes.storage import MemoryTokenStore
from tests.integration.xero.scripted_xero import ScriptedXero
from tests.unit.telemetry.capture import Captured, captured_telemetry

CONNECTION = "conn-1"


@pytest.fixture
def telemetry() -> Iterator[Captured]:
    with captured_telemetry() as captured:
        instrumentor = URLLib3Instrumentor()
        instrumentor.instrument(tracer_provider=captured.tracer_provider)
        try:
            yield captured
        finally:
            instrumentor.uninstrument()


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ScriptedXero, XeroClient]]:
    server = ScriptedXero()
    with serve_in_thread(server.app()) as running:
        monkeypatch.setenv("XERO_API_BASE_URL", running.base_url + "/api.xro/2.0")
        monkeypatch.setenv("XERO_CONNECTIONS_BASE_URL", running.base_url)
        monkeypatch.setenv("XERO_IDENTITY_BASE_URL", running.base_url)
        store = MemoryTokenStore()
        token = TokenSet(
            access_token=SecretStr("access-1"),
            refresh_token=SecretStr("refresh-1"),
            expires_at=time.time() + 1800,
            scope=["offline_access"],
        )
        store.save(CONNECTION, token)
        yield server, XeroClientFactory(load_settings(), store).for_connection(CONNECTION, "tenant-1")


def test_o1_xero_calls_429s_budget_and_token_refreshes_are_measured(
    telemetry: Captured, scripted: tuple[ScriptedXero, XeroClient]
) -> None:
    server, client = scripted
    server.answer(401, {"Title": "Unauthorized"})
    server.answer(200, {"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 1800})
    server.answer(200, {"TaxRates": []}, {"X-DayLimit-Remaining": "4000"})
    server.answer(429, "", {"Retry-After": "30", "X-Rate-Limit-Problem": "minute"})
    server.answer(
        400,
        {"Type": "ValidationException", "Message": "A validation exception occurred"},
        {"X-DayLimit-Remaining": "1000"},  # errors carry Xero's headers too
    )

    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("process invoice.sync"):
        client.get_tax_rates()
        with pytest.raises(RateLimitedError):
            client.get_accounts()
        with pytest.raises(XeroValidationError):
            client.get_branding_themes()

    calls = {
        (dims["operation"], dims["status"]): value
        for dims, value in telemetry.points(m.XERO_CALLS)
        if dims["connection_id"] == CONNECTION
    }
    assert calls == {
        ("get_tax_rates", "401"): 1,
        ("get_tax_rates", "ok"): 1,
        ("get_accounts", "429"): 1,
        ("get_branding_themes", "400"): 1,
    }
    assert telemetry.total(m.XERO_RATE_LIMITED, operation="get_accounts") == 1
    assert telemetry.points(m.XERO_DAY_BUDGET) == [({"connection_id": CONNECTION}, pytest.approx(0.8))]
    assert telemetry.total(m.TOKEN_REQUESTS, status="200") == 1

    parent = telemetry.span("process invoice.sync")
    assert parent.context is not None
    dependencies = [span for span in telemetry.spans() if span.parent is not None]
    assert len(dependencies) == 5  # every HTTP request, the token refresh included
    assert {span.parent.span_id for span in dependencies if span.parent} == {parent.context.span_id}

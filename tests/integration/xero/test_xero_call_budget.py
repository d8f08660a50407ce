"""O3: every XeroClient call takes a slot from the organisation's shared budget."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.adapters.storage.rate_limit import RateLimiter, RateLimits
from connector.adapters.xero.client import XeroClient
from connector.errors import RateLimitedError
from connector.settings import load_settings
from devstack.xero.testing import XeroEmulatorHandle, running_xero_emulator
from tests.fakes.storage import MemoryLimiterBackend
from tests.integration.xero.test_xero_client_emulator import connect

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def xero() -> Iterator[XeroEmulatorHandle]:
    with running_xero_emulator() as handle:
        yield handle


def limited_client(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch, limiter: RateLimiter
) -> XeroClient:
    connected = connect(xero, monkeypatch)
    return XeroClient(
        load_settings(), "conn", connected.org.tenant_id, connected.store, limiter=limiter, max_wait_seconds=0
    )


def test_o3_calls_beyond_the_minute_budget_wait_without_reaching_xero(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = RateLimiter(MemoryLimiterBackend(), RateLimits(per_minute=2, concurrent=5, per_day=100))
    client = limited_client(xero, monkeypatch, limiter)
    before = len(xero.request_log())
    assert client.get_tax_rates()
    assert client.get_accounts()
    with pytest.raises(RateLimitedError) as raised:
        client.get_branding_themes()
    assert raised.value.problem == "local"
    assert 0 < raised.value.retry_after <= 60
    assert len(xero.request_log()) - before == 2  # the third call never left the process


def test_o3_xero_429_blocks_the_tenant_for_everyone(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = RateLimiter(MemoryLimiterBackend())
    client = limited_client(xero, monkeypatch, limiter)
    xero.add_fault("rate_limit", method="GET", path="/TaxRates", retry_after=30, problem="minute")
    with pytest.raises(RateLimitedError):
        client.get_tax_rates()
    decision = limiter.try_acquire(client.tenant_id)
    assert decision.permit is None
    assert 25 < decision.wait_seconds <= 30

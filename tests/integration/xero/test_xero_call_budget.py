"""O3: every XeroClient call takes a slot from the organisation's shared budget."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient

from connector.adapters.storage.rate_limit import BlobLimiterBackend, RateLimiter, RateLimits
from connector.adapters.xero.client import XeroClient
from connector.budget import waiting_for_xero_at_most
from connector.errors import RateLimitedError
from connector.settings import load_settings
from devstack.azurite import Azurite
from devstack.xero.testing import XeroEmulatorHandle, running_xero_emulator
from tests.fakes.storage import MemoryLimiterBackend
from tests.integration.xero.test_xero_client_emulator import Connected, connect

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def xero() -> Iterator[XeroEmulatorHandle]:
    with running_xero_emulator() as handle:
        yield handle


def limited_client(connected: Connected, limiter: RateLimiter, max_wait_seconds: float = 0) -> XeroClient:
    return XeroClient(
        load_settings(),
        "conn",
        connected.org.tenant_id,
        connected.store,
        limiter=limiter,
        max_wait_seconds=max_wait_seconds,
    )


def blob_limiter(azurite: Azurite, container: str, limits: RateLimits) -> RateLimiter:
    """One instance's limiter: its own storage client, as another process would have."""
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    return RateLimiter(BlobLimiterBackend(service, container), limits)


def test_o3_calls_beyond_the_minute_budget_wait_without_reaching_xero(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = RateLimiter(MemoryLimiterBackend(), RateLimits(per_minute=2, concurrent=5, per_day=100))
    client = limited_client(connect(xero, monkeypatch), limiter)
    before = len(xero.request_log())
    assert client.get_tax_rates()
    assert client.get_accounts()
    with pytest.raises(RateLimitedError) as raised:
        client.get_branding_themes()
    assert raised.value.problem == "local"
    assert 0 < raised.value.retry_after <= 61  # the window, plus the margin for the trip to Xero
    assert len(xero.request_log()) - before == 2  # the third call never left the process


def test_o3_work_that_matters_less_waits_less_for_a_slot(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = RateLimiter(MemoryLimiterBackend(), RateLimits(per_minute=1, concurrent=5, per_day=100))
    client = limited_client(connect(xero, monkeypatch), limiter, max_wait_seconds=120)
    assert client.get_tax_rates()  # the minute's one slot
    started = time.monotonic()
    with waiting_for_xero_at_most(0.5), pytest.raises(RateLimitedError):
        client.get_accounts()  # an online link, say: not worth a minute's wait
    assert time.monotonic() - started < 5  # refused at once, not after the client's 120 s


def test_o3_xero_429_blocks_the_tenant_for_everyone(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = RateLimiter(MemoryLimiterBackend())
    client = limited_client(connect(xero, monkeypatch), limiter)
    xero.add_fault("rate_limit", method="GET", path="/TaxRates", retry_after=30, problem="minute")
    with pytest.raises(RateLimitedError):
        client.get_tax_rates()
    decision = limiter.try_acquire(client.tenant_id)
    assert decision.permit is None
    assert 25 < decision.wait_seconds <= 30


def test_o3_two_instances_on_one_blob_budget_never_take_xero_over_its_limit(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch, azurite: Azurite
) -> None:
    connected = connect(xero, monkeypatch)
    xero.set_limits(rate_limit_per_minute=10)
    try:
        limits = RateLimits(per_minute=10)
        container = f"rl-{uuid.uuid4().hex[:12]}"
        clients = [limited_client(connected, blob_limiter(azurite, container, limits)) for _ in range(2)]
        made: list[int] = []
        refused: list[RateLimitedError] = []
        guard = threading.Lock()

        def instance(client: XeroClient) -> None:
            for _ in range(8):
                try:
                    client.get_tax_rates()
                    with guard:
                        made.append(1)
                except RateLimitedError as exc:
                    with guard:
                        refused.append(exc)

        threads = [threading.Thread(target=instance, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        xero.set_limits(rate_limit_per_minute=60)
    log = xero.request_log(tenant=connected.org.tenant_id)
    assert len(made) == 10 and len(refused) == 6
    assert all(exc.problem == "local" for exc in refused)  # our own budget said no, Xero never had to
    assert not [entry for entry in log if entry.get("status") == 429]


def test_o3_storage_round_trips_per_xero_call_through_the_client(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch, azurite: Azurite
) -> None:
    """The figure: blob requests per Xero call for 300 real calls (before the leases: 4.0)."""
    connected = connect(xero, monkeypatch)
    xero.set_limits(rate_limit_per_minute=1000)  # the figure, not the wait, is what is measured here
    try:
        limits = RateLimits(per_minute=1000)
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        backend = BlobLimiterBackend(service, f"rl-{uuid.uuid4().hex[:12]}")
        client = limited_client(connected, RateLimiter(backend, limits), max_wait_seconds=5)
        calls = 300
        for _ in range(calls):
            client.get_tax_rates()
    finally:
        xero.set_limits(rate_limit_per_minute=60)
    per_call = backend.round_trips / calls
    print(f"\nlimiter storage round trips per Xero call: {per_call:.2f} ({backend.round_trips} for {calls})")
    assert per_call <= 1.0

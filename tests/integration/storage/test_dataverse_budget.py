"""O3: the Dataverse side paced by its own service protection budget, shared across instances.

Per user 6,000 requests in any 5 minutes and 52 at once (reference dataverse.md, "Service protection
limits"). The simulation checks the real numbers on an injected clock; the emulator tests check the
transport against a Dataverse that enforces (scaled-down) limits with 429 + Retry-After.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.batch import ChangeOperation
from connector.adapters.dataverse.budget import DATAVERSE_LIMITS, DataverseBudget, budget_key, paced_limits
from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.http import DataverseTransport
from connector.adapters.storage.rate_limit import BlobLimiterBackend, LimiterBackend, RateLimiter, RateLimits
from connector.errors import RateLimitedError
from devstack.azurite import Azurite
from devstack.dataverse.testing import DataverseEmulatorHandle, running_dataverse_emulator
from tests.fakes.storage import MemoryLimiterBackend
from tests.integration.storage.limiter_sim import FakeClock, Timers, limiter_on, run

# The emulator's 5-minute window squeezed into 2 real seconds (time_scale 150), and ours to match.
SCALE = 150.0
SMALL = RateLimits(
    per_window=20,
    window_seconds=300.0 / SCALE,
    concurrent=4,
    per_day=None,
    lease_size=5,
    lease_seconds=0.3,
    margin_seconds=0.25,
    resolution_seconds=0.05,
)


def test_o3_two_instances_stay_within_6000_per_5_minutes_and_52_at_once() -> None:
    clock = FakeClock()
    timers = Timers(clock)
    backend = MemoryLimiterBackend()
    pair = [limiter_on(backend, clock, timers, DATAVERSE_LIMITS, name) for name in ("first", "second")]
    outcome = run(pair, 40, 7000, clock, timers, step=0.1, duration=(0.05, 0.6), seed=3)
    assert outcome.most_in_any_window(300.0) == 6000
    assert outcome.most_at_once() == 52  # 80 workers want more
    assert outcome.elapsed > 300  # the 6,001st request waited for the window
    assert backend.round_trips / 7000 < 0.1
    # One-second buckets keep a full window's state small enough for one cheap blob.
    assert len(backend.state("tenant").model_dump_json()) < 16_000


def test_o3_paced_in_slices_a_backlog_never_waits_minutes_and_stays_within_6000_per_5_minutes() -> None:
    clock = FakeClock()
    timers = Timers(clock)
    backend = MemoryLimiterBackend()
    pair = [limiter_on(backend, clock, timers, paced_limits(), name) for name in ("first", "second")]
    outcome = run(pair, 40, 9000, clock, timers, step=0.1, duration=(0.05, 0.6), seed=3)
    assert outcome.most_in_any_window(300.0) <= 6000
    starts = sorted(outcome.starts)
    assert max(b - a for a, b in pairwise(starts)) <= 21  # never a minutes-long pause
    assert outcome.elapsed > 300 + 60  # 9,000 requests need more than one window


@pytest.fixture(scope="module")
def emulator() -> Iterator[DataverseEmulatorHandle]:
    options = {"window_seconds": 300.0, "time_scale": SCALE, "execution_ms_per_window": None}
    with running_dataverse_emulator(requests_per_window=20, max_concurrent=4, **options) as handle:
        yield handle


@pytest.fixture
def dv(emulator: DataverseEmulatorHandle) -> DataverseEmulatorHandle:
    emulator.reset()
    return emulator


def transport(
    dv: DataverseEmulatorHandle, backend: LimiterBackend, limits: RateLimits = SMALL
) -> DataverseTransport:
    """One instance's transport: its own limiter on the shared budget."""
    limiter = RateLimiter(backend, limits, service="Dataverse")
    return DataverseTransport(
        dv.base_url,
        StaticTokenCredential(dv.token),
        backoff=0.01,
        budget=DataverseBudget(limiter, dv.base_url),
    )


async def read_accounts(instance: DataverseTransport, count: int) -> None:
    await asyncio.gather(*(instance.send("GET", "accounts", params={"$top": "1"}) for _ in range(count)))


@pytest.mark.integration
async def test_o3_two_transports_on_one_blob_budget_are_never_throttled(
    dv: DataverseEmulatorHandle, azurite: Azurite
) -> None:
    container = f"dv-{uuid.uuid4().hex[:12]}"
    instances = [
        transport(
            dv,
            BlobLimiterBackend(
                BlobServiceClient.from_connection_string(azurite.connection_string), container
            ),
        )
        for _ in range(2)
    ]
    try:
        await asyncio.gather(*(read_accounts(instance, 25) for instance in instances))  # 50: 2.5 windows
    finally:
        for instance in instances:
            await instance.close()
    throttling = dv.throttling()
    assert throttling["throttled"] == 0
    assert throttling["peak_accepted_per_window"] <= 20
    assert sum(instance.total_calls for instance in instances) == 50  # none sent twice
    peak_concurrent = max(user["peak_concurrent"] for user in throttling["users"].values())
    assert peak_concurrent <= 4


@pytest.mark.integration
async def test_o3_a_dataverse_429_blocks_every_instance_until_retry_after(
    dv: DataverseEmulatorHandle,
) -> None:
    backend = MemoryLimiterBackend()
    hit, other = transport(dv, backend), transport(dv, backend)
    dv.add_fault("429", retry_after=2, count=1)
    first = asyncio.create_task(hit.send("GET", "accounts"))
    for _ in range(200):  # until the 429 has been answered
        if any(entry.get("status") == 429 for entry in dv.requests()):
            break
        await asyncio.sleep(0.01)
    await asyncio.gather(first, read_accounts(other, 3))
    log = dv.requests()
    refused_at = [datetime.fromisoformat(entry["at"]) for entry in log if entry.get("status") == 429]
    served_at = [datetime.fromisoformat(entry["at"]) for entry in log if entry.get("status") == 200]
    assert len(refused_at) == 1 and len(served_at) == 4  # no hammering: one 429, then all went through
    assert min((at - refused_at[0]).total_seconds() for at in served_at) >= 1.9
    await hit.close()
    await other.close()


@pytest.mark.integration
async def test_o3_a_dataverse_batch_counts_as_one_request(dv: DataverseEmulatorHandle) -> None:
    backend = MemoryLimiterBackend()
    limiter = RateLimiter(backend, SMALL, service="Dataverse")
    async with DataverseClient(dv.base_url, StaticTokenCredential(dv.token), backoff=0.01) as client:
        client.transport.budget = DataverseBudget(limiter, dv.base_url)
        creates = [ChangeOperation("POST", "accounts", {"name": f"Batch {n}"}) for n in range(3)]
        assert len(await client.execute_change_set(creates)) == 3
    limiter.flush()  # settle the lease: only calls really made stay counted
    state = backend.state(budget_key(dv.base_url))
    assert sum(calls for _, calls in state.window) == 1
    assert dv.throttling()["peak_accepted_per_window"] == 1


@pytest.mark.integration
async def test_o3_the_burst_remaining_header_tightens_the_shared_budget(dv: DataverseEmulatorHandle) -> None:
    limits = RateLimits(per_window=20, window_seconds=300.0, concurrent=4, per_day=None, lease_size=5)
    # Another tool signed in as the same application user spends most of the window.
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {dv.token}"}) as other_app:
        for _ in range(17):
            assert (await other_app.get(dv.api_url + "accounts")).status_code == 200
    dv.set_throttling(time_scale=1.0)  # freeze the emulator's window for the rest of the test
    backend = MemoryLimiterBackend()
    told, fresh = transport(dv, backend, limits), transport(dv, backend, limits)
    await told.send("GET", "accounts")  # answered with 2 left: now every instance knows
    fresh.max_retry_wait = 0
    with pytest.raises(RateLimitedError) as raised:
        await fresh.send("GET", "accounts")
    assert raised.value.problem == "local"
    assert dv.throttling()["throttled"] == 0
    await told.close()
    await fresh.close()

"""Hosts as instances of one app (issue 10): message leases renewed while work runs, the timer lease,
and host processes behind one front end that survives a SIGKILLed instance."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from azure.storage.queue import QueueClient

from connector.adapters.storage.queues import StorageQueueSender, queue_service_from_settings
from connector.bootstrap import App, use_app
from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage, SweepMessage, XeroEventMessage
from connector.settings import get_settings
from devstack.asgi_server import BackgroundServer
from devstack.azurite import Azurite
from devstack.host.app import LocalFunctionsHost
from devstack.host.singleton import ListenerLock
from devstack.local_platform import LocalPlatform, PlatformPorts
from devstack.paths import REPO_ROOT
from tests.devstack.host.test_local_host import FAST_QUEUES, _configure
from tests.fixtures import dataverse_payloads as payloads

pytestmark = pytest.mark.integration

MASTER = {"x-functions-key": "local-master-key"}


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def _example_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings the test does not name (other timers' schedules…) as the example file has them."""
    values = json.loads((REPO_ROOT / "local.settings.json.example").read_text())["Values"]
    for name, value in values.items():
        if name not in os.environ:
            monkeypatch.setenv(name, str(value))


def test_a_message_outliving_its_lease_is_renewed_not_handed_out_again(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(azurite, monkeypatch, sweep_schedule="0 0 0 1 1 *")
    _example_settings(monkeypatch)
    get_settings.cache_clear()
    settings = get_settings()
    calls: list[object] = []

    async def slow(message: object) -> None:
        calls.append(message)
        await asyncio.sleep(5)  # 2.5 leases

    types = (InvoiceSyncMessage, InvoiceCancelMessage, XeroEventMessage, SweepMessage)
    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    use_app(App(settings=settings, queues=queues, handlers=dict.fromkeys(types, slow)))
    host = LocalFunctionsHost(load_settings_file=False, queue_options=FAST_QUEUES, queue_lease_seconds=2)
    server = BackgroundServer(host.asgi_app()).start()
    try:
        response = httpx.post(
            f"{server.base_url}/api/dataverse/invoices",
            params={"code": "test-dataverse-secret"},
            content=payloads.encode(payloads.invoice_create()),
        )
        assert response.status_code == 202
        queue = QueueClient.from_connection_string(azurite.connection_string, settings.invoice_sync_queue)
        wait_until(lambda: len(calls) == 1)
        wait_until(lambda: queue.get_queue_properties().approximate_message_count == 0, timeout=15)
        assert len(calls) == 1  # without renewal it is visible again after 2 s and handled twice
    finally:
        server.stop()
        use_app(None)


def test_only_one_instance_holds_a_timer_lease_and_the_other_takes_over(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("AzureFunctionsWebHost__hostid", f"test-{uuid.uuid4().hex[:8]}")

    async def scenario() -> None:
        first, second = ListenerLock("sweep_timer"), ListenerLock("sweep_timer")
        stop_first, stop_second = asyncio.Event(), asyncio.Event()
        tasks = [asyncio.create_task(first.run(stop_first))]
        await asyncio.sleep(1)
        tasks.append(asyncio.create_task(second.run(stop_second)))
        await asyncio.sleep(1)
        assert (first.held, second.held) == (True, False)
        stop_first.set()  # the holder shuts down and releases the lease
        await tasks[0]
        for _ in range(100):
            if second.held:
                break
            await asyncio.sleep(0.1)
        assert second.held
        stop_second.set()
        await tasks[1]

    asyncio.run(scenario())


@pytest.fixture
def two_instances(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalPlatform]:
    for name in ("AzureWebJobsStorage", "DATAVERSE_URL", "DATAVERSE_STATIC_TOKEN", "XERO_API_BASE_URL"):
        monkeypatch.setenv(name, "placeholder")  # the platform writes these; monkeypatch puts them back
    monkeypatch.setenv("DATAVERSE_WEBHOOK_SECRET", "local-dataverse-webhook-secret")
    platform = LocalPlatform(ports=PlatformPorts.free(), host_processes=2, queue_lease_seconds=10).start()
    try:
        yield platform
    finally:
        platform.stop()
        use_app(None)


def _instances(platform: LocalPlatform, calls: int = 6) -> set[str]:
    return {
        httpx.get(f"{platform.host_url}/admin/host/status", headers=MASTER, timeout=10).json()["instance"]
        for _ in range(calls)
    }


def test_the_front_end_spreads_calls_and_survives_a_killed_instance(two_instances: LocalPlatform) -> None:
    platform = two_instances
    assert _instances(platform) == {"host-1", "host-2"}
    first, second = platform.hosts
    first.kill()
    assert not first.alive
    assert _instances(platform) == {"host-2"}
    webhook = httpx.post(
        f"{platform.host_url}/api/dataverse/invoices",
        params={"code": "local-dataverse-webhook-secret"},
        content=payloads.encode(payloads.invoice_create()),
        timeout=10,
    )
    assert webhook.status_code == 202
    first.start()
    assert first.starts == 2
    assert _instances(platform) == {"host-1", "host-2"}
    second.kill()
    first.kill()
    down = httpx.get(f"{platform.host_url}/admin/host/status", headers=MASTER, timeout=10)
    assert down.status_code == 503

"""Duplicate webhook deliveries, as an at-least-once asynchronous service may make them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devstack.dataverse.seed import stable_id
from devstack.dataverse.testing import DataverseEmulatorHandle, running_dataverse_emulator
from tests.devstack.dataverse.conftest import Receiver


@pytest.fixture
def hooked(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any], receiver: tuple[Receiver, str]
) -> Receiver:
    """An async webhook step on Create of account, delivered to the loopback receiver."""
    sink, base_url = receiver
    endpoint = api.post(
        "serviceendpoints",
        json={"name": "dup", "url": f"{base_url}/hook", "contract": 8, "authtype": 4, "authvalue": "k"},
        headers={"Prefer": "return=representation"},
    ).json()["serviceendpointid"]
    message_filter = stable_id("sdkmessagefilter", "Create", "account")
    step = {
        "name": "dup: Create of account",
        "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({endpoint})",
        "sdkmessageid@odata.bind": f"/sdkmessages({stable_id('sdkmessage', 'Create')})",
        "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({message_filter})",
        "stage": 40,
        "mode": 1,
        "asyncautodelete": True,
    }
    assert api.post("sdkmessageprocessingsteps", json=step).status_code == 204
    return sink


def create_accounts(api: httpx.Client, count: int, prefix: str) -> None:
    for n in range(count):
        assert api.post("accounts", json={"name": f"{prefix} {n}"}).status_code == 204


def test_o7_duplicates_at_the_given_rate_with_the_same_body_and_headers(
    dv: DataverseEmulatorHandle, api: httpx.Client, hooked: Receiver
) -> None:
    dv.start_duplicate_deliveries(0.2, seed=7, delay=0.01)
    create_accounts(api, 100, "Dup")
    assert dv.wait_for_deliveries(20)
    deliveries = dv.deliveries
    originals = {d.id: d for d in deliveries if d.duplicate_of is None}
    copies = [d for d in deliveries if d.duplicate_of is not None]
    assert len(originals) == 100
    # Binomial(100, 0.2): 20 expected, sd 4; outside 8..32 means the rate is not applied.
    assert 8 <= len(copies) <= 32
    for copy in copies:
        original = originals[copy.duplicate_of or ""]
        assert (copy.body, copy.headers, copy.url) == (original.body, original.headers, original.url)
        assert copy.ok and copy.sent_at is not None and original.sent_at is not None
        assert copy.sent_at > original.sent_at
    assert len(hooked.received) == 100 + len(copies)
    report = dv.start_duplicate_deliveries(0.2, seed=7, delay=0.01)
    assert report["considered"] == 0  # restarting resets the counters
    listed = httpx.get(dv.base_url + "/_emulator/deliveries").json()
    assert sum(1 for item in listed if item["duplicate"]) == len(copies)


def test_o7_same_seed_duplicates_the_same_deliveries(
    dv: DataverseEmulatorHandle, api: httpx.Client, hooked: Receiver
) -> None:
    def duplicated_positions(prefix: str) -> list[int]:
        dv.emulator.webhooks.clear()
        dv.start_duplicate_deliveries(0.3, seed=11, delay=0.0)
        create_accounts(api, 40, prefix)
        assert dv.wait_for_deliveries(20)
        order = [d.id for d in dv.deliveries if d.duplicate_of is None]
        return sorted(order.index(d.duplicate_of or "") for d in dv.deliveries if d.duplicate_of)

    first, second = duplicated_positions("A"), duplicated_positions("B")
    assert first == second and first


def test_o7_duplicates_stop_when_turned_off(
    dv: DataverseEmulatorHandle, api: httpx.Client, hooked: Receiver
) -> None:
    dv.start_duplicate_deliveries(1.0, seed=1, delay=0.0)
    create_accounts(api, 3, "On")
    assert dv.wait_for_deliveries(10)
    assert len(hooked.received) == 6
    dv.stop_duplicate_deliveries()
    create_accounts(api, 5, "Off")
    assert dv.wait_for_deliveries(10)
    assert len(hooked.received) == 11
    assert sum(1 for d in dv.deliveries if d.duplicate_of) == 3


def test_o7_duplicate_rate_option_applies_from_the_start() -> None:
    with running_dataverse_emulator(webhook_duplicate_rate=0.5, webhook_duplicate_seed=3) as handle:
        report = handle.duplicate_deliveries()
        assert (report["rate"], report["seed"]) == (0.5, 3)
        handle.stop_duplicate_deliveries()
        assert handle.duplicate_deliveries()["rate"] == 0
        handle.reset()
        assert handle.duplicate_deliveries()["rate"] == 0.5

"""Chaos and scale support: the seeded random fault mix, commit_then_hold, and the request log's size,
cursor and count (issues 10 and 11; spec O3 rate limits, O7 proof, I7 create exactly once)."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import httpx
import pytest

from devstack.xero.config import EmulatorOptions
from devstack.xero.testing import SeededOrganisation, XeroEmulatorHandle, running_xero_emulator

BODY = {
    "Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Chaos Co"}, "LineItems": [{"Description": "x"}]}]
}


def api(xero: XeroEmulatorHandle, org: SeededOrganisation) -> httpx.Client:
    headers = {"Authorization": f"Bearer {org.token['access_token']}", "xero-tenant-id": org.tenant_id}
    return httpx.Client(base_url=xero.base_url + "/api.xro/2.0", headers=headers, timeout=10)


def fault_sequence(xero: XeroEmulatorHandle, org: SeededOrganisation, calls: int) -> list[Any]:
    start = xero.request_count()["last_seq"]
    with api(xero, org) as client:
        for _ in range(calls):
            client.get("/Organisation")
    return [e["fault"] for e in xero.request_log(since=start)]


def test_o7_random_faults_are_reproducible_from_the_seed(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    rates = {"status": 0.3, "rate_limit": 0.2}
    xero.random_faults(7, rates)
    first = fault_sequence(xero, org, 60)
    xero.random_faults(7, rates)
    again = fault_sequence(xero, org, 60)
    xero.random_faults(8, rates)
    other = fault_sequence(xero, org, 60)
    assert first == again and first != other
    assert {"status", "rate_limit", None} == set(first)
    fired = xero.faults()
    assert fired["random"]["considered"] == 60
    assert fired["fired"]["status"] == first.count("status") + again.count("status") + other.count("status")


def test_o7_random_statuses_and_429s_have_xero_shapes(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    xero.random_faults(3, {"status": 0.5, "rate_limit": 0.5}, status=[502, 503], retry_after=4, problem="day")
    with api(xero, org) as client:
        answers = [client.get("/Organisation") for _ in range(30)]
    codes = {r.status_code for r in answers}
    assert codes == {429, 502, 503}
    limited = next(r for r in answers if r.status_code == 429)
    assert limited.headers["Retry-After"] == "4" and limited.headers["X-Rate-Limit-Problem"] == "day"


def test_i7_faults_that_do_not_commit_leave_state_alone(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    xero.random_faults(1, {"status": 0.6, "rate_limit": 0.2, "drop": 0.2}, method="PUT", path="/Invoices$")
    with api(xero, org) as client:
        for index in range(20):
            try:
                answer = client.put("/Invoices", json=BODY, headers={"Idempotency-Key": f"k-{index}"})
                assert answer.status_code in (429, 500)
            except httpx.HTTPError:
                pass  # a drop
        assert client.get("/Invoices").json()["Invoices"] == []  # GETs are outside the mix's method
    assert xero.state.idempotency == {}


def test_i7_commit_then_faults_apply_the_write_first(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    xero.random_faults(
        5, {"commit_then_timeout": 0.5, "commit_then_drop": 0.5}, method="PUT", path="/Invoices$", delay=0.05
    )
    lost = 0
    with api(xero, org) as client:
        for _ in range(10):
            with pytest.raises(httpx.HTTPError):
                client.put("/Invoices", json=BODY)
            lost += 1
    assert len(xero.state.tenants[org.tenant_id].invoices) == lost == 10
    fired = xero.faults()["fired"]
    assert fired["commit_then_timeout"] + fired["commit_then_drop"] == 10
    assert {e["status"] for e in xero.request_log() if e["method"] == "PUT"} == {"200 (not delivered)"}


def test_o7_delete_stops_the_mix_and_count_caps_it(xero: XeroEmulatorHandle, org: SeededOrganisation) -> None:
    xero.random_faults(2, {"status": 1.0}, count=3)
    assert [f for f in fault_sequence(xero, org, 5)] == ["status", "status", "status", None, None]
    xero.random_faults(2, {"status": 1.0})
    stopped = xero.stop_random_faults()
    assert stopped is not None and stopped["fired"] == {}
    assert fault_sequence(xero, org, 3) == [None, None, None]
    assert xero.faults()["random"] is None


def test_o7_bad_mixes_are_refused(xero: XeroEmulatorHandle) -> None:
    for body in (
        {"seed": 1, "rates": {"status": 0.7, "drop": 0.5}},
        {"seed": 1, "rates": {"meteor": 0.1}},
        {"rates": {"status": 0.1}},
        {"seed": 1, "rates": {"status": 0.1}, "status": 200},
    ):
        assert xero.control.post("/faults/random", json=body).status_code == 400


def test_c2_token_endpoint_is_reached_only_by_rules_that_name_it(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": org.token["refresh_token"],
        "client_id": org.client_id,
        "client_secret": org.client_secret,
    }
    xero.random_faults(9, {"status": 1.0})
    assert httpx.post(f"{xero.base_url}/connect/token", data=form).status_code == 200
    xero.stop_random_faults()
    xero.add_fault("status", method="POST", path="^/connect/token$", status=503)
    refused = httpx.post(f"{xero.base_url}/connect/token", data=form)
    assert refused.status_code == 503
    assert [e["fault"] for e in xero.request_log() if e["path"] == "/connect/token"] == ["status"]


# ---- commit_then_hold ---------------------------------------------------------------------------
def wait_for_held(xero: XeroEmulatorHandle, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        held = xero.held()
        if len(held) >= count:
            return held
        time.sleep(0.02)
    raise AssertionError("no request was held")


def test_i7_commit_then_hold_until_dropped_then_the_retry_replays(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    xero.add_fault("commit_then_hold", method="PUT", path="/Invoices$")
    with api(xero, org) as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.put, "/Invoices", json=BODY, headers={"Idempotency-Key": "create-1"})
        (held,) = wait_for_held(xero)
        assert (held["method"], held["path"], held["tenant"]) == (
            "PUT",
            "/api.xro/2.0/Invoices",
            org.tenant_id,
        )
        assert held["idempotency_key"] == "create-1" and held["status"] == 200 and held["since"]
        assert len(xero.state.tenants[org.tenant_id].invoices) == 1  # committed while held
        assert client.get("/Organisation").status_code == 200  # the held call keeps no concurrency slot
        assert xero.release_held() == 1
        with pytest.raises(httpx.HTTPError):
            pending.result(timeout=5)
        replay = client.put("/Invoices", json=BODY, headers={"Idempotency-Key": "create-1"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(xero.state.tenants[org.tenant_id].invoices) == 1 and xero.held() == []
    assert [e["status"] for e in xero.request_log() if e["fault"]] == ["200 (not delivered)"]


def test_i7_held_answers_can_be_delivered_or_time_out(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    xero.add_fault("commit_then_hold", method="PUT", path="/Invoices$", count=2, hold_seconds=0.3)
    xero.add_fault("commit_then_hold", method="PUT", path="/Invoices$", count=1)
    with api(xero, org) as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        with pytest.raises(httpx.HTTPError):
            client.put("/Invoices", json=BODY)  # nobody releases it: dropped after hold_seconds
        assert 0.25 < time.monotonic() - started < 3
        pending = pool.submit(client.put, "/Invoices", json=BODY)
        (held,) = wait_for_held(xero)
        assert xero.release_held(ids=["not-this-one"]) == 0
        assert xero.release_held(ids=[held["id"]], answer=True) == 1
        delivered = pending.result(timeout=5)
    assert delivered.status_code == 200 and delivered.json()["Invoices"][0]["InvoiceID"]
    assert len(xero.state.tenants[org.tenant_id].invoices) == 2


def test_o7_random_mix_can_hold_and_reset_drops_what_is_held(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    xero.random_faults(4, {"commit_then_hold": 1.0}, method="PUT")
    with api(xero, org) as client, concurrent.futures.ThreadPoolExecutor(2) as pool:
        pending = [pool.submit(client.put, "/Invoices", json=BODY) for _ in range(2)]
        wait_for_held(xero, 2)
        assert xero.faults()["held"] == 2
        xero.reset()
        for future in pending:
            with pytest.raises(httpx.HTTPError):
                future.result(timeout=5)
    assert xero.held() == [] and xero.faults()["random"] is None


# ---- request log --------------------------------------------------------------------------------
def test_o3_request_log_is_sized_by_the_option_and_counts_without_downloading(
    xero: XeroEmulatorHandle, org: SeededOrganisation
) -> None:
    assert xero.state.request_log.maxlen == EmulatorOptions().request_log_size >= 10_000 * 5
    other = xero.seed_organisation(name="Other Co")
    with api(xero, org) as client, api(xero, other) as second:
        client.get("/Organisation")
        client.put("/Invoices", json=BODY)
        second.get("/Organisation")
        cursor = xero.request_count()["last_seq"]
        client.get("/Invoices")
    assert xero.request_count(tenant=org.tenant_id)["count"] == 3
    assert xero.request_count(tenant=other.tenant_id)["count"] == 1
    assert xero.request_count(tenant=org.tenant_id, method="put", path="/Invoices$")["count"] == 1
    assert xero.request_count(since=cursor) == {"count": 1, "last_seq": cursor + 1, "dropped": 0}
    assert [e["method"] for e in xero.request_log(since=cursor)] == ["GET"]
    assert len(xero.request_log(tenant=other.tenant_id)) == 1
    assert xero.control.get("/requests/count", params={"path": "("}).status_code == 400


def test_o3_a_small_log_drops_the_oldest_and_says_so() -> None:
    with running_xero_emulator(request_log_size=4, rate_limits_enabled=False) as xero:
        org = xero.seed_organisation()
        with api(xero, org) as client:
            for _ in range(7):
                client.get("/Organisation")
        assert [e["seq"] for e in xero.request_log()] == [4, 5, 6, 7]
        assert xero.request_count() == {"count": 4, "last_seq": 7, "dropped": 3}
        xero.set_limits(request_log_size=2)
        assert [e["seq"] for e in xero.request_log()] == [6, 7]
        assert xero.request_count()["dropped"] == 5
        xero.reset()
        assert xero.state.request_log.maxlen == 4 and xero.request_count()["last_seq"] == 0

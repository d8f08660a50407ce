"""Service protection API limits per user over a sliding window (api-limits.md), on by default."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx

from devstack.dataverse.testing import DataverseEmulatorHandle
from tests.devstack.dataverse.conftest import batch_body

BURST = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME = "x-ms-ratelimit-time-remaining-xrm-requests"


def test_o3_limits_are_on_by_default_and_every_response_carries_the_headers(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    limits = dv.throttling()["limits"]
    assert limits == {
        "enabled": True,
        "requests_per_window": 6000,
        "window_seconds": 300.0,
        "max_concurrent": 52,
        "execution_ms_per_window": 1_200_000,
        "time_scale": 1.0,
    }
    first, second = api.get("accounts"), api.get("nosuchset")
    assert (first.status_code, second.status_code) == (200, 404)
    assert (first.headers[BURST], second.headers[BURST]) == ("5999", "5998")
    seconds = float(second.headers[TIME].replace(",", ""))
    assert 1190 < seconds <= 1200 and "," in second.headers[TIME]


def test_o3_request_over_the_limit_is_429_with_retry_after_and_code(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    dv.set_throttling(requests_per_window=20)
    statuses = [api.get("accounts", params={"$select": "name"}).status_code for _ in range(20)]
    assert statuses == [200] * 20
    refused = api.get("accounts")
    assert refused.status_code == 429
    assert refused.json()["error"] == {
        "code": "0x80072322",
        "message": "Number of requests exceeded the limit of 20 over time window of 300 seconds.",
    }
    retry_after = int(refused.headers["Retry-After"])
    assert 290 <= retry_after <= 300
    assert refused.headers[BURST] == "0"
    assert api.post("accounts", json={"name": "Refused Co"}).status_code == 429
    assert not any(row["name"] == "Refused Co" for row in dv.state.rows["account"].values())
    counts = dv.throttling()["users"][dv.emulator.app_user_id]
    assert (counts["requests_in_window"], counts["throttled"]) == (20, {"requests": 2})


def test_o3_a_batch_counts_as_one_request(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    dv.set_throttling(requests_per_window=5)
    body, headers = batch_body(str(api.base_url), ["accounts?$select=name"] * 10)
    batch = api.post("$batch", content=body, headers=headers)
    assert batch.status_code == 200 and batch.text.count("HTTP/1.1 200") == 10
    assert batch.headers[BURST] == "4"
    assert [api.get("contacts").status_code for _ in range(4)] == [200] * 4
    assert api.get("contacts").status_code == 429
    assert dv.throttling()["users"][dv.emulator.app_user_id]["requests_in_window"] == 5


def test_o3_the_window_slides_in_emulated_time(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    # 100 emulated seconds per real second: the 300-second window lasts 3 real seconds.
    dv.set_throttling(requests_per_window=5, time_scale=100.0)
    assert [api.get("accounts").status_code for _ in range(5)] == [200] * 5
    refused = api.get("accounts")
    assert refused.status_code == 429
    retry_after = float(refused.headers["Retry-After"])
    assert 0 < retry_after <= 3.0
    time.sleep(retry_after + 0.05)
    assert api.get("accounts").status_code == 200
    snapshot = dv.throttling()
    assert snapshot["emulated_seconds"] >= 300
    assert snapshot["peak_per_window"] == 6 and snapshot["peak_accepted_per_window"] == 5


def test_o3_concurrent_requests_over_the_limit_are_429(
    dv: DataverseEmulatorHandle, seeded: dict[str, Any]
) -> None:
    dv.set_throttling(max_concurrent=3)
    dv.add_fault("slow", delay=0.6, count=100, path_contains="accounts")
    statuses: list[int] = []
    codes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def call() -> None:
        headers = {"Authorization": f"Bearer {dv.token}"}
        with httpx.Client(timeout=10) as client:
            start.wait()
            response = client.get(dv.api_url + "accounts", headers=headers)
        with lock:
            statuses.append(response.status_code)
            if response.status_code == 429:
                codes.append(response.json()["error"]["code"])

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(statuses) == [200] * 3 + [429] * 5
    assert set(codes) == {"0x80072326"}
    users = dv.throttling()["users"][dv.emulator.app_user_id]
    assert users["peak_concurrent"] == 3 and users["throttled"] == {"concurrency": 5}


def test_o3_combined_execution_time_over_the_limit_is_429(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    dv.set_throttling(execution_ms_per_window=100)
    dv.add_fault("slow", delay=0.06, count=2, path_contains="accounts")
    assert [api.get("accounts").status_code for _ in range(2)] == [200, 200]
    refused = api.get("contacts")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "0x80072321"
    assert error["message"].startswith(
        "Combined execution time of incoming requests exceeded limit of 100 milliseconds"
    )
    assert 290 <= int(refused.headers["Retry-After"]) <= 300
    assert refused.headers[TIME] == "0.00"


def test_o3_limits_count_per_user(dv: DataverseEmulatorHandle, seeded: dict[str, Any]) -> None:
    dv.set_throttling(requests_per_window=3)
    other_user = str(uuid.uuid4())
    mine = {"Authorization": f"Bearer {dv.token}"}
    theirs = {"Authorization": f"Bearer {dv.issue_token(other_user)}"}
    with httpx.Client(base_url=dv.api_url) as client:
        assert [client.get("accounts", headers=mine).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert client.get("accounts", headers=theirs).status_code == 200
        assert client.get("WhoAmI", headers=theirs).json()["UserId"] == other_user
    users = dv.throttling()["users"]
    assert users[other_user]["requests_in_window"] == 2
    assert users[dv.emulator.app_user_id]["received"] == 4


def test_o3_limits_change_at_run_time_and_reset_restores_the_defaults(
    dv: DataverseEmulatorHandle, api: httpx.Client
) -> None:
    with httpx.Client(base_url=dv.base_url) as control:
        bad = control.post("/_emulator/throttling", json={"requests_per_window": 0})
        assert bad.status_code == 400
        assert control.post("/_emulator/throttling", json={"nonsense": 1}).status_code == 400
        off = control.post("/_emulator/throttling", json={"enabled": False, "requests_per_window": 1})
        assert off.json()["limits"]["enabled"] is False
    assert [api.get("WhoAmI").status_code for _ in range(3)] == [200] * 3
    dv.set_throttling(enabled=True)
    assert api.get("WhoAmI").status_code == 429
    dv.reset()
    assert dv.throttling()["limits"]["requests_per_window"] == 6000
    assert api.get("WhoAmI").status_code == 200


def test_o3_unauthenticated_requests_are_not_counted(dv: DataverseEmulatorHandle) -> None:
    dv.set_throttling(requests_per_window=1)
    with httpx.Client(base_url=dv.api_url) as client:
        assert [client.get("accounts").status_code for _ in range(3)] == [401] * 3
    assert dv.throttling()["users"] == {}


def test_o3_faults_answer_before_service_protection_counts(
    dv: DataverseEmulatorHandle, api: httpx.Client
) -> None:
    limit = 2
    dv.set_throttling(requests_per_window=limit)
    dv.add_fault("status", status=503, count=3)
    assert [api.get("accounts").status_code for _ in range(3)] == [503] * 3
    assert [api.get("accounts").status_code for _ in range(limit + 1)] == [200] * limit + [429]
    assert dv.throttling()["peak_per_window"] == 3 + limit + 1

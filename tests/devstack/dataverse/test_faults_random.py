"""Seeded random faults for chaos runs: reproducible, filtered, answered before anything commits."""

from __future__ import annotations

from typing import Any

import httpx

from devstack.dataverse.testing import DataverseEmulatorHandle

RATES = {"429": 0.1, "503": 0.1}


def statuses(api: httpx.Client, count: int) -> list[int]:
    return [api.get("accounts", params={"$select": "name"}).status_code for _ in range(count)]


def test_o7_same_seed_gives_the_same_fault_sequence(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    dv.start_random_faults(7, RATES)
    first = statuses(api, 100)
    report = dv.faults()["random"]
    dv.start_random_faults(7, {"503": 0.1, "429": 0.1})  # same rates, other order: same draws
    second = statuses(api, 100)
    dv.start_random_faults(8, RATES)
    other_seed = statuses(api, 100)
    assert first == second and first != other_seed
    assert set(first) == {200, 429, 503}
    assert report["seen"] == 100
    assert report["fired"] == {"429": first.count(429), "503": first.count(503)}
    # 20% of 100 draws: far outside 5..40 would mean the rates are not applied.
    assert 5 <= report["fired_total"] <= 40


def test_o7_random_faults_have_dataverse_shapes(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    dv.start_random_faults(1, {"429": 1.0}, retry_after=2)
    throttled = api.get("accounts")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()["error"]["code"] == "0x80072322"
    assert "x-ms-ratelimit-burst-remaining-xrm-requests" in throttled.headers
    dv.start_random_faults(1, {"503": 1.0})
    unavailable = api.get("accounts")
    assert unavailable.status_code == 503 and set(unavailable.json()["error"]) == {"code", "message"}


def test_o7_faulted_writes_commit_nothing(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    before = len(dv.state.rows["account"])
    dv.start_random_faults(3, {"429": 0.5, "503": 0.5}, method="POST")
    created = [api.post("accounts", json={"name": f"Chaos {n}"}).status_code for n in range(10)]
    assert set(created) <= {429, 503}
    assert len(dv.state.rows["account"]) == before
    assert api.get("accounts").status_code == 200  # GETs do not match the method filter


def test_o7_path_filter_and_stop(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    dv.start_random_faults(5, {"503": 1.0}, path_contains="contacts")
    assert api.get("contacts").status_code == 503
    assert api.get("accounts").status_code == 200
    assert dv.faults()["random"]["seen"] == 1
    dv.stop_random_faults()
    assert dv.faults()["random"] is None
    assert api.get("contacts").status_code == 200


def test_o7_invalid_random_fault_settings_are_refused(dv: DataverseEmulatorHandle) -> None:
    with httpx.Client(base_url=dv.base_url) as control:
        for body in (
            {"seed": 1, "rates": {"429": 0.7, "503": 0.7}},
            {"seed": 1, "rates": {"418": 0.1}},
            {"seed": "x", "rates": {"429": 0.1}},
            {"seed": 1, "rates": {"429": 0.1}, "colour": "red"},
        ):
            assert control.post("/_emulator/faults/random", json=body).status_code == 400, body
    assert dv.faults()["random"] is None

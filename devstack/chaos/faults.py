"""The emulators' fault knobs, through their control APIs: the random mix, held answers, counts."""

from __future__ import annotations

from typing import Any

import httpx

from devstack.chaos.config import ChaosConfig


class KnobMissingError(RuntimeError):
    """An emulator does not offer a control the run needs: a run without it would prove nothing."""


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code in (404, 405):
        raise KnobMissingError(f"{what}: {response.request.method} {response.request.url.path} is not there")
    response.raise_for_status()
    return response.json() if response.content else None


class XeroFaults:
    """`/_emulator/faults…` of the Xero emulator."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url + "/_emulator", timeout=30)
        self._random: dict[str, Any] | None = None
        self.rearmed = 0

    def start_random(self, config: ChaosConfig) -> None:
        self._random = {"seed": config.seed, "rates": config.xero_rates}
        _check(self.http.post("/faults/random", json=self._random), "Xero random faults")

    def stop_random(self) -> None:
        self._random = None
        _check(self.http.delete("/faults/random"), "Xero random faults")

    def hold(self, method: str, path: str, count: int = 1) -> None:
        """The next `count` matching writes are applied and their answers held until released."""
        rule = {"kind": "commit_then_hold", "method": method, "path": path, "count": count}
        _check(self.http.post("/faults", json=rule), "Xero commit_then_hold")

    def held(self) -> list[dict[str, Any]]:
        return list(_check(self.http.get("/faults/held"), "Xero held requests") or [])

    def release(self, ids: list[str] | None = None, *, answer: bool = False) -> None:
        """End held requests (all, or `ids`): their connections dropped, or answered after all."""
        body: dict[str, Any] = {"answer": answer} | ({"ids": ids} if ids is not None else {})
        _check(self.http.post("/faults/release", json=body), "Xero release")

    def clear_rules(self) -> None:
        """Drop a hold nothing matched. The emulator clears its random mix with it: that goes back on, on
        a new seed (the same one would replay the draws from the start)."""
        _check(self.http.delete("/faults"), "Xero fault rules")
        if self._random is not None:
            self.rearmed += 1
            body = {**self._random, "seed": self._random["seed"] + 1000 * self.rearmed}
            _check(self.http.post("/faults/random", json=body), "Xero random faults")

    def close(self) -> None:
        self.http.close()


class DataverseFaults:
    """`/_emulator/…` of the Dataverse emulator: random 429/503 and duplicate webhook deliveries."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url + "/_emulator", timeout=30)
        self.report: dict[str, Any] = {}  # the random mix's own account, kept when it stops

    def start_random(self, config: ChaosConfig) -> None:
        body = {"seed": config.seed, "rates": config.dataverse_rates}
        _check(self.http.post("/faults/random", json=body), "Dataverse random faults")
        duplicates = {"rate": config.duplicate_webhook_rate, "seed": config.seed}
        _check(self.http.post("/webhooks/duplicates", json=duplicates), "Dataverse duplicate deliveries")

    def stop_random(self) -> None:
        self.report = dict(_check(self.http.get("/faults/random"), "Dataverse random faults") or {})
        _check(self.http.delete("/faults/random"), "Dataverse random faults")
        _check(self.http.delete("/webhooks/duplicates"), "Dataverse duplicate deliveries")

    def random_report(self) -> dict[str, Any]:
        return self.report

    def duplicates_report(self) -> dict[str, Any]:
        response = self.http.get("/webhooks/duplicates")
        return dict(response.json()) if response.status_code == 200 and response.content else {}

    def throttling(self) -> dict[str, Any]:
        response = self.http.get("/throttling")
        return dict(response.json()) if response.status_code == 200 and response.content else {}

    def close(self) -> None:
        self.http.close()

"""Run the emulator in-process for tests: `with running_dataverse_emulator() as dv: ...`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx

from devstack.asgi_server import serve_in_thread
from devstack.dataverse.emulator import Emulator, EmulatorOptions, create_app
from devstack.dataverse.store import EmulatorState
from devstack.dataverse.webhooks import Delivery


class DataverseEmulatorHandle:
    """A running emulator: URLs, token, live state, and helpers for the control API."""

    def __init__(self, emulator: Emulator, base_url: str) -> None:
        self.emulator = emulator
        self.base_url = base_url
        self.api_url = f"{base_url}/api/data/v9.2/"
        self.token = emulator.options.static_token or emulator.issue_token()
        self._http = httpx.Client(base_url=base_url, timeout=30)

    @property
    def state(self) -> EmulatorState:
        return self.emulator.state

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self._http.request(method, path, json=json)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} → {response.status_code}: {response.text}")
        return response.json() if response.content else None

    # ---- control API --------------------------------------------------------------------------
    def reset(self) -> None:
        self._call("POST", "/_emulator/reset")

    def seed(self) -> dict[str, Any]:
        return self._call("POST", "/_emulator/seed")  # type: ignore[no-any-return]

    def issue_token(self, user_id: str | None = None) -> str:
        """A bearer token; `user_id` makes it another systemuser's (service protection counts per user)."""
        body = {"user_id": user_id} if user_id else None
        return str(self._call("POST", "/_emulator/token", body)["access_token"])

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_emulator/requests")  # type: ignore[no-any-return]

    def clear_requests(self) -> None:
        self._call("DELETE", "/_emulator/requests")

    def add_fault(self, kind: str, **options: Any) -> dict[str, Any]:
        """kind: "429" (retry_after), "status" (status), "slow" (delay); count, path_contains, method."""
        return self._call("POST", "/_emulator/faults", {"kind": kind, **options})  # type: ignore[no-any-return]

    def clear_faults(self) -> None:
        """Counted and random faults."""
        self._call("DELETE", "/_emulator/faults")

    def faults(self) -> dict[str, Any]:
        """{"faults": [...], "random": {... "seen", "fired"} | None}."""
        return self._call("GET", "/_emulator/faults")  # type: ignore[no-any-return]

    def start_random_faults(
        self,
        seed: int,
        rates: dict[str, float],
        retry_after: float = 1,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> dict[str, Any]:
        """Seeded random faults, e.g. rates={"429": 0.025, "503": 0.025}."""
        body = {
            "seed": seed,
            "rates": rates,
            "retry_after": retry_after,
            "method": method,
            "path_contains": path_contains,
        }
        return self._call("POST", "/_emulator/faults/random", body)  # type: ignore[no-any-return]

    def stop_random_faults(self) -> None:
        self._call("DELETE", "/_emulator/faults/random")

    def throttling(self) -> dict[str, Any]:
        """Service protection: limits, per-user counts, `peak_per_window`."""
        return self._call("GET", "/_emulator/throttling")  # type: ignore[no-any-return]

    def set_throttling(self, **limits: Any) -> dict[str, Any]:
        """Any of requests_per_window, window_seconds, max_concurrent, execution_ms_per_window,
        time_scale, enabled."""
        return self._call("POST", "/_emulator/throttling", limits)  # type: ignore[no-any-return]

    def clear_throttling_counts(self) -> dict[str, Any]:
        return self._call("DELETE", "/_emulator/throttling")  # type: ignore[no-any-return]

    def start_duplicate_deliveries(self, rate: float, seed: int = 0, delay: float = 0.05) -> dict[str, Any]:
        body = {"rate": rate, "seed": seed, "delay": delay}
        return self._call("POST", "/_emulator/webhooks/duplicates", body)  # type: ignore[no-any-return]

    def duplicate_deliveries(self) -> dict[str, Any]:
        """{"rate", "seed", "delay", "considered", "duplicated"}."""
        return self._call("GET", "/_emulator/webhooks/duplicates")  # type: ignore[no-any-return]

    def stop_duplicate_deliveries(self) -> None:
        self._call("DELETE", "/_emulator/webhooks/duplicates")

    def privilege_checks(self, user_id: str | None = None) -> dict[str, dict[str, list[str]]]:
        """Per checked user: the privileges its requests used (`used`) and were refused (`denied`)."""
        path = "/_emulator/security/checks" + (f"?user={user_id}" if user_id else "")
        return self._call("GET", path)  # type: ignore[no-any-return]

    def clear_privilege_checks(self) -> None:
        self._call("DELETE", "/_emulator/security/checks")

    def create_user(self, fullname: str, application_id: str | None = None) -> str:
        """A systemuser with no roles (an application user when `application_id` is given), created
        through the Web API as an administrator would; returns its id."""
        body: dict[str, Any] = {
            "fullname": fullname,
            "domainname": f"{fullname.lower().replace(' ', '.')}@emulator",
        }
        if application_id:
            body["applicationid"] = application_id
        headers = {"Authorization": f"Bearer {self.token}", "Prefer": "return=representation"}
        response = self._http.post("/api/data/v9.2/systemusers", json=body, headers=headers)
        if response.status_code >= 400:
            raise RuntimeError(f"creating user {fullname} → {response.status_code}: {response.text}")
        return str(response.json()["systemuserid"])

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Block until every pending webhook delivery has been attempted."""
        return self.emulator.webhooks.wait_idle(timeout)

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self.emulator.webhooks.deliveries)

    def async_operations(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_emulator/asyncoperations")  # type: ignore[no-any-return]

    # ---- a Sales user in the UI ---------------------------------------------------------------
    def ui_create_invoice(self, **invoice: Any) -> dict[str, Any]:
        """account_id | contact_id, name, currency, description, date_delivered, due_date,
        lines=[{product_number |
        product_id | write_in, quantity, price, discount, tax, producttypecode, parent}]."""
        return self._call("POST", "/_emulator/ui/invoices", invoice)  # type: ignore[no-any-return]

    def ui_add_line(self, invoice_id: str, **line: Any) -> dict[str, Any]:
        return self._call("POST", f"/_emulator/ui/invoices/{invoice_id}/lines", line)  # type: ignore[no-any-return]

    def ui_edit_invoice(self, invoice_id: str, **columns: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/_emulator/ui/invoices/{invoice_id}", columns)  # type: ignore[no-any-return]

    def ui_set_date_delivered(self, invoice_id: str, day: date | None = None) -> dict[str, Any]:
        body = {"date": day.isoformat()} if day else {}
        return self._call("POST", f"/_emulator/ui/invoices/{invoice_id}/date-delivered", body)  # type: ignore[no-any-return]

    def ui_mark_paid(self, invoice_id: str, partial: bool = False) -> dict[str, Any]:
        return self._call("POST", f"/_emulator/ui/invoices/{invoice_id}/mark-paid", {"partial": partial})  # type: ignore[no-any-return]

    def ui_cancel(self, invoice_id: str) -> dict[str, Any]:
        return self._call("POST", f"/_emulator/ui/invoices/{invoice_id}/cancel")  # type: ignore[no-any-return]

    def ui_delete(self, invoice_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/_emulator/ui/invoices/{invoice_id}")  # type: ignore[no-any-return]

    def close(self) -> None:
        self._http.close()


@contextmanager
def running_dataverse_emulator(**options: Any) -> Iterator[DataverseEmulatorHandle]:
    """Start the emulator on a free loopback port; options are `EmulatorOptions` fields."""
    emulator = Emulator(EmulatorOptions(**options))
    with serve_in_thread(create_app(emulator)) as server:
        handle = DataverseEmulatorHandle(emulator, server.base_url)
        try:
            yield handle
        finally:
            handle.close()
            emulator.webhooks.close()

"""The bench's platforms and what it does on them as users: Dynamics invoices, Xero approvals and
payments, the webhook steps an admin can switch off, and the two sides' state read straight from the
emulators (the bench never calls the Web API while it counts)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from connector.settings import Settings, get_settings
from devstack.host.http import master_key
from devstack.local_platform import LocalPlatform, PlatformPorts
from devstack.scenario import Scenario, set_up

CUSTOMERS = ("Contoso Ltd", "Fabrikam Inc", "O'Brien & Sons")
LINE = {"product_number": "WID-001", "quantity": "2", "price": "10.00", "tax": "3.00"}
INVOICE_TOTAL = Decimal("23.00")  # 2 × 10.00 + 3.00 tax
EXPORT_YES = 100000001
PAID, CANCELED = 2, 3
# A schedule that never fires during a run: the bench fires the sweep itself, where it wants one.
NEVER = "0 0 0 1 1 *"
SWEEP_TIMER = "sweep_timer"
SWEEP_SCHEDULE = "SWEEP_SCHEDULE"
# Reconcile runs at most this often per organisation; the bench sets it where it wants every sweep to
# pull, or speeds it up with the clock.
RECONCILE_INTERVAL = "RECONCILE_MIN_INTERVAL_SECONDS"
_DYNAMICS_ID = re.compile(r"[?&]id=([0-9a-fA-F-]{36})")
# The environment the platforms write; restored after each one so runs do not leak into each other.
_PLATFORM_ENV = (
    "AzureWebJobsStorage",
    "DATAVERSE_URL",
    "DATAVERSE_STATIC_TOKEN",
    "XERO_API_BASE_URL",
    "XERO_CONNECTIONS_BASE_URL",
    "XERO_IDENTITY_BASE_URL",
    "XERO_LOGIN_BASE_URL",
)


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for one platform's life, then put back what was there."""
    names = set(values) | set(_PLATFORM_ENV)
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def timer_settings() -> dict[str, str]:
    """Every schedule setting of the connector (`*_SCHEDULE`) with its production default."""
    return {
        str(f.alias): str(f.default)
        for f in Settings.model_fields.values()
        if f.alias and f.alias.endswith("_SCHEDULE") and isinstance(f.default, str)
    }


def production_setting(alias: str) -> str | None:
    found = [f.default for f in Settings.model_fields.values() if f.alias == alias]
    return str(found[0]) if found and found[0] is not None else None


def every(seconds: float) -> str:
    """An NCRONTAB schedule firing every `seconds` (a divisor of a minute, or whole minutes of an hour)."""
    whole = round(seconds)
    if 0 < whole < 60 and 60 % whole == 0:
        return f"*/{whole} * * * * *"
    if whole % 60 == 0 and 60 % (whole // 60) == 0:
        return f"0 */{whole // 60} * * * *"
    raise ValueError(f"no NCRONTAB schedule fires every {seconds:g}s")


def sped_up(factor: float) -> dict[str, str]:
    """Connector settings for a clock `factor` times faster: the sweep every 5 minutes / factor, and every
    `*_INTERVAL_SECONDS` setting divided by it. Other timers keep their production schedules."""
    settings = timer_settings()
    production_sweep = settings[SWEEP_SCHEDULE]
    if factor == 1:
        return settings
    if production_sweep != "0 */5 * * * *":
        raise ValueError(f"the bench speeds up a 5-minute sweep, not {production_sweep!r}")
    settings[SWEEP_SCHEDULE] = every(300 / factor)
    for f in Settings.model_fields.values():
        if f.alias and f.alias.endswith("_INTERVAL_SECONDS") and isinstance(f.default, int | float):
            settings[f.alias] = str(max(1, round(f.default / factor)))
    return settings


@contextmanager
def platform(
    *,
    env: dict[str, str] | None = None,
    host_processes: int = 0,
    xero_options: dict[str, Any] | None = None,
    dataverse_options: dict[str, Any] | None = None,
) -> Iterator[tuple[LocalPlatform, Scenario]]:
    """A fresh platform, set up as a new customer would (schema, webhooks, one Xero organisation).
    `env` are connector settings for its host (every timer off unless given a schedule)."""
    settings = {**{name: NEVER for name in timer_settings()}, **(env or {})}
    with environment(**settings):
        local = LocalPlatform(
            ports=PlatformPorts.free(),
            host_processes=host_processes,
            host_env=settings,
            xero_options=xero_options or {},
            dataverse_options=dataverse_options or {},
        )
        with local:
            yield local, set_up(local)


def fire_timer(local: LocalPlatform, name: str) -> None:
    """What a timer does when it fires, through the host's admin API."""
    response = httpx.post(
        f"{local.host_url}/admin/functions/{name}",
        json={},
        headers={"x-functions-key": master_key()},
        timeout=120,
    )
    response.raise_for_status()


def fire_sweep(local: LocalPlatform) -> None:
    fire_timer(local, SWEEP_TIMER)


def set_webhook_steps(local: LocalPlatform, enabled: bool) -> int:
    """Switch the connector's webhook steps on or off, as an admin can in Dataverse (a step's state).
    Off, invoices are made as if before the install, or with every event lost. Returns how many."""
    assert local.dataverse is not None
    headers = {"Authorization": f"Bearer {local.dataverse.token}"}
    with httpx.Client(base_url=local.dataverse.api_url, headers=headers, timeout=30) as client:
        response = client.get("sdkmessageprocessingsteps", params={"$select": "sdkmessageprocessingstepid"})
        response.raise_for_status()
        ids = [row["sdkmessageprocessingstepid"] for row in response.json()["value"]]
        state = {"statecode": 0, "statuscode": 1} if enabled else {"statecode": 1, "statuscode": 2}
        for step_id in ids:
            client.patch(f"sdkmessageprocessingsteps({step_id})", json=state).raise_for_status()
    return len(ids)


def create_invoice(scenario: Scenario, index: int, day: date | None = None) -> str:
    """As a Sales user: one invoice with one product line, for one of three customers in turn."""
    assert scenario.platform.dataverse is not None
    created = scenario.platform.dataverse.ui_create_invoice(
        account_id=scenario.account_id(CUSTOMERS[index % len(CUSTOMERS)]),
        name=f"Bench {index}",
        currency="NZD",
        date_delivered=(day or date.today()).isoformat(),
        lines=[LINE],
    )
    return str(created["id"]).lower()


def dynamics_id_of(url: object) -> str | None:
    found = _DYNAMICS_ID.search(str(url or ""))
    return found.group(1).lower() if found else None


@dataclass(frozen=True)
class XeroInvoice:
    invoice_id: str
    status: str
    amount_due: Decimal


def xero_invoices(local: LocalPlatform, tenant_id: str) -> dict[str, XeroInvoice]:
    """Live Xero invoices by the Dynamics invoice their Url links to."""
    assert local.xero is not None
    state = local.xero.state
    found: dict[str, XeroInvoice] = {}
    with state.lock:
        for invoice in state.tenants[tenant_id].invoices.values():
            dynamics_id = dynamics_id_of(invoice.get("Url"))
            if dynamics_id is None or invoice.get("Status") in ("DELETED", "VOIDED"):
                continue
            found[dynamics_id] = XeroInvoice(
                str(invoice["InvoiceID"]), str(invoice.get("Status")), Decimal(str(invoice.get("AmountDue")))
            )
    return found


@dataclass(frozen=True)
class DynamicsInvoice:
    state: int
    export_status: int | None
    xero_status: str | None
    amount_paid: Decimal | None
    credit_note_id: str | None
    online_invoice_url: str | None = None


def dynamics_invoices(local: LocalPlatform, ids: set[str] | None = None) -> dict[str, DynamicsInvoice]:
    """Each Dynamics invoice's state and its Xero details, from the emulator's rows (read under its lock
    without copying rows: a 10,000-invoice backlog is read every few seconds while it drains)."""
    assert local.dataverse is not None
    prefix = get_settings().dataverse_publisher_prefix
    invoice_col, export_col, status_col, paid_col, note_col, link_col = (
        f"{prefix}_{name}"
        for name in (
            "dynamicsinvoiceid",
            "exportstatus",
            "xerostatus",
            "amountpaid",
            "creditnoteid",
            "onlineinvoiceurl",
        )
    )
    state = local.dataverse.state
    with state.lock:
        states = {str(k).lower(): int(v.get("statecode") or 0) for k, v in state.rows["invoice"].items()}
        details = {
            str(row.get(invoice_col) or "").lower(): (
                row.get(export_col),
                row.get(status_col),
                row.get(paid_col),
                row.get(note_col),
                row.get(link_col),
            )
            for row in state.rows.get(f"{prefix}_xerodetail", {}).values()
        }
    found: dict[str, DynamicsInvoice] = {}
    for invoice_id, code in states.items():
        if ids is not None and invoice_id not in ids:
            continue
        export, status, paid, note, link = details.get(invoice_id, (None, None, None, None, None))
        found[invoice_id] = DynamicsInvoice(
            state=code,
            export_status=export,
            xero_status=status,
            amount_paid=Decimal(str(paid)) if paid is not None else None,
            credit_note_id=note,
            online_invoice_url=link,
        )
    return found


def synced(local: LocalPlatform, tenant_id: str, ids: set[str]) -> int:
    """How many of `ids` are in Xero and written back (export status Yes)."""
    in_xero = xero_invoices(local, tenant_id)
    dynamics = dynamics_invoices(local, ids)
    return sum(1 for i in ids if i in in_xero and i in dynamics and dynamics[i].export_status == EXPORT_YES)

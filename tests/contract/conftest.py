"""One Xero port, two implementations: the unit tests' FakeXero and the real adapter on the Xero emulator.

Every contract test runs once per side with the same assertions, so a fake can never be kinder than
the emulator. Each emulator test gets an organisation of its own (and so its own rate-limit window) on
one emulator per module.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from connector.adapters.storage.token_store import TokenSet
from connector.adapters.xero.client import XeroClient
from connector.domain.xero_records import XeroContactDraft, XeroInvoiceDraft, XeroLineItem
from connector.errors import RetryableError
from connector.ports import XeroPort
from connector.settings import load_settings
from devstack.xero.testing import XeroEmulatorHandle, running_xero_emulator
from tests.fakes.storage import MemoryTokenStore
from tests.fakes.xero import FakeXero

CUSTOMER = "Ridgeway University"  # seeded in every emulator organisation; added to every fake


@dataclass
class XeroSide:
    """A Xero port and what a Xero user (or the network) does to it, the same way on both sides."""

    name: str
    port: XeroPort
    contact_id: str
    approve: Callable[[str], None]
    pay: Callable[[str, Decimal | None], None]
    # The next email of this invoice fails as a 503 would, before Xero does anything.
    fail_next_email: Callable[[], None]

    def other_contact_id(self) -> str:
        return self.port.create_contact(
            XeroContactDraft(name=f"Other {uuid.uuid4().hex[:6]}"), key()
        ).contact_id


def key() -> str:
    return f"contract-{uuid.uuid4().hex}"


def line(
    quantity: str = "2", unit: str = "25.00", account_code: str | None = "200", **extra: object
) -> XeroLineItem:
    return XeroLineItem.model_validate(
        {
            "description": "Widget",
            "quantity": Decimal(quantity),
            "unit_amount": Decimal(unit),
            "account_code": account_code,
            **extra,
        }
    )


def draft(side: XeroSide, **overrides: object) -> XeroInvoiceDraft:
    """An ACCREC invoice of 2 × 25.00 on the sales account: 50.00 + 15% GST = 57.50."""
    values: dict[str, object] = {
        "type": "ACCREC",
        "contact_id": side.contact_id,
        "date": dt.date(2026, 11, 1),
        "due_date": dt.date(2026, 11, 20),
        "reference": f"ORD-{uuid.uuid4().hex[:8]}",
        "url": f"https://crm.example/main.aspx?etn=invoice&id={uuid.uuid4()}",
        "currency_code": "NZD",
        "line_items": [line()],
    }
    values.update(overrides)
    return XeroInvoiceDraft.model_validate(values)


@pytest.fixture(scope="module")
def xero_emulator() -> Iterator[XeroEmulatorHandle]:
    with running_xero_emulator() as handle:
        yield handle


def fake_side() -> XeroSide:
    fake = FakeXero(currencies={"NZD", "USD"})  # what the emulator seeds an NZ organisation with
    contact = fake.add_contact(CUSTOMER, "CUST-001")

    def approve(invoice_id: str) -> None:
        fake.approve(invoice_id)

    def pay(invoice_id: str, amount: Decimal | None) -> None:
        fake.pay(invoice_id, amount)

    def fail_next_email() -> None:
        fake.fail_next["email_invoice"] = RetryableError("Xero email_invoice: server error HTTP 503")

    return XeroSide("fake", fake, contact.contact_id, approve, pay, fail_next_email)


def emulator_side(handle: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> XeroSide:
    org = handle.seed_organisation(name=f"Contract {uuid.uuid4().hex[:6]}", country="NZ")
    for name, value in {
        "XERO_API_BASE_URL": handle.base_url + "/api.xro/2.0",
        "XERO_CONNECTIONS_BASE_URL": handle.base_url,
        "XERO_IDENTITY_BASE_URL": handle.base_url,
        "XERO_CLIENT_ID": org.client_id,
        "XERO_CLIENT_SECRET": org.client_secret,
        "XERO_TIMEOUT_SECONDS": "5",
    }.items():
        monkeypatch.setenv(name, value)
    store = MemoryTokenStore()
    token = {
        k: org.token[k] for k in ("access_token", "refresh_token", "expires_at", "scope") if k in org.token
    }
    store.save("conn", TokenSet.model_validate(token))
    client = XeroClient(load_settings(), "conn", org.tenant_id, store)
    contact = client.find_contact_by_name(CUSTOMER)
    assert contact is not None

    def approve(invoice_id: str) -> None:
        handle.approve(org.tenant_id, invoice_id)

    def pay(invoice_id: str, amount: Decimal | None) -> None:
        handle.pay(org.tenant_id, invoice_id, amount)

    def fail_next_email() -> None:
        handle.add_fault("status", method="POST", path="/Email$", status=503)

    return XeroSide("emulator", client, contact.contact_id, approve, pay, fail_next_email)


@pytest.fixture(params=["fake", "emulator"])
def xero(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[XeroSide]:
    if request.param == "fake":
        yield fake_side()
        return
    handle: XeroEmulatorHandle = request.getfixturevalue("xero_emulator")
    yield emulator_side(handle, monkeypatch)
    handle.control.delete("/faults")

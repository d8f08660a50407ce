"""B3's daily refresh through the real adapter on the Xero emulator: one GET /Contacts per page of 50
contacts, never one per contact, and both sides of each contact's balances (issue 14)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connector.adapters.storage.token_store import TokenSet
from connector.adapters.xero.client import XeroClient
from connector.domain.xero_records import XeroInvoiceDraft, XeroLineItem
from connector.services.balances import BalanceDependencies, refresh_waiting_balances
from connector.settings import load_settings
from devstack.xero.testing import XeroEmulatorHandle, running_xero_emulator
from tests import factories as f
from tests.fakes.dataverse import FakeDataverse
from tests.fakes.storage import MemoryTokenStore
from tests.unit.services.test_back_sync_costs import MemoryDirtyBalances

pytestmark = pytest.mark.integration

CONTACTS = 120


@pytest.fixture
def xero() -> Iterator[XeroEmulatorHandle]:
    with running_xero_emulator() as handle:
        yield handle


def test_b3_the_daily_refresh_reads_120_contacts_in_three_calls_with_both_balances(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"Customer {n:03d}" for n in range(CONTACTS)]
    org = xero.seed_organisation(name="Balances Co", country="NZ", contacts=[{"Name": n} for n in names])
    for name, value in {
        "XERO_API_BASE_URL": xero.base_url + "/api.xro/2.0",
        "XERO_IDENTITY_BASE_URL": xero.base_url,
        "XERO_CLIENT_ID": org.client_id,
        "XERO_CLIENT_SECRET": org.client_secret,
    }.items():
        monkeypatch.setenv(name, value)
    store = MemoryTokenStore()
    token = {
        k: org.token[k] for k in ("access_token", "refresh_token", "expires_at", "scope") if k in org.token
    }
    store.save("conn", TokenSet.model_validate(token))
    client = XeroClient(load_settings(), "conn", org.tenant_id, store)
    ids = {c["Name"]: c["ContactID"] for c in xero.state.tenants[org.tenant_id].contacts.values()}
    xero.set_today(dt.date(2026, 11, 21))
    for type_, account in (("ACCREC", "200"), ("ACCPAY", "300")):  # Customer 007 buys from us and sells to us
        line = XeroLineItem(
            description="Work", quantity=Decimal(1), unit_amount=Decimal("50.00"), account_code=account
        )
        draft = XeroInvoiceDraft(
            type=type_,
            contact_id=ids["Customer 007"],
            due_date=dt.date(2026, 11, 1),
            status="AUTHORISED",
            line_items=[line],
            invoice_number=f"N-{type_}",
        )
        client.create_invoice(draft, f"balances-{uuid.uuid4()}")

    dataverse = FakeDataverse()
    connection = f.connection(time_zone="UTC")
    dataverse.connections[connection.id] = connection
    for name in names:
        customer = f.customer(id=uuid.uuid5(f.NS, name), name=name, xero_contact_id=ids[name])
        dataverse.customers[customer.id] = customer
    deps = BalanceDependencies(
        dataverse,
        lambda _: client,
        MemoryDirtyBalances(),
        clock=lambda: datetime(2026, 11, 21, 9, tzinfo=UTC),
    )
    since = xero.request_count(tenant=org.tenant_id)["last_seq"]
    assert asyncio.run(refresh_waiting_balances(connection, deps)) == CONTACTS
    reads = xero.request_count(tenant=org.tenant_id, method="GET", path="/Contacts$", since=since)["count"]
    assert reads == 3  # 50 + 50 + 20, never 120
    sevens = uuid.uuid5(f.NS, "Customer 007")
    assert dataverse.balances[("account", sevens)] == (Decimal("57.50"), Decimal("57.50"))
    assert dataverse.supplier_balances[("account", sevens)] == (Decimal("57.50"), Decimal("57.50"))
    assert asyncio.run(refresh_waiting_balances(connection, deps)) == 0  # once a day

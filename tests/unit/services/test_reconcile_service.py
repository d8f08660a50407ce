"""reconcile with fakes of the ports, and the blob watermark store on Azurite (SPEC B4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connector.domain.dynamics import InvoiceState
from connector.domain.messages import XeroEventMessage
from connector.domain.xero_records import XeroInvoice
from connector.errors import RetryableError
from connector.services.back_sync import EventResult, apply_xero_event
from connector.services.reconcile import PAGE_SIZE, ReconcileDependencies, reconcile
from devstack.azurite import Azurite
from tests import factories as f
from tests.fakes.storage import MemoryWatermarkStore
from tests.unit.services.world import NOW, TENANT_ID, World, details_for, make_world

FIRST_LOOKBACK = timedelta(days=1)
OVERLAP = timedelta(minutes=5)


@dataclass
class Setup:
    world: World
    deps: ReconcileDependencies
    watermarks: MemoryWatermarkStore
    xero_invoice: XeroInvoice

    @property
    def state(self) -> InvoiceState:
        return self.world.dataverse.invoices[f.INVOICE_ID].state


def setup(max_pages: int = 20) -> Setup:
    """A tracked authorised invoice INV-0101 (NZD 115.00), last changed in Xero two hours ago."""
    world = make_world(f.connection(time_zone="UTC"))
    world.xero.now = NOW - timedelta(hours=2)
    contact = world.xero.add_contact("A. Datum Corporation")
    xero_invoice = world.xero.add_invoice(contact.contact_id, Decimal("115.00"), tax=Decimal("15.00"))
    invoice = f.invoice(
        customer=f.customer(xero_contact_id=contact.contact_id),
        currency_code="NZD",
        due_date=None,
        total_amount=Decimal("115.00"),
        total_tax=Decimal("15.00"),
    )
    details = details_for(
        xero_invoice, invoice.id, world.connection.id, online_invoice_url="https://in.xero.com/x"
    )
    world.dataverse.add(invoice, details)
    watermarks = MemoryWatermarkStore()
    deps = ReconcileDependencies(
        dataverse=world.dataverse,
        xero_for=world.xero_for,
        clock=world.now,
        watermarks=watermarks,
        first_lookback=FIRST_LOOKBACK,
        overlap=OVERLAP,
        max_pages=max_pages,
    )
    return Setup(world, deps, watermarks, xero_invoice)


def later(s: Setup, minutes: int) -> None:
    """Time passes, for Xero's UpdatedDateUTC and for our clock alike."""
    s.world.xero.now += timedelta(minutes=minutes)
    s.world.clock[0] += timedelta(minutes=minutes)


async def test_b4_reconcile_catches_a_lost_payment_webhook() -> None:
    s = setup()
    s.world.xero.now = NOW - timedelta(minutes=30)
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))  # its webhook never arrives

    report = await reconcile(s.world.connection, s.deps)

    assert s.state == InvoiceState.PAID
    assert s.world.dataverse.details[f.INVOICE_ID].amount_paid == Decimal("115.00")
    assert (report.since, report.watermark) == (NOW - FIRST_LOOKBACK, NOW - OVERLAP)
    assert (report.seen, report.tracked, report.updated, report.paid) == (1, 1, 1, 1)
    assert await s.watermarks.get(s.world.connection.id) == NOW - OVERLAP


async def test_b4_reconcile_pulls_only_what_changed_since_the_watermark() -> None:
    s = setup()
    await s.watermarks.set(s.world.connection.id, NOW - timedelta(hours=1))  # ours changed at -2h
    s.world.xero.now = NOW - timedelta(minutes=10)
    changed = s.world.xero.add_invoice(s.world.xero.add_contact("Walk-in").contact_id, Decimal("10.00"))

    report = await reconcile(s.world.connection, s.deps)

    assert (report.seen, report.tracked, report.updated) == (1, 0, 0)  # only the new, untracked one
    assert changed.updated_at is not None and changed.updated_at > report.since
    assert s.world.dataverse.writes == []


async def test_b4_reconcile_after_the_webhook_is_harmless() -> None:
    s = setup()
    later(s, 10)
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("40.00"))
    event = XeroEventMessage(
        tenant_id=TENANT_ID,
        event_category="INVOICE",
        event_type="UPDATE",
        resource_id=s.xero_invoice.invoice_id,
        resource_url="https://api.xero.com/api.xro/2.0/Invoices/x",
        event_date_utc="2026-11-21T12:10:00",
        correlation_id="event-1",
    )
    assert await apply_xero_event(event, s.deps) == EventResult.UPDATED
    writes = list(s.world.dataverse.writes)

    report = await reconcile(s.world.connection, s.deps)

    assert (report.tracked, report.updated) == (1, 0)
    assert s.world.dataverse.writes == writes
    assert s.world.dataverse.history_for(f.INVOICE_ID) == ["Paid NZD 40.00 of NZD 115.00, due NZD 75.00."]


@pytest.mark.parametrize("failing", ["xero", "dataverse"])
async def test_b4_watermark_moves_only_after_success(failing: str) -> None:
    s = setup()
    start = NOW - timedelta(hours=3)
    await s.watermarks.set(s.world.connection.id, start)
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))
    if failing == "xero":
        s.world.xero.fail_next["get_invoices_modified_since"] = RetryableError("Xero 503")
    else:
        s.world.dataverse.fail_next["commit_sync_results"] = RetryableError("Dataverse 503")

    with pytest.raises(RetryableError):
        await reconcile(s.world.connection, s.deps)
    assert await s.watermarks.get(s.world.connection.id) == start

    later(s, 5)
    report = await reconcile(s.world.connection, s.deps)
    assert report.since == start
    assert s.state == InvoiceState.PAID
    assert await s.watermarks.get(s.world.connection.id) == s.world.clock[0] - OVERLAP


async def test_b4_a_backlog_bigger_than_one_run_continues_on_the_next() -> None:
    s = setup(max_pages=1)
    other = s.world.xero.add_contact("Walk-in").contact_id
    for _ in range(PAGE_SIZE + 30):  # the tracked invoice, changed last, is on page 2
        later(s, 0)
        s.world.xero.now += timedelta(seconds=1)
        s.world.xero.add_invoice(other, Decimal("1.00"))
    s.world.xero.now += timedelta(seconds=1)
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))

    first = await reconcile(s.world.connection, s.deps)
    assert (first.seen, first.tracked, first.more) == (PAGE_SIZE, 0, True)
    assert first.watermark is not None and first.watermark < s.world.clock[0] - OVERLAP
    assert s.state == InvoiceState.ACTIVE

    second = await reconcile(s.world.connection, s.deps)
    assert second.since == first.watermark
    assert (second.tracked, second.paid, second.more) == (1, 1, False)
    assert s.state == InvoiceState.PAID


async def test_b4_a_connection_waiting_for_reconnect_is_skipped() -> None:
    s = setup()
    connection = s.world.connection.model_copy(update={"needs_reconnect": True})
    report = await reconcile(connection, s.deps)
    assert report.watermark is None
    assert sum(s.world.xero.calls.values()) == 0


def test_b4_blob_watermark_store_keeps_one_time_per_connection(azurite: Azurite) -> None:
    import asyncio

    from azure.storage.blob import BlobServiceClient

    from connector.adapters.storage.watermarks import BlobWatermarkStore

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    store = BlobWatermarkStore(service, container="watermarks-test")
    first, second = f.uid("connection-a"), f.uid("connection-b")
    at = datetime(2026, 11, 21, 23, 30, tzinfo=UTC) + timedelta(microseconds=123)

    async def scenario() -> None:
        assert await store.get(first) is None
        await store.set(first, at)
        await store.set(second, at - timedelta(days=1))
        assert await store.get(first) == at
        assert await BlobWatermarkStore(service, container="watermarks-test").get(second) == at - timedelta(
            days=1
        )

    asyncio.run(scenario())

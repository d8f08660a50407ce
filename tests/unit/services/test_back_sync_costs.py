"""What back-sync costs (issue 11): reads coalesced per delivery, balances refreshed in bulk after the
changes, the connector's own changes not re-read, reconcile skipping what webhooks already applied."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from connector.domain.dynamics import InvoiceState
from connector.services.back_sync import BackSyncDependencies, EventResult, apply_xero_event
from connector.services.balances import BalanceDependencies, refresh_waiting_balances
from connector.services.reconcile import ReconcileDependencies, reconcile
from connector.services.xero_reads import InvoiceReads
from tests import factories as f
from tests.fakes.storage import MemoryWatermarkStore
from tests.unit.services.test_back_sync_service import event, setup
from tests.unit.services.world import NOW, details_for


class MemoryDirtyBalances:
    def __init__(self) -> None:
        self.waiting: dict[object, set[tuple[object, object, str]]] = {}

    async def add(self, connection_id, customers) -> None:  # type: ignore[no-untyped-def]
        self.waiting.setdefault(connection_id, set()).update(customers)

    async def take(self, connection_id):  # type: ignore[no-untyped-def]
        return sorted(self.waiting.pop(connection_id, set()), key=str)


async def test_b2_events_of_one_delivery_cost_one_xero_read() -> None:
    s = setup()
    world = s.world
    others = []
    for n in range(2, 6):
        invoice = f.invoice(id=f.uid(f"invoice-{n}"), customer=s.customer, currency_code="NZD")
        xero_invoice = world.xero.add_invoice(s.xero_invoice.contact_id or "", Decimal("10.00"))
        world.dataverse.add(invoice, details_for(xero_invoice, invoice.id, world.connection.id))
        others.append(xero_invoice)
    for xero_invoice in [s.xero_invoice, *others]:
        world.xero.pay(xero_invoice.invoice_id, xero_invoice.amount_due)
    deps = BackSyncDependencies(
        dataverse=world.dataverse, xero_for=world.xero_for, clock=world.now, reads=InvoiceReads(0.05)
    )
    world.xero.calls.clear()
    events = [event(x.invoice_id, n=n) for n, x in enumerate([s.xero_invoice, *others])]
    results = await asyncio.gather(*(apply_xero_event(e, deps) for e in events))
    assert results == [EventResult.PAID] * 5
    assert world.xero.calls["get_invoices_by_ids"] == 1  # one read for the whole delivery
    assert world.xero.calls["get_invoice"] == 0


async def test_b3_balances_wait_for_one_bulk_refresh_instead_of_a_read_per_event() -> None:
    s = setup()
    world, waiting = s.world, MemoryDirtyBalances()
    balances = BalanceDependencies(world.dataverse, world.xero_for, waiting)
    deps = BackSyncDependencies(
        dataverse=world.dataverse, xero_for=world.xero_for, clock=world.now, balances=balances
    )
    world.xero.pay(s.xero_invoice.invoice_id, Decimal("15.00"))
    await apply_xero_event(event(s.xero_invoice.invoice_id, n=1), deps)
    world.xero.pay(s.xero_invoice.invoice_id, Decimal("100.00"))
    await apply_xero_event(event(s.xero_invoice.invoice_id, n=2), deps)
    assert world.xero.calls["get_contact"] == 0 and world.xero.calls["get_contacts_by_ids"] == 0

    assert await refresh_waiting_balances(world.connection, balances) == 1
    assert world.xero.calls["get_contacts_by_ids"] == 1
    assert world.dataverse.balances[("account", s.customer.id)] == (Decimal("0.00"), Decimal("0.00"))
    assert await refresh_waiting_balances(world.connection, balances) == 0  # nothing left: no call


async def test_x1_the_connectors_own_cancel_comes_back_as_events_that_are_not_re_read() -> None:
    s = setup()
    world = s.world
    details = world.dataverse.details[f.INVOICE_ID]
    world.dataverse.details[f.INVOICE_ID] = details.model_copy(
        update={"last_xero_write": NOW, "credit_note_id": "cn-1", "xero_status": "PAID"}
    )
    world.xero.calls.clear()
    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.IGNORED
    assert await apply_xero_event(event("cn-1", "CREDITNOTE"), s.deps) == EventResult.IGNORED
    assert sum(world.xero.calls.values()) == 0


async def test_b2_a_persons_approval_right_after_the_create_is_never_taken_for_an_echo() -> None:
    s = setup()
    world = s.world
    details = world.dataverse.details[f.INVOICE_ID]
    world.dataverse.details[f.INVOICE_ID] = details.model_copy(update={"last_xero_write": NOW})
    world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))
    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.PAID


async def test_b4_reconcile_skips_what_webhooks_applied_and_runs_at_most_once_an_interval() -> None:
    s = setup()
    world, watermarks = s.world, MemoryWatermarkStore()
    deps = ReconcileDependencies(
        dataverse=world.dataverse,
        xero_for=world.xero_for,
        clock=world.now,
        watermarks=watermarks,
        min_interval=timedelta(minutes=55),
    )
    await watermarks.set(world.connection.id, NOW - timedelta(hours=2))
    world.dataverse.calls.clear()
    report = await reconcile(world.connection, deps)
    assert report.tracked == 1 and report.updated == 0  # unchanged since its events were applied
    assert world.dataverse.calls["get_invoice_snapshot"] == 0  # so not read again
    assert world.dataverse.calls["find_tracked_invoices"] == 1

    world.clock[0] = NOW + timedelta(minutes=10)
    world.xero.calls.clear()
    assert (await reconcile(world.connection, deps)).watermark is None  # too soon: no Xero call
    assert sum(world.xero.calls.values()) == 0
    world.clock[0] = NOW + timedelta(hours=1)
    world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))
    assert (await reconcile(world.connection, deps)).paid == 1
    assert world.dataverse.invoices[f.INVOICE_ID].state == InvoiceState.PAID


async def test_b4_an_event_that_would_wait_for_the_budget_is_left_to_reconcile_which_runs_at_once() -> None:
    from connector.errors import RateLimitedError
    from connector.services.sweep_requests import SweepRequests
    from tests.fakes.queues import FakeQueueSender

    s = setup()
    world, watermarks, queues = s.world, MemoryWatermarkStore(), FakeQueueSender()
    s.deps.sweeps = SweepRequests(queues, "sync-poll", world.now)
    world.xero.pay(s.xero_invoice.invoice_id, s.xero_invoice.amount_due)
    world.xero.fail_next["get_invoices_by_ids"] = RateLimitedError("Xero call budget is used up for now", 40)
    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.LEFT_FOR_RECONCILE
    assert world.dataverse.writes == []  # nothing half-applied
    [asked] = [m for m in queues.sent if m.queue == "sync-poll"]
    assert '"reconcile_now":true' in asked.body and asked.visibility_timeout == 40

    deps = ReconcileDependencies(
        dataverse=world.dataverse,
        xero_for=world.xero_for,
        clock=world.now,
        watermarks=watermarks,
        min_interval=timedelta(minutes=55),
    )
    await watermarks.set(world.connection.id, NOW - timedelta(minutes=10))  # reconciled 10 minutes ago
    assert (await reconcile(world.connection, deps)).watermark is None  # too soon for the timer's
    report = await reconcile(world.connection, deps, force=True)  # the one asked for
    assert report.paid == 1
    assert world.dataverse.invoices[f.INVOICE_ID].state == InvoiceState.PAID


async def test_b4_even_a_short_wait_for_the_budget_leaves_the_event_to_reconcile() -> None:
    from connector.errors import RateLimitedError
    from connector.services.sweep_requests import SweepRequests
    from tests.fakes.queues import FakeQueueSender

    s = setup()
    queues = FakeQueueSender()
    s.deps.sweeps = SweepRequests(queues, "sync-poll", s.world.now)
    for n in (1, 2):  # a retried event would compete for the contended budget: it never retries itself
        s.world.xero.fail_next["get_invoices_by_ids"] = RateLimitedError("Xero: 5 calls at once", 1)
        result = await apply_xero_event(event(s.xero_invoice.invoice_id, n=n), s.deps)
        assert result == EventResult.LEFT_FOR_RECONCILE
    [asked] = [m for m in queues.sent if m.queue == "sync-poll"]  # one pull asked for, for both
    assert '"reconcile_now":true' in asked.body and asked.visibility_timeout == 1

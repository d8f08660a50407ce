"""B2 overdue figures and the amount due on the invoice, B3 supplier balances and the daily refresh, with
the fakes."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from connector.domain.dynamics import Customer
from connector.services.back_sync import EventResult, apply_xero_event
from connector.services.balances import BalanceDependencies, refresh_waiting_balances
from connector.services.reconcile import ReconcileDependencies, reconcile
from connector.services.upkeep import refresh_overdue
from tests import factories as f
from tests.fakes.storage import MemoryWatermarkStore
from tests.unit.services.test_back_sync_costs import MemoryDirtyBalances
from tests.unit.services.test_back_sync_service import event, setup
from tests.unit.services.world import NOW, World, make_world

DUE = date(2026, 11, 14)  # a week before NOW


async def test_b2_a_payment_event_writes_the_overdue_amount_and_days() -> None:
    s = setup(due_date=DUE)
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("15.00"))
    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.UPDATED
    details = s.world.dataverse.details[f.INVOICE_ID]
    assert (details.amount_overdue, details.days_overdue) == (Decimal("100.00"), 7)
    # Amount due on the Dynamics invoice too, without rewriting its unchanged total.
    invoice = s.world.dataverse.invoices[f.INVOICE_ID]
    assert (invoice.amount_due, invoice.total_amount) == (Decimal("100.00"), Decimal("115.00"))


async def test_b2_an_invoice_not_yet_due_is_not_overdue_and_writes_nothing_extra() -> None:
    s = setup(due_date=NOW.date() + timedelta(days=10))
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("15.00"))
    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    details = s.world.dataverse.details[f.INVOICE_ID]
    assert (details.amount_overdue, details.days_overdue) == (None, None)  # blank reads as none overdue


async def test_b2_reconcile_moves_days_overdue_on_as_days_pass_without_a_xero_read_per_invoice() -> None:
    s = setup(due_date=DUE)
    world = s.world
    world.xero.pay(s.xero_invoice.invoice_id, Decimal("15.00"))
    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    world.clock[0] = NOW + timedelta(days=3)  # nothing changes in Xero meanwhile
    world.xero.calls.clear()
    deps = ReconcileDependencies(
        dataverse=world.dataverse, xero_for=world.xero_for, clock=world.now, watermarks=MemoryWatermarkStore()
    )
    await reconcile(world.connection, deps)
    details = world.dataverse.details[f.INVOICE_ID]
    assert (details.amount_overdue, details.days_overdue) == (Decimal("100.00"), 10)
    assert set(world.xero.calls) == {"get_invoices_modified_since"}  # the pull only
    assert await refresh_overdue(world.connection, deps) == 0  # the same day again: nothing to write


async def test_b2_the_overdue_refresh_loses_to_a_payment_landing_meanwhile() -> None:
    s = setup(due_date=DUE)
    world = s.world
    world.xero.pay(s.xero_invoice.invoice_id, Decimal("15.00"))
    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    world.clock[0] = NOW + timedelta(days=1)
    deps = ReconcileDependencies(
        dataverse=world.dataverse, xero_for=world.xero_for, clock=world.now, watermarks=MemoryWatermarkStore()
    )
    stale = await world.dataverse.list_overdue_candidates(world.connection.id, world.now().date())
    await world.dataverse.update_xero_details(stale[0].id, {"amount_due": Decimal(0)}, None)  # back-sync won

    async def listed(connection_id: uuid.UUID, today: date) -> list[object]:
        return list(stale)

    world.dataverse.list_overdue_candidates = listed  # type: ignore[method-assign,assignment]
    assert await refresh_overdue(world.connection, deps) == 0  # its ETag is stale: skipped


def linked(world: World, count: int) -> list[Customer]:
    customers = []
    for n in range(count):
        contact = world.xero.add_contact(f"Customer {n}")
        customer = f.customer(
            id=uuid.uuid5(f.NS, f"linked-{n}"), name=contact.name, xero_contact_id=contact.contact_id
        )
        world.dataverse.customers[customer.id] = customer
        customers.append(customer)
    return customers


def balances(world: World, at: list[datetime]) -> BalanceDependencies:
    return BalanceDependencies(world.dataverse, world.xero_for, MemoryDirtyBalances(), clock=lambda: at[0])


async def test_b3_a_supplier_shows_what_we_owe_it() -> None:
    world = make_world(f.connection(time_zone="UTC"))
    [supplier] = linked(world, 1)
    assert supplier.xero_contact_id
    world.xero.add_invoice(supplier.xero_contact_id, Decimal("57.50"), type_="ACCPAY", due_date=DUE)
    world.xero.add_invoice(supplier.xero_contact_id, Decimal("20.00"), type_="ACCREC")
    deps = balances(world, [NOW])
    assert await refresh_waiting_balances(world.connection, deps) == 1
    assert world.dataverse.balances[("account", supplier.id)] == (Decimal("20.00"), Decimal(0))
    assert world.dataverse.supplier_balances[("account", supplier.id)] == (Decimal("57.50"), Decimal("57.50"))


async def test_b3_the_daily_refresh_costs_one_xero_call_per_page_of_contacts_and_runs_once_a_day() -> None:
    world = make_world(f.connection(time_zone="Pacific/Auckland"))
    customers = linked(world, 60)
    at = [NOW]
    deps = balances(world, at)
    assert await refresh_waiting_balances(world.connection, deps) == 60
    assert world.xero.calls["get_contacts_by_ids"] == 1  # the fake counts one call per bulk read…
    assert len(world.dataverse.balances) == 60  # …which the adapter makes in pages of 50 (2 calls)
    written = world.dataverse.calls["update_customer_xero"]
    # The same day (22 November in Auckland), even hours later: nothing is read or written again.
    at[0] = NOW + timedelta(hours=10)
    assert await refresh_waiting_balances(world.connection, deps) == 0
    assert world.xero.calls["get_contacts_by_ids"] == 1
    # The next day, only the customer whose balance moved is written.
    at[0] = NOW + timedelta(days=1)
    assert customers[7].xero_contact_id
    world.xero.add_invoice(customers[7].xero_contact_id, Decimal("30.00"))
    assert await refresh_waiting_balances(world.connection, deps) == 60
    assert world.dataverse.calls["update_customer_xero"] == written + 1
    assert world.dataverse.balances[("account", customers[7].id)] == (Decimal("30.00"), Decimal(0))

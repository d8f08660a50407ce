"""Back-sync when Xero's budget is short (SPEC B2, B4, O7): payments and status first, the online link
when the budget allows, and a pull cut short resumes where it stopped."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest

from connector.domain.dynamics import InvoiceState
from connector.domain.messages import SweepMessage
from connector.errors import DeferredError, RateLimitedError
from connector.services.back_sync import EventResult, apply_xero_event
from connector.services.reconcile import reconcile
from connector.services.sweep import LEASE_HELD_RETRY_SECONDS, SweepDependencies, sweep
from connector.services.upkeep import ONLINE_URLS_PER_RUN, fill_online_urls
from tests import factories as f
from tests.fakes.storage import MemoryLeases
from tests.unit.services.test_back_sync_service import event
from tests.unit.services.test_reconcile_service import Setup, later, setup
from tests.unit.services.world import NOW, details_for


def tracked_invoices(s: Setup, count: int, *, online_url: str | None = None) -> list[str]:
    """`count` more tracked, authorised sales invoices, each changed in Xero a second after the last."""
    contact = s.world.xero.add_contact("Fabrikam").contact_id
    ids = []
    for n in range(count):
        s.world.xero.now += timedelta(seconds=1)
        xero_invoice = s.world.xero.add_invoice(contact, Decimal("10.00"))
        invoice = f.invoice(id=f.uid(f"inv-{n}"), currency_code="NZD", total_amount=Decimal("10.00"))
        details = details_for(
            xero_invoice,
            invoice.id,
            s.world.connection.id,
            id=f.uid(f"details-{n}"),
            online_invoice_url=online_url,
        )
        s.world.dataverse.add(invoice, details)
        ids.append(xero_invoice.invoice_id)
    return ids


async def test_b4_a_pull_stopped_midway_resumes_after_the_last_invoice_it_applied() -> None:
    s = setup()
    start = NOW - timedelta(hours=3)
    await s.watermarks.set(s.world.connection.id, start)
    paid = tracked_invoices(s, 3, online_url="https://in.xero.com/x")
    for xero_invoice_id in paid:
        s.world.xero.now += timedelta(seconds=1)
        s.world.xero.pay(xero_invoice_id)
    applied_through = s.world.xero.invoices[paid[1]].updated_at
    # The third payment's write is refused (Dataverse throttled): the first two are applied.
    s.world.dataverse.fail_calls["commit_sync_results"] = [
        None,  # type: ignore[list-item]
        None,  # type: ignore[list-item]
        RateLimitedError("Dataverse: service protection", 30),
    ]
    with pytest.raises(RateLimitedError):
        await reconcile(s.world.connection, s.deps)
    resumed_from = await s.watermarks.get(s.world.connection.id)
    assert applied_through is not None and resumed_from is not None
    assert start < resumed_from < applied_through.replace(tzinfo=resumed_from.tzinfo)

    later(s, 1)
    report = await reconcile(s.world.connection, s.deps)
    assert report.since == resumed_from
    # Not from the start (4 invoices changed since it): from a second before the last change applied.
    assert report.seen < 4
    states = [s.world.dataverse.invoices[f.uid(f"inv-{n}")].state for n in range(3)]
    assert states == [InvoiceState.PAID] * 3


async def test_b2_a_link_refused_for_the_budget_never_holds_up_the_payment() -> None:
    s = setup()
    [xero_invoice_id] = tracked_invoices(s, 1)
    s.world.xero.pay(xero_invoice_id)
    s.world.xero.fail_next["get_online_invoice_url"] = RateLimitedError("Xero budget is used up", 40)
    message = event(xero_invoice_id)
    assert await apply_xero_event(message, s.deps) == EventResult.PAID
    details = s.world.dataverse.details[f.uid("inv-0")]
    assert (details.xero_status, details.online_invoice_url) == ("PAID", None)  # the link waits

    assert await fill_online_urls(s.world.connection, s.deps) == 1  # upkeep fetches it later
    assert (
        s.world.dataverse.details[f.uid("inv-0")].online_invoice_url
        == f"https://in.xero.com/{xero_invoice_id}"
    )
    assert await fill_online_urls(s.world.connection, s.deps) == 0
    assert s.world.xero.calls["get_online_invoice_url"] == 2  # the refused one, and upkeep's


async def test_b4_reconcile_applies_without_links_and_upkeep_fetches_them_until_the_budget_stops() -> None:
    s = setup()
    await s.watermarks.set(s.world.connection.id, NOW - timedelta(hours=3))
    ids = tracked_invoices(s, ONLINE_URLS_PER_RUN + 5)
    for xero_invoice_id in ids:
        s.world.xero.pay(xero_invoice_id)
    s.world.xero.calls.clear()
    report = await reconcile(s.world.connection, s.deps)
    assert report.paid == len(ids)
    pages = s.world.xero.calls["get_invoices_modified_since"]
    assert pages == 1  # one call for every payment; the links did not wait for it ...
    # ... and upkeep, in the same run, fetched as many links as one run allows.
    assert s.world.xero.calls["get_online_invoice_url"] == ONLINE_URLS_PER_RUN

    s.world.xero.fail_calls["get_online_invoice_url"] = [
        None,  # type: ignore[list-item]
        RateLimitedError("Xero budget is used up", 40),
    ]
    assert await fill_online_urls(s.world.connection, s.deps) == 1  # stops at the first refusal
    assert await fill_online_urls(s.world.connection, s.deps) == 4
    missing = [d for d in s.world.dataverse.details.values() if d.online_invoice_url is None]
    assert missing == []


async def test_b4_a_bill_or_a_draft_is_never_asked_for_a_link() -> None:
    s = setup()
    contact = s.world.xero.add_contact("Northwind").contact_id
    for name, kind, status in (("bill", "purchase", "AUTHORISED"), ("draft", "sales", "DRAFT")):
        xero_invoice = s.world.xero.add_invoice(
            contact, Decimal("5.00"), type_="ACCPAY" if kind == "purchase" else "ACCREC", status=status
        )
        invoice = f.invoice(id=f.uid(name), invoice_type=kind)
        s.world.dataverse.add(
            invoice, details_for(xero_invoice, invoice.id, s.world.connection.id, id=f.uid(f"d-{name}"))
        )
    assert await fill_online_urls(s.world.connection, s.deps) == 0
    assert s.world.xero.calls["get_online_invoice_url"] == 0


async def test_i2_b4_a_second_sweep_of_a_connection_skips_its_reconcile_while_the_first_runs() -> None:
    s = setup()
    leases = MemoryLeases()
    pulled: Counter[str] = Counter()

    async def counted_reconcile(connection: object, *, force: bool = False) -> None:
        pulled["runs"] += 1

    from tests.unit.services.test_sync_invoice_service import make_world as make_sync_world

    sync_world = make_sync_world(s.world.connection)
    deps = SweepDependencies(
        dataverse=sync_world.dataverse, sync=sync_world.deps, reconcile=counted_reconcile, leases=leases
    )
    message = SweepMessage(scheduled_for=NOW, correlation_id="sweep-timer")
    held = await leases.acquire(f"sweep-{s.world.connection.id}")  # another instance's sweep runs
    await sweep(message, deps)
    assert pulled["runs"] == 0
    assert held is not None
    await held.release()
    await sweep(message, deps)
    assert pulled["runs"] == 1 and leases.held == set()


async def test_b4_events_left_to_reconcile_are_pulled_before_a_backlog_spends_the_budget() -> None:
    from tests.unit.services.test_sweep_service import backlog
    from tests.unit.services.test_sync_invoice_service import make_world as make_sync_world

    world = make_sync_world()
    backlog(world, 3)
    world.xero.fail_next["create_invoices"] = RateLimitedError("Xero: minute limit (429)", 40)
    pulls: list[bool] = []

    async def recorded_reconcile(connection: object, *, force: bool = False) -> None:
        pulls.append(force)

    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps, reconcile=recorded_reconcile)
    handed_off = SweepMessage(scheduled_for=NOW, correlation_id="events", reconcile_now=True)
    assert await sweep(handed_off, deps) == {}  # the backlog's batch was refused ...
    assert pulls == [True]  # ... after the pull the events were waiting for
    [successor] = world.queues.on("sync-poll")
    assert SweepMessage.model_validate_json(successor).reconcile_now  # the next one pulls first too


async def test_b4_a_pull_asked_for_by_events_never_waits_for_a_sweep_and_waits_for_a_pull() -> None:
    from tests.unit.services.test_sync_invoice_service import make_world as make_sync_world

    s = setup()
    leases = MemoryLeases()
    pulls: list[bool] = []

    async def recorded_reconcile(connection: object, *, force: bool = False) -> None:
        pulls.append(force)

    sync_world = make_sync_world(s.world.connection)
    deps = SweepDependencies(
        dataverse=sync_world.dataverse, sync=sync_world.deps, reconcile=recorded_reconcile, leases=leases
    )
    connection_id = s.world.connection.id
    handed_off = SweepMessage(
        scheduled_for=NOW, correlation_id="events", connection_id=connection_id, reconcile_now=True
    )
    sweeping = await leases.acquire(f"sweep-{connection_id}")  # a timer sweep's creates and balances
    await sweep(handed_off, deps)
    assert pulls == [True]  # the pull did not wait for them
    assert sweeping is not None
    await sweeping.release()

    pulling = await leases.acquire(f"reconcile-{connection_id}")  # another instance's pull runs
    with pytest.raises(DeferredError) as deferred:
        await sweep(handed_off, deps)
    assert deferred.value.retry_after == LEASE_HELD_RETRY_SECONDS and pulls == [True]
    assert pulling is not None
    await pulling.release()
    await sweep(handed_off, deps)  # the message back on its queue, once that pull is done
    assert pulls == [True, True] and leases.held == set()

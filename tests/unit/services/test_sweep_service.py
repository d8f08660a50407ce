"""The sweep (I2): eligible invoices per connection, in batches of up to 50, each element on its own."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connector.domain.dynamics import ExportStatus, XeroDetails
from connector.domain.messages import SweepMessage
from connector.errors import RateLimitedError
from connector.services.sweep import SweepDependencies, sweep
from tests import factories as f
from tests.fakes.storage import MemoryLeases
from tests.unit.services.test_sync_invoice_service import NOW, World, invoice, make_world


def backlog(world: World, count: int, start: int = 0, **overrides: object) -> list[uuid.UUID]:
    ids = []
    for index in range(3):  # the Xero contacts the backlog's customers remember
        if f"c-{index}" not in world.xero.contacts:
            world.xero.add_contact(f"Customer {index}", contact_id=f"c-{index}")
    for index in range(start, start + count):
        invoice_id = uuid.uuid5(f.NS, f"backlog-{index}")
        customer = f.customer(
            id=f.uid(f"customer-{index % 3}"), name=f"Customer {index % 3}", xero_contact_id=f"c-{index % 3}"
        )
        world.dataverse.add(
            invoice(id=invoice_id, number=f"INV-{index:05d}", customer=customer, **overrides),
            XeroDetails(
                id=uuid.uuid5(f.NS, f"details-{index}"), invoice_id=invoice_id, connection_id=f.CONNECTION_ID
            ),
        )
        ids.append(invoice_id)
    return ids


async def sweep_stopped_by_the_budget(world: World, deps: SweepDependencies, retry_after: int) -> None:
    """The sweep ends instead of raising (its message is not retried beside the timer's), having asked
    for one successor for when the budget is back."""
    before = len(world.queues.on("sync-poll"))
    assert await sweep(sweep_message(), deps) == {}
    [successor] = [m for m in world.queues.sent if m.queue == "sync-poll"][before:]
    assert successor.visibility_timeout == retry_after
    assert SweepMessage.model_validate_json(successor.body).connection_id is None  # every connection


def sweep_message() -> SweepMessage:
    return SweepMessage(scheduled_for=NOW, correlation_id="sweep-1")


async def test_i2_backlog_is_sent_in_batches_of_fifty() -> None:
    world = make_world()
    ids = backlog(world, 120)
    totals = await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps))
    assert totals == {"created": 120}
    assert world.xero.calls["create_invoices"] == 3  # 50 + 50 + 20
    assert sum(world.xero.calls.values()) == 3  # 0.025 Xero calls per invoice
    assert all(world.dataverse.details[i].export_status == ExportStatus.YES for i in ids)
    assert len(world.xero.invoices) == 120


async def test_i2_a_failing_element_fails_alone() -> None:
    world = make_world()
    ids = backlog(world, 5)
    world.xero.reject_batch_element = lambda draft: (
        ["Invoice # must be unique."] if str(ids[2]) in (draft.url or "") else []
    )
    totals = await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps))
    assert totals == {"created": 4, "failed": 1}
    assert world.dataverse.details[ids[2]].export_status == ExportStatus.FAILED
    assert "Invoice # must be unique." in world.dataverse.history_for(ids[2])[0]
    assert world.dataverse.details[ids[3]].export_status == ExportStatus.YES


async def test_i2_future_dated_invoice_is_sent_when_its_day_comes() -> None:
    world = make_world()
    [invoice_id] = backlog(world, 1, date_delivered=date(2026, 11, 25))
    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps)
    assert await sweep(sweep_message(), deps) == {}
    world.clock[0] = NOW + timedelta(days=3)  # the 25th in Auckland
    assert await sweep(sweep_message(), deps) == {"created": 1}
    assert world.dataverse.details[invoice_id].export_status == ExportStatus.YES


async def test_i2_sweep_after_events_finds_nothing_to_do() -> None:
    world = make_world()
    backlog(world, 3, total_amount=Decimal("345.00"))
    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps)
    await sweep(sweep_message(), deps)
    assert await sweep(sweep_message(), deps) == {}
    assert len(world.xero.invoices) == 3


async def test_connection_needing_reconnection_is_skipped() -> None:
    world = make_world(f.connection(is_default=True, needs_reconnect=True))
    backlog(world, 2)
    assert await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps)) == {}
    assert world.xero.calls == {}


async def test_i5_backlog_looks_each_customer_up_once() -> None:
    world = make_world()
    for index in range(3):
        world.xero.add_contact(f"Customer {index}")
    ids = backlog(world, 30)
    for invoice_id in ids:  # the backlog's customers have no remembered Xero ContactID yet
        current = world.dataverse.invoices[invoice_id]
        world.dataverse.invoices[invoice_id] = current.model_copy(
            update={"customer": current.customer.model_copy(update={"xero_contact_id": None})}
        )
    totals = await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps))
    assert totals == {"created": 30}
    assert world.xero.calls["find_contact_by_name"] == 3
    assert sum(world.xero.calls.values()) == 4  # three lookups and one batch


async def test_o3_rate_limit_mid_batch_releases_every_claim() -> None:
    world = make_world()
    ids = backlog(world, 4)

    def limited(*_: object) -> None:
        raise RateLimitedError("minute limit", retry_after=20, problem="minute")

    world.xero.create_invoices = limited  # type: ignore[method-assign,assignment]
    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps)
    await sweep_stopped_by_the_budget(world, deps, retry_after=20)
    # A 429 means nothing was created: claims are cleared, so the next sweep neither waits nor looks up.
    assert [world.dataverse.details[i].export_status for i in ids] == [ExportStatus.NO] * 4
    assert [
        (world.dataverse.details[i].claimed_until, world.dataverse.details[i].claimed_by) for i in ids
    ] == [(None, None)] * 4


async def test_i1_sweep_sets_up_new_invoices_whose_webhooks_were_all_lost() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation", contact_id="c-1")  # the contact it remembers
    world.dataverse.add(invoice(customer=f.customer(xero_contact_id="c-1"), connection_id=None), None)
    totals = await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps))
    assert totals == {"created": 1}
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.YES
    assert world.dataverse.invoices[f.INVOICE_ID].connection_id == f.CONNECTION_ID


async def test_i2_backlog_streams_chunk_by_chunk_in_few_dataverse_calls() -> None:
    world = make_world()
    backlog(world, 120)
    await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps))
    calls = world.dataverse.calls
    assert calls["get_invoice_snapshots"] == 3  # one read per chunk of 50, never one per invoice
    assert calls["get_invoice_snapshot"] == 0
    assert calls["commit_sync_results"] == 3  # one write-back per chunk
    assert calls["update_xero_details"] == 120  # the claim, with the create it records, per invoice


async def test_i2_one_sweep_per_connection_at_a_time() -> None:
    world = make_world()
    ids = backlog(world, 3)
    leases = MemoryLeases()
    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps, leases=leases)
    other = await leases.acquire(f"sweep-{f.CONNECTION_ID}")  # another instance is sweeping it
    assert await sweep(sweep_message(), deps) == {}
    assert world.xero.calls["create_invoices"] == 0
    assert other is not None
    await other.release()
    assert await sweep(sweep_message(), deps) == {"created": 3}
    assert leases.held == set()  # given back when done
    assert all(world.dataverse.details[i].export_status == ExportStatus.YES for i in ids)


async def test_i2_sweep_for_a_removed_connection_ends_without_retrying() -> None:
    world = make_world()
    message = SweepMessage(scheduled_for=NOW, connection_id=f.uid("gone"), correlation_id="sweep-2")
    assert await sweep(message, SweepDependencies(dataverse=world.dataverse, sync=world.deps)) == {}


async def test_i2_budget_runs_out_mid_backlog_and_the_next_sweep_resumes() -> None:
    world = make_world()
    ids = backlog(world, 120)
    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps)
    world.xero.fail_calls["create_invoices"] = [
        None,  # type: ignore[list-item]
        RateLimitedError("Xero: rate limited (minute limit)", retry_after=30),
    ]
    await sweep_stopped_by_the_budget(world, deps, retry_after=30)
    done = [i for i in ids if world.dataverse.details[i].export_status == ExportStatus.YES]
    assert len(done) == 50  # the first chunk went; the second was refused
    assert all(world.dataverse.details[i].claimed_until is None for i in ids)  # nothing left claimed
    world.xero.calls.clear()
    assert await sweep(sweep_message(), deps) == {"created": 70}
    assert world.xero.calls["create_invoices"] == 2  # resumed: only what was left
    assert len(world.xero.invoices) == 120


async def test_c3_a_misconfigured_connection_is_skipped_and_the_others_keep_syncing() -> None:
    world = make_world()
    ids = backlog(world, 2)
    broken = f.connection(id=f.uid("broken"), name="Broken", tenant_id="t-2", time_zone="Mars/Olympus")
    world.dataverse.connections[broken.id] = broken
    totals = await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps))
    assert totals == {"created": 2}
    assert all(world.dataverse.details[i].export_status == ExportStatus.YES for i in ids)


async def test_i2_a_sweep_running_elsewhere_logs_and_returns(caplog: pytest.LogCaptureFixture) -> None:
    world = make_world()
    leases = MemoryLeases()
    await leases.acquire(f"sweep-{f.CONNECTION_ID}")
    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps, leases=leases)
    with caplog.at_level("DEBUG"):
        assert await sweep(sweep_message(), deps) == {}
    assert any("sweep.already_running" in record.getMessage() for record in caplog.records)


async def test_c4_a_connection_swept_on_its_own_gets_its_reference_data_too() -> None:
    world = make_world()
    pulled: list[object] = []

    async def reference_data(connection: object) -> None:
        pulled.append(connection)

    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps, reference_data=reference_data)
    message = SweepMessage(scheduled_for=NOW, connection_id=f.CONNECTION_ID, correlation_id="just-connected")
    await sweep(message, deps)
    assert [c.id for c in pulled] == [f.CONNECTION_ID]  # type: ignore[attr-defined]
    await sweep(sweep_message(), deps)  # the timer's sweep of every connection leaves it to its own timer
    assert len(pulled) == 1


@pytest.mark.parametrize("missing_details", [True, False], ids=["new", "retried"])
async def test_i2_a_create_that_would_wait_for_the_budget_is_left_to_the_sweeps_batches(
    missing_details: bool,
) -> None:
    from connector.services.sync_attempt import SyncResult
    from connector.services.sync_invoice import sync_invoice
    from tests.unit.services.test_sync_invoice_service import details, message

    world = make_world()
    ids = backlog(world, 3)
    if missing_details:
        world.dataverse.details.pop(ids[0])
    else:
        world.dataverse.details[ids[0]] = details(invoice_id=ids[0])
    world.xero.fail_next["create_invoice"] = RateLimitedError("Xero call budget is used up for now", 40)
    result = await sync_invoice(message().model_copy(update={"invoice_id": ids[0]}), world.deps)
    assert result == SyncResult.LEFT_FOR_SWEEP
    left = world.dataverse.details[ids[0]]
    assert (left.export_status, left.claimed_until) == (ExportStatus.NO, None)
    # One sweep asked for, when the budget is back; not one per invoice left to it.
    world.xero.fail_next["create_invoice"] = RateLimitedError("Xero call budget is used up for now", 40)
    again = await sync_invoice(message().model_copy(update={"invoice_id": ids[1]}), world.deps)
    assert again == SyncResult.LEFT_FOR_SWEEP
    [asked] = [m for m in world.queues.sent if m.queue == "sync-poll"]
    assert asked.visibility_timeout == 40

    totals = await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps))
    assert totals == {"created": 3}
    assert world.xero.calls["create_invoices"] == 1  # all three in one call, no lookup first
    assert world.xero.calls["find_invoices_by_urls"] == 0
    assert len(world.xero.invoices) == 3


async def test_i2_a_short_wait_for_the_budget_is_retried_by_the_message_itself() -> None:
    from connector.services.sync_invoice import sync_invoice
    from tests.unit.services.test_sync_invoice_service import message

    world = make_world()
    [invoice_id] = backlog(world, 1)
    world.xero.fail_next["create_invoice"] = RateLimitedError("Xero: 5 calls at once", 1)
    with pytest.raises(RateLimitedError):
        await sync_invoice(message().model_copy(update={"invoice_id": invoice_id}), world.deps)


async def test_i2_a_chunk_stopped_by_the_budget_releases_its_claims_in_one_write() -> None:
    world = make_world()
    ids = backlog(world, 5)
    for invoice_id in ids:
        world.dataverse.details.pop(invoice_id)  # new invoices: set up born claimed by the sweep
    world.xero.fail_next["create_invoices"] = RateLimitedError("Xero: minute limit (429)", 40)
    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps)
    world.dataverse.calls.clear()
    # The new invoices' part of the sweep is refused; the connection's own part, after it, sends them.
    assert await sweep(sweep_message(), deps) == {"created": 5}
    refused = world.dataverse.calls["commit_sync_results"] - 1  # the last one is the write-back
    assert refused == 1  # every claim of the refused chunk given back at once
    assert world.xero.calls["find_invoices_by_urls"] == 0  # a 429 made nothing: no lookup after it
    assert len(world.xero.invoices) == 5
    [successor] = world.queues.on("sync-poll")  # and the sweep still asked for one, for the backlog
    assert SweepMessage.model_validate_json(successor).connection_id is None


async def test_i2_invoices_that_arrive_while_a_backlog_is_sent_go_in_the_same_sweep() -> None:
    world = make_world()
    backlog(world, 60)
    send = world.xero.create_invoices
    arrived: list[uuid.UUID] = []

    def create_while_more_arrive(*args: Any, **kwargs: Any) -> Any:
        if not arrived:  # while the first batch is sent, ten more become eligible
            arrived.extend(backlog(world, 10, start=60))
        return send(*args, **kwargs)

    world.xero.create_invoices = create_while_more_arrive  # type: ignore[method-assign]
    totals = await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps))
    # Not left for the next timer, minutes later: the sweep listed again once its listing was sent.
    assert totals == {"created": 70}
    assert all(world.dataverse.details[i].export_status == ExportStatus.YES for i in arrived)

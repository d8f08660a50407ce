"""Exactly once (SPEC O7 proof, issue 10): a create whose answer was lost is never sent twice, whatever
fails on the next attempts, with or without a user's edit in between; the same in the sweep's batches."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from connector.domain.dynamics import ExportStatus
from connector.domain.messages import parse_message
from connector.errors import RateLimitedError, RetryableError
from connector.services.sweep import SweepDependencies, sweep
from connector.services.sync_attempt import SyncResult
from connector.services.sync_invoice import sync_invoice
from tests import factories as f
from tests.unit.services.test_sweep_service import backlog, sweep_message
from tests.unit.services.test_sync_invoice_service import NOW, World, details, invoice, make_world, message

LOOKUP_FAILURES = [
    pytest.param(RetryableError("Xero get_invoices: server error HTTP 500"), id="500"),
    pytest.param(RateLimitedError("Xero get_invoices: rate limited (minute limit)", retry_after=1), id="429"),
]


def lose_the_next_create_answer(world: World) -> None:
    world.xero.fail_after_create = RetryableError("read timed out after the invoice was committed")


def edit_a_line(world: World) -> None:
    current = world.dataverse.invoices[f.INVOICE_ID]
    lines = [current.lines[0].model_copy(update={"quantity": Decimal(3)}), *current.lines[1:]]
    world.dataverse.invoices[f.INVOICE_ID] = current.model_copy(
        update={"lines": lines, "version_number": (current.version_number or 0) + 1}
    )


@pytest.mark.parametrize("lookup_failure", LOOKUP_FAILURES)
async def test_o7_lookup_failure_after_a_lost_create_never_creates_twice(lookup_failure: Exception) -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())
    lose_the_next_create_answer(world)
    with pytest.raises(RetryableError):
        await sync_invoice(message(), world.deps)

    world.xero.fail_calls["find_invoices_by_urls"] = [lookup_failure]
    world.clock[0] = NOW + timedelta(seconds=5)
    with pytest.raises(type(lookup_failure)):
        await sync_invoice(message(), world.deps)
    assert world.dataverse.details[f.INVOICE_ID].pending_create is not None  # kept: no evidence yet

    world.clock[0] = NOW + timedelta(seconds=10)
    assert await sync_invoice(message(), world.deps) == SyncResult.ADOPTED
    assert len(world.xero.invoices) == 1
    assert world.dataverse.details[f.INVOICE_ID].xero_invoice_id == next(iter(world.xero.invoices))


async def test_o7_a_new_invoices_lost_create_is_found_by_the_record_its_set_up_wrote() -> None:
    """The details are born claimed with the record that a create may follow (one write for both)."""
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(connection_id=None), None)
    lose_the_next_create_answer(world)
    with pytest.raises(RetryableError):
        await sync_invoice(message("Update"), world.deps)
    assert world.dataverse.details[f.INVOICE_ID].pending_create is not None

    world.clock[0] = NOW + timedelta(seconds=200)  # after the claim expired
    assert await sync_invoice(message("Update"), world.deps) == SyncResult.ADOPTED
    assert len(world.xero.invoices) == 1
    assert world.dataverse.details[f.INVOICE_ID].pending_create is None


async def test_o7_a_failure_before_anything_is_sent_clears_the_record_so_the_retry_looks_nowhere() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(connection_id=None), None)
    world.xero.fail_next["find_contact_by_name"] = RetryableError("Xero get_contacts: HTTP 503")
    with pytest.raises(RetryableError):
        await sync_invoice(message("Update"), world.deps)
    left = world.dataverse.details[f.INVOICE_ID]
    assert (left.pending_create, left.claimed_until) == (None, None)  # this attempt sent nothing

    assert await sync_invoice(message("Update"), world.deps) == SyncResult.CREATED
    assert world.xero.calls["find_invoices_by_urls"] == 0
    assert len(world.xero.invoices) == 1


async def test_o7_user_edit_after_a_lost_create_reaches_xero_once_as_an_update() -> None:
    world = make_world(f.connection(is_default=True, allow_invoice_update=True))
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())
    lose_the_next_create_answer(world)
    with pytest.raises(RetryableError):
        await sync_invoice(message(), world.deps)

    edit_a_line(world)
    world.xero.fail_calls["find_invoices_by_urls"] = [RetryableError("Xero get_invoices: HTTP 503")]
    world.clock[0] = NOW + timedelta(seconds=5)
    with pytest.raises(RetryableError):
        await sync_invoice(message(), world.deps)

    world.clock[0] = NOW + timedelta(seconds=10)
    assert await sync_invoice(message(), world.deps) == SyncResult.ADOPTED
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.READY_TO_UPDATE
    [again] = world.queues.on("invoice-sync")
    assert await sync_invoice(parse_message(again), world.deps) == SyncResult.UPDATED  # type: ignore[arg-type]

    [(xero_id, created)] = world.xero.invoices.items()
    assert world.xero.drafts[xero_id].line_items[0].quantity == Decimal(3)  # the edit, in Xero
    assert world.xero.calls["create_invoice"] == 1 and world.xero.calls["update_invoice"] == 1
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.YES
    assert created.invoice_id == world.dataverse.details[f.INVOICE_ID].xero_invoice_id


async def test_o7_a_create_xero_refuses_is_forgotten_so_the_fixed_invoice_is_created() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())
    world.xero.reject_with = ["The currency XYZ is not enabled."]
    assert await sync_invoice(message(), world.deps) == SyncResult.FAILED
    assert world.dataverse.details[f.INVOICE_ID].pending_create == "refused 1"  # nothing pending
    world.xero.reject_with = None  # fixed in Xero itself: the same draft must not meet the old refusal
    world.dataverse.details[f.INVOICE_ID] = world.dataverse.details[f.INVOICE_ID].model_copy(
        update={"export_status": ExportStatus.NO}
    )
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED
    assert world.xero.calls["find_invoices_by_urls"] == 0  # nothing pending: no lookup
    assert len(world.xero.invoices) == 1


@pytest.mark.parametrize("lookup_failure", LOOKUP_FAILURES)
async def test_o7_sweep_batch_lost_then_lookup_failure_never_creates_twice(lookup_failure: Exception) -> None:
    world = make_world()
    ids = backlog(world, 60)
    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps)
    lose_the_next_create_answer(world)  # the first batch of 50 is committed, its answer lost
    with pytest.raises(RetryableError):
        await sweep(sweep_message(), deps)

    world.xero.fail_calls["find_invoices_by_urls"] = [lookup_failure]
    world.clock[0] = NOW + timedelta(seconds=5)
    if isinstance(lookup_failure, RateLimitedError):
        assert await sweep(sweep_message(), deps) == {}  # ended: a successor asked for
    else:
        with pytest.raises(type(lookup_failure)):
            await sweep(sweep_message(), deps)

    world.clock[0] = NOW + timedelta(seconds=10)
    totals = await sweep(sweep_message(), deps)
    assert totals == {"adopted": 50, "created": 10}
    assert len(world.xero.invoices) == 60
    assert {world.xero.drafts[x].url for x in world.xero.invoices} == {
        f"{f.ORG_URL}/main.aspx?etn=invoice&id={i}&pagetype=entityrecord" for i in ids
    }
    assert world.xero.calls["find_invoices_by_urls"] <= 3  # in bulk, never one lookup per invoice
    assert all(world.dataverse.details[i].export_status == ExportStatus.YES for i in ids)

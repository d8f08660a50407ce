"""The claim a cancel takes (SPEC X1, X3): Dataverse's two events for one cancel run at once, a sync and a
cancel of one invoice, and crashes in between. Every run uses the strict fakes; concurrency is real
(asyncio.gather), with the fakes' reads held together where the race needs both to read first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from connector.domain.dynamics import InvoiceState
from connector.domain.messages import InvoiceCancelMessage
from connector.domain.xero_records import XeroCreditNote, XeroCreditNoteDraft
from connector.errors import ClaimedElsewhereError, RetryableError
from connector.services.cancel_invoice import cancel_invoice
from connector.services.cancellation import CancelDependencies, CancelResult, credit_note_key
from connector.services.sync_attempt import CLAIM_SECONDS, SyncResult
from connector.services.sync_invoice import sync_invoice
from tests import factories as f
from tests.fakes.dataverse import FakeDataverse, Snapshot
from tests.unit.services import test_sync_invoice_service as sync_world
from tests.unit.services.test_cancel_service import Setup, message, setup
from tests.unit.services.world import NOW

CREDITED = "Credit note CN-0001 for NZD 115.00 was created in Xero and allocated to invoice INV-0101."


def second_event() -> InvoiceCancelMessage:
    """Dataverse's other event for the same cancel: the SetState after the Update with statecode."""
    return message().model_copy(update={"message_name": "SetStateDynamicEntity"})


def read_together(dataverse: FakeDataverse, after_first_read: Callable[[], None] = lambda: None) -> None:
    """The next two snapshot reads both finish before either caller goes on: the race where both
    workers read the record (and its ETag) before either claims it."""
    barrier = asyncio.Barrier(2)
    read = dataverse.get_invoice_snapshot
    reads: list[UUID] = []

    async def together(invoice_id: UUID) -> Snapshot:
        snapshot = await read(invoice_id)
        reads.append(invoice_id)
        if len(reads) == 1:
            after_first_read()
        if len(reads) <= 2:
            await barrier.wait()
        return snapshot

    dataverse.get_invoice_snapshot = together  # type: ignore[method-assign]


def pending_at_create(s: Setup) -> list[tuple[str | None, str]]:
    """What Xero details said was pending at the moment each credit note create was sent, and its key."""
    seen: list[tuple[str | None, str]] = []
    create = s.world.xero.create_credit_note

    def recording(draft: XeroCreditNoteDraft, key: str) -> XeroCreditNote:
        seen.append((s.world.dataverse.details[f.INVOICE_ID].pending_create, key))
        return create(draft, key)

    s.world.xero.create_credit_note = recording  # type: ignore[method-assign,assignment]
    return seen


async def until_done(run: Callable[[], Awaitable[Any]], attempts: int = 5) -> Any:
    """What the queue does with a ClaimedElsewhereError: the same message again, later."""
    for _ in range(attempts - 1):
        try:
            return await run()
        except ClaimedElsewhereError:
            continue
    return await run()


# --- the two events of one cancel -----------------------------------------------------------------


@pytest.mark.parametrize("race", ["claim_held", "both_read_first"])
async def test_x3_two_events_of_one_cancel_at_once_make_one_credit_note_in_three_xero_calls(
    race: str,
) -> None:
    s = setup("AUTHORISED")
    if race == "both_read_first":
        read_together(s.world.dataverse)  # the loser's If-Match claim write is refused (412)

    results = await asyncio.gather(
        cancel_invoice(message(), s.deps), cancel_invoice(second_event(), s.deps), return_exceptions=True
    )

    assert CancelResult.CREDITED_AND_ALLOCATED in results
    [lost] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(lost, ClaimedElsewhereError)
    assert 0 < lost.retry_after <= 5  # looks again soon, not at the claim's expiry
    # Claim and record by the winner; in the second race also the loser's refused claim write.
    assert s.world.dataverse.calls["update_xero_details"] == (3 if race == "both_read_first" else 2)
    assert dict(s.world.xero.calls) == {"get_invoice": 1, "create_credit_note": 1, "allocate_credit_note": 1}
    [note_id] = s.world.xero.credit_notes
    assert s.world.xero.allocations == [(note_id, s.xero_invoice.invoice_id, Decimal("115.00"))]
    details = s.world.dataverse.details[f.INVOICE_ID]
    assert (details.claimed_until, details.claimed_by, details.pending_create) == (None, None, None)

    # The queue brings the loser back: the work is recorded as done, so nothing is asked of Xero and
    # nothing is written (a duplicate event is nothing the user did).
    s.world.xero.calls.clear()
    writes = len(s.world.dataverse.writes)
    assert await cancel_invoice(second_event(), s.deps) == CancelResult.ALREADY_DONE
    assert sum(s.world.xero.calls.values()) == 0
    assert len(s.world.dataverse.writes) == writes
    assert s.history() == [CREDITED]


async def test_x1_a_cancel_writes_xero_details_twice_and_its_history_with_the_last_write() -> None:
    s = setup("AUTHORISED")
    seen = pending_at_create(s)

    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED
    assert await cancel_invoice(second_event(), s.deps) == CancelResult.ALREADY_DONE

    # The claim write also recorded the credit note as pending, before it was sent.
    key = credit_note_key(s.world.connection, f.INVOICE_ID, s.xero_invoice.invoice_id)
    assert seen == [(key, key)]
    calls = s.world.dataverse.calls
    # Claim (with the pending record), the credit note recorded, then status, release and history at once.
    assert (calls["update_xero_details"], calls["commit_sync_result"], calls["add_sync_history"]) == (2, 1, 0)
    assert calls["get_invoice_snapshot"] == 2
    assert s.history() == [CREDITED]
    assert s.world.dataverse.details[f.INVOICE_ID].xero_status == "PAID"


@pytest.mark.parametrize(
    ("status", "paid", "result"),
    [
        ("DRAFT", Decimal(0), CancelResult.DELETED),
        ("AUTHORISED", Decimal("40.00"), CancelResult.CREDITED_UNALLOCATED),
    ],
)
async def test_x3_the_second_event_after_a_delete_or_an_unallocated_credit_note_asks_xero_nothing(
    status: Any, paid: Decimal, result: CancelResult
) -> None:
    s = setup(status, paid=paid)
    assert await cancel_invoice(message(), s.deps) == result
    [line] = s.history()
    s.world.xero.calls.clear()

    assert await cancel_invoice(second_event(), s.deps) == CancelResult.ALREADY_DONE
    assert sum(s.world.xero.calls.values()) == 0
    assert s.history() == [line]
    assert s.xero_writes() == 1


async def test_x3_a_person_replaying_the_cancel_later_gets_nothing_twice_in_xero() -> None:
    s = setup("AUTHORISED")
    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED
    s.world.clock[0] = NOW + timedelta(days=2)

    results = [await cancel_invoice(message(), s.deps) for _ in range(3)]

    assert results == [CancelResult.ALREADY_DONE] * 3
    assert (len(s.world.xero.credit_notes), len(s.world.xero.allocations)) == (1, 1)


# --- a sync and a cancel of one invoice -------------------------------------------------------------


def sync_and_cancel_world() -> tuple[sync_world.World, CancelDependencies]:
    """An invoice about to be created in Xero as AUTHORISED, and the cancel path on the same fakes."""
    connection = f.connection(is_default=True, time_zone="UTC", default_invoice_status="AUTHORISED")
    world = sync_world.make_world(connection)
    world.xero.add_contact("A. Datum Corporation")
    # Totals as Xero will work them out: the write-back then leaves the (soon read-only) invoice alone.
    invoice = sync_world.invoice(total_tax=Decimal("45.00"), amount_due=Decimal("345.00"))
    world.dataverse.add(invoice, sync_world.details())
    cancel_deps = CancelDependencies(
        dataverse=world.dataverse, xero_for=world.deps.xero_for, clock=world.deps.clock, org_url=f.ORG_URL
    )
    return world, cancel_deps


def user_cancels(world: sync_world.World) -> None:
    current = world.dataverse.invoices[f.INVOICE_ID]
    world.dataverse.invoices[f.INVOICE_ID] = current.model_copy(update={"state": InvoiceState.CANCELED})


async def test_x1_a_cancel_while_a_sync_holds_the_claim_waits_then_cancels_what_it_made() -> None:
    world, cancel_deps = sync_and_cancel_world()

    async def cancel_meanwhile() -> CancelResult:
        user_cancels(world)  # while the sync, claim taken, waits for Xero
        return await cancel_invoice(message(), cancel_deps)

    synced, cancelled = await asyncio.gather(
        sync_invoice(sync_world.message(), world.deps), cancel_meanwhile(), return_exceptions=True
    )

    assert synced == SyncResult.CREATED
    assert isinstance(cancelled, ClaimedElsewhereError)
    assert world.xero.credit_notes == {}
    assert await cancel_invoice(message(), cancel_deps) == CancelResult.CREDITED_AND_ALLOCATED
    [created] = world.xero.invoices.values()
    assert (created.status, created.amount_credited) == ("PAID", created.total)
    assert len(world.xero.credit_notes) == 1


async def test_x1_a_sync_that_read_the_invoice_before_the_cancel_and_the_cancel_never_both_run() -> None:
    world, cancel_deps = sync_and_cancel_world()
    # The sync reads the invoice still active; the user cancels; the cancel reads it; both go on.
    read_together(world.dataverse, after_first_read=lambda: user_cancels(world))

    results = await asyncio.gather(
        sync_invoice(sync_world.message(), world.deps),
        cancel_invoice(message(), cancel_deps),
        return_exceptions=True,
    )

    [lost] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(lost, ClaimedElsewhereError)
    await until_done(lambda: sync_invoice(sync_world.message(), world.deps))
    await until_done(lambda: cancel_invoice(message(), cancel_deps))
    # Whichever won: never an invoice left live in Xero for a cancelled Dynamics invoice.
    live = [i for i in world.xero.invoices.values() if i.status in ("DRAFT", "SUBMITTED", "AUTHORISED")]
    assert live == []
    assert len(world.xero.invoices) <= 1
    assert len(world.xero.credit_notes) == len(world.xero.invoices)
    assert world.dataverse.details[f.INVOICE_ID].claimed_until is None


# --- crashes and failures ---------------------------------------------------------------------------


@pytest.mark.parametrize("crash", ["record_write_fails", "xero_answer_lost"])
async def test_x3_a_crash_after_the_credit_note_was_made_before_it_was_recorded_never_makes_another(
    crash: str,
) -> None:
    s = setup("AUTHORISED")
    if crash == "record_write_fails":
        s.world.dataverse.fail_calls["update_xero_details"] = [None, RetryableError("Dataverse 503")]
    else:
        create = s.world.xero.create_credit_note

        def answer_lost(draft: XeroCreditNoteDraft, key: str) -> XeroCreditNote:
            create(draft, key)
            raise RetryableError("read timed out after the credit note was committed")

        s.world.xero.create_credit_note = answer_lost  # type: ignore[method-assign,assignment]

    with pytest.raises(RetryableError):
        await cancel_invoice(message(), s.deps)
    details = s.world.dataverse.details[f.INVOICE_ID]
    assert len(s.world.xero.credit_notes) == 1
    assert details.credit_note_id is None
    assert details.pending_create == credit_note_key(
        s.world.connection, f.INVOICE_ID, s.xero_invoice.invoice_id
    )
    assert details.claimed_until is None  # given back on the way out

    assert await cancel_invoice(second_event(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED
    assert s.world.xero.calls["create_credit_note"] == 1  # found by its reference, not made again
    [note_id] = s.world.xero.credit_notes
    assert s.world.dataverse.details[f.INVOICE_ID].credit_note_id == note_id
    assert s.world.xero.allocations == [(note_id, s.xero_invoice.invoice_id, Decimal("115.00"))]


async def test_x3_a_claim_that_could_not_be_given_back_blocks_only_until_it_expires() -> None:
    s = setup("AUTHORISED")
    down = RetryableError("Dataverse 503")
    s.world.dataverse.fail_calls["update_xero_details"] = [None, down, down]  # record, then release

    with pytest.raises(RetryableError):
        await cancel_invoice(message(), s.deps)
    with pytest.raises(ClaimedElsewhereError):
        await cancel_invoice(message(), s.deps)
    assert s.world.xero.calls["get_invoice"] == 1

    s.world.clock[0] = NOW + timedelta(seconds=CLAIM_SECONDS + 1)
    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED
    assert (len(s.world.xero.credit_notes), len(s.world.xero.allocations)) == (1, 1)


async def test_x3_a_failure_before_the_create_gives_the_claim_and_the_pending_record_back() -> None:
    s = setup("AUTHORISED")
    s.world.xero.fail_next["get_invoice"] = RetryableError("Xero 503")

    with pytest.raises(RetryableError):
        await cancel_invoice(message(), s.deps)

    details = s.world.dataverse.details[f.INVOICE_ID]
    assert (details.claimed_until, details.claimed_by, details.pending_create) == (None, None, None)
    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED
    assert s.world.xero.calls["find_credit_notes_by_reference"] == 0  # nothing could have been made


async def test_x3_a_create_that_failed_on_the_way_is_looked_for_before_it_is_sent_again() -> None:
    s = setup("AUTHORISED")
    s.world.xero.fail_next["create_credit_note"] = RetryableError("connection reset")

    with pytest.raises(RetryableError):
        await cancel_invoice(message(), s.deps)
    # It may have reached Xero: the record stays, only the claim is given back.
    details = s.world.dataverse.details[f.INVOICE_ID]
    assert details.pending_create is not None
    assert details.claimed_until is None

    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED
    assert s.world.xero.calls["find_credit_notes_by_reference"] == 1
    assert len(s.world.xero.credit_notes) == 1

"""cancel_invoice with fakes of the ports: every X1 row, X2, and replays (SPEC X1, X2, X3)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

import pytest

from connector.domain.dynamics import ExportStatus, InvoiceState
from connector.domain.messages import InvoiceCancelMessage
from connector.domain.sync.header import dynamics_record_url
from connector.domain.xero_records import XeroInvoice, XeroInvoiceDraft, XeroInvoiceStatus, XeroLineItem
from connector.errors import ClaimedElsewhereError, RetryableError
from connector.services.cancel_invoice import cancel_gave_up, cancel_invoice
from connector.services.cancellation import NEEDS_ATTENTION_METRIC, CancelDependencies, CancelResult
from tests import factories as f
from tests.unit.services.world import NOW, World, details_for, make_world

ORG = f.ORG_URL
Reason = Literal["canceled", "deleted"]


@dataclass
class Setup:
    world: World
    deps: CancelDependencies
    xero_invoice: XeroInvoice

    @property
    def in_xero(self) -> XeroInvoice:
        return self.world.xero.invoices[self.xero_invoice.invoice_id]

    def history(self) -> list[str]:
        return self.world.dataverse.history_for(f.INVOICE_ID)

    def xero_writes(self) -> int:
        xero = self.world.xero
        return len(xero.credit_notes) + len(xero.allocations) + len(xero.status_writes)


def setup(
    status: XeroInvoiceStatus = "AUTHORISED",
    *,
    paid: Decimal = Decimal(0),
    credit_notes_on: bool = True,
    sent: bool = True,
    state: InvoiceState = InvoiceState.CANCELED,
) -> Setup:
    """Dynamics invoice INV-01001 (2 x 50.00 design, 15% tax), sent to Xero as INV-0101 for NZD 115.00."""
    world = make_world(f.connection(time_zone="UTC", create_credit_note_on_cancel=credit_notes_on))
    contact = world.xero.add_contact("A. Datum Corporation")
    starting = "AUTHORISED" if status == "PAID" else status
    xero_invoice = world.xero.add_invoice(
        contact.contact_id, Decimal("115.00"), tax=Decimal("15.00"), status=starting
    )
    if paid:
        xero_invoice = world.xero.pay(xero_invoice.invoice_id, paid)
    invoice = f.invoice(
        lines=[f.write_in_line(1, "Design", quantity=Decimal(2), price_per_unit=Decimal("50.00"))],
        customer=f.customer(xero_contact_id=contact.contact_id),
        currency_code="NZD",
        state=state,
        line_amount_types="Exclusive",
    )
    details = details_for(xero_invoice, invoice.id, world.connection.id)
    if not sent:
        details = details.model_copy(update={"xero_invoice_id": None, "xero_invoice_number": None})
    world.dataverse.add(invoice, details)
    deps = CancelDependencies(dataverse=world.dataverse, xero_for=world.xero_for, clock=world.now)
    return Setup(world, deps, xero_invoice)


def message(reason: Reason = "canceled") -> InvoiceCancelMessage:
    pre_image = {"invoicenumber": "INV-01001", "name": "Spring order"} if reason == "deleted" else None
    return InvoiceCancelMessage(
        invoice_id=f.INVOICE_ID,
        organization="contoso",
        message_name="Update" if reason == "canceled" else "Delete",
        correlation_id="corr-cancel",
        event_time=NOW,
        reason=reason,
        pre_image=pre_image,
    )


async def deleted(s: Setup) -> CancelResult:
    s.world.dataverse.delete_invoice(f.INVOICE_ID)
    return await cancel_invoice(message("deleted"), s.deps)


# --- X1 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["DRAFT", "SUBMITTED"])
async def test_x1_draft_or_submitted_invoice_is_deleted_in_xero(status: XeroInvoiceStatus) -> None:
    s = setup(status)

    assert await cancel_invoice(message(), s.deps) == CancelResult.DELETED

    assert s.world.xero.status_writes == [(s.xero_invoice.invoice_id, "DELETED")]
    assert s.world.xero.credit_notes == {}
    assert s.world.dataverse.details[f.INVOICE_ID].xero_status == "DELETED"
    assert s.history() == ["Xero invoice INV-0101 was deleted."]


async def test_x1_authorised_unpaid_invoice_gets_a_full_credit_note_allocated_to_it() -> None:
    s = setup("AUTHORISED")

    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED

    [(note_id, note)] = s.world.xero.credit_notes.items()
    assert (note.credit_note_number, note.total) == ("CN-0001", Decimal("115.00"))
    assert s.world.xero.allocations == [(note_id, s.xero_invoice.invoice_id, Decimal("115.00"))]
    assert (s.in_xero.status, s.in_xero.amount_due, s.in_xero.amount_credited) == (
        "PAID",
        Decimal(0),
        Decimal("115.00"),
    )
    details = s.world.dataverse.details[f.INVOICE_ID]
    assert (details.credit_note_id, details.credit_note_number) == (note_id, "CN-0001")
    assert s.history() == [
        "Credit note CN-0001 for NZD 115.00 was created in Xero and allocated to invoice INV-0101."
    ]


async def test_x1_credit_note_repeats_the_invoice_lines_for_the_same_contact() -> None:
    s = setup("AUTHORISED")
    await cancel_invoice(message(), s.deps)

    [draft] = s.world.xero.credit_note_drafts.values()
    assert (draft.type, draft.contact_id, draft.status) == (
        "ACCRECCREDIT",
        s.xero_invoice.contact_id,
        "AUTHORISED",
    )
    assert (draft.reference, draft.currency_code, draft.date) == (
        "Cancellation of INV-0101",
        "NZD",
        date(2026, 11, 21),
    )
    assert draft.line_items == [
        XeroLineItem(
            description="Design", quantity=Decimal(2), unit_amount=Decimal("50.00"), account_code="200"
        )
    ]


async def test_x1_fully_paid_invoice_is_left_alone_and_history_says_so() -> None:
    s = setup("PAID", paid=Decimal("115.00"))

    assert await cancel_invoice(message(), s.deps) == CancelResult.FULLY_PAID

    assert s.xero_writes() == 0
    assert s.history() == [
        "The Invoice is fully paid in Xero, so nothing was changed there. "
        "Refund or credit it in Xero if needed."
    ]


async def test_x1_part_paid_invoice_gets_an_unallocated_credit_note_and_a_warning() -> None:
    s = setup("AUTHORISED", paid=Decimal("40.00"))

    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_UNALLOCATED

    [note] = s.world.xero.credit_notes.values()
    assert (note.total, note.remaining_credit) == (Decimal("115.00"), Decimal("115.00"))
    assert s.world.xero.allocations == []
    assert s.world.dataverse.details[f.INVOICE_ID].credit_note_number == "CN-0001"
    assert s.history() == [
        "Credit note CN-0001 for NZD 115.00 was created in Xero but not allocated, because invoice INV-0101 "
        "is part paid. It must be allocated by hand in Xero."
    ]


@pytest.mark.parametrize("status", ["DRAFT", "AUTHORISED"])
async def test_x1_setting_off_changes_nothing_in_xero(status: XeroInvoiceStatus) -> None:
    s = setup(status, credit_notes_on=False)

    assert await cancel_invoice(message(), s.deps) == CancelResult.SETTING_OFF

    assert s.xero_writes() == 0
    assert s.history() == [
        '"Create credit note automatically" is off for connection Contoso UK, so nothing was changed in '
        "Xero. Create any credit note in Xero by hand."
    ]


async def test_x1_invoice_never_sent_to_xero() -> None:
    s = setup(sent=False)

    assert await cancel_invoice(message(), s.deps) == CancelResult.NOT_IN_XERO
    assert sum(s.world.xero.calls.values()) == 0
    assert s.history() == ["The invoice was never sent to Xero, so nothing was changed there."]


async def test_x1_a_stale_cancel_message_for_an_active_invoice_does_nothing() -> None:
    s = setup(state=InvoiceState.ACTIVE)

    assert await cancel_invoice(message(), s.deps) == CancelResult.NOT_CANCELLED
    assert sum(s.world.xero.calls.values()) == 0
    assert s.history() == []


async def test_x1_xero_refusing_the_credit_note_is_written_to_history_word_for_word() -> None:
    from connector.errors import XeroValidationError

    s = setup("AUTHORISED")
    s.world.xero.fail_next["create_credit_note"] = XeroValidationError(["The contact is archived."])

    assert await cancel_invoice(message(), s.deps) == CancelResult.FAILED
    [entry] = s.history()
    assert "The contact is archived." in entry


# --- X2 ---------------------------------------------------------------------------------------------


async def test_x2_deleted_draft_is_deleted_in_xero() -> None:
    s = setup("DRAFT")
    assert await deleted(s) == CancelResult.DELETED
    assert s.world.xero.status_writes == [(s.xero_invoice.invoice_id, "DELETED")]
    assert s.world.dataverse.details[f.INVOICE_ID].xero_status == "DELETED"


async def test_x2_deleted_authorised_unpaid_invoice_is_voided() -> None:
    s = setup("AUTHORISED")
    assert await deleted(s) == CancelResult.VOIDED
    assert s.world.xero.status_writes == [(s.xero_invoice.invoice_id, "VOIDED")]
    assert s.world.xero.credit_notes == {}


@pytest.mark.parametrize(("status", "paid"), [("AUTHORISED", Decimal("40.00")), ("PAID", Decimal("115.00"))])
async def test_x2_anything_else_is_logged_as_needing_attention_with_the_xero_number(
    status: XeroInvoiceStatus, paid: Decimal, caplog: pytest.LogCaptureFixture
) -> None:
    s = setup(status, paid=paid)
    caplog.set_level(logging.DEBUG, logger="connector")

    assert await deleted(s) == CancelResult.NEEDS_ATTENTION

    assert s.xero_writes() == 0
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    text = record.getMessage()
    assert "delete.needs_attention" in text
    assert "xero_number=INV-0101" in text
    assert f"metric={NEEDS_ATTENTION_METRIC}" in text
    assert "needs attention in Xero" in text
    assert s.world.dataverse.history == []  # the Dynamics record is gone: logs and metrics only


async def test_x2_invoice_never_sent_to_xero_needs_nothing() -> None:
    s = setup(sent=False)
    assert await deleted(s) == CancelResult.NOT_IN_XERO
    assert sum(s.world.xero.calls.values()) == 0


async def test_x2_cancel_message_for_an_invoice_deleted_since_takes_the_delete_path() -> None:
    s = setup("DRAFT")
    s.world.dataverse.delete_invoice(f.INVOICE_ID)
    assert await cancel_invoice(message("canceled"), s.deps) == CancelResult.DELETED


# --- X3 ---------------------------------------------------------------------------------------------

SCENARIOS: dict[str, Callable[[], Setup]] = {
    "draft": lambda: setup("DRAFT"),
    "authorised": lambda: setup("AUTHORISED"),
    "part_paid": lambda: setup("AUTHORISED", paid=Decimal("40.00")),
    "paid": lambda: setup("PAID", paid=Decimal("115.00")),
    "setting_off": lambda: setup("AUTHORISED", credit_notes_on=False),
}
# What one cancel does in Xero: (credit notes, status writes, allocations).
CANCEL_WRITES = {
    "draft": (0, 1, 0),
    "authorised": (1, 0, 1),
    "part_paid": (1, 0, 0),
    "paid": (0, 0, 0),
    "setting_off": (0, 0, 0),
}
DELETE_WRITES = {"draft": ["DELETED"], "authorised": ["VOIDED"], "part_paid": [], "paid": []}


def xero_writes_by_kind(s: Setup) -> tuple[int, int, int]:
    xero = s.world.xero
    return len(xero.credit_notes), len(xero.status_writes), len(xero.allocations)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_x3_replayed_cancel_never_makes_a_second_credit_note_or_delete(scenario: str) -> None:
    s = SCENARIOS[scenario]()
    results = [await cancel_invoice(message(), s.deps) for _ in range(4)]

    assert xero_writes_by_kind(s) == CANCEL_WRITES[scenario]
    if any(CANCEL_WRITES[scenario]):
        assert results[1:] == [CancelResult.ALREADY_DONE] * 3
    else:
        assert len(set(results)) == 1  # the same answer (and history) each time


@pytest.mark.parametrize("scenario", sorted(DELETE_WRITES))
async def test_x3_replayed_delete_never_deletes_or_voids_twice(scenario: str) -> None:
    s = SCENARIOS[scenario]()
    s.world.dataverse.delete_invoice(f.INVOICE_ID)
    results = [await cancel_invoice(message("deleted"), s.deps) for _ in range(4)]

    assert [status for _, status in s.world.xero.status_writes] == DELETE_WRITES[scenario]
    assert s.world.xero.credit_notes == {}
    if DELETE_WRITES[scenario]:
        assert results[1:] == [CancelResult.ALREADY_DONE] * 3


async def test_x3_replay_after_a_crash_before_the_credit_note_was_recorded_adopts_it() -> None:
    s = setup("AUTHORISED")
    # The pending credit note is recorded; the write after Xero created it fails.
    s.world.dataverse.fail_calls["update_xero_details"] = [None, RetryableError("Dataverse 503")]

    with pytest.raises(RetryableError):
        await cancel_invoice(message(), s.deps)
    assert len(s.world.xero.credit_notes) == 1
    assert s.world.dataverse.details[f.INVOICE_ID].credit_note_id is None  # lost with the crash

    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED
    assert s.world.xero.calls["create_credit_note"] == 1  # found by reference, not created again
    [note_id] = s.world.xero.credit_notes
    assert s.world.dataverse.details[f.INVOICE_ID].credit_note_id == note_id
    assert s.world.xero.allocations == [(note_id, s.xero_invoice.invoice_id, Decimal("115.00"))]


async def test_x3_replay_after_a_crash_before_allocating_allocates_the_recorded_note() -> None:
    s = setup("AUTHORISED")
    s.world.xero.fail_next["allocate_credit_note"] = RetryableError("Xero 503")

    with pytest.raises(RetryableError):
        await cancel_invoice(message(), s.deps)
    assert s.world.xero.allocations == []

    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED
    [note_id] = s.world.xero.credit_notes
    assert s.world.xero.allocations == [(note_id, s.xero_invoice.invoice_id, Decimal("115.00"))]
    assert s.in_xero.status == "PAID"
    [first_key, retry_key] = [key for name, key in s.world.xero.write_keys if name == "allocate_credit_note"]
    assert first_key == retry_key  # a retry Xero already carried out is answered from its replay cache
    assert await cancel_invoice(message(), s.deps) == CancelResult.ALREADY_DONE
    assert len(s.world.xero.allocations) == 1


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_x3_every_xero_write_carries_an_idempotency_key(scenario: str) -> None:
    s = SCENARIOS[scenario]()
    await cancel_invoice(message(), s.deps)
    calls = s.world.xero.calls
    writes = calls["set_invoice_status"] + calls["create_credit_note"] + calls["allocate_credit_note"]
    assert len(s.world.xero.write_keys) == writes
    assert all(key.startswith("d365x-") for _, key in s.world.xero.write_keys)


async def test_x1_cancel_of_an_approved_invoice_costs_three_xero_calls_and_its_second_event_none() -> None:
    s = setup("AUTHORISED")
    s.world.xero.calls.clear()
    assert await cancel_invoice(message(), s.deps) == CancelResult.CREDITED_AND_ALLOCATED
    assert dict(s.world.xero.calls) == {"get_invoice": 1, "create_credit_note": 1, "allocate_credit_note": 1}
    s.world.xero.calls.clear()
    # Dataverse sends a cancel as an Update and a SetStateDynamicEntity: the second finds it done.
    assert await cancel_invoice(message(), s.deps) == CancelResult.ALREADY_DONE
    assert sum(s.world.xero.calls.values()) == 0
    assert len(s.world.xero.credit_notes) == 1


async def test_x1_cancel_during_a_create_waits_for_it_then_cancels_what_it_made() -> None:
    s = setup("AUTHORISED", sent=False)
    details = s.world.dataverse.details[f.INVOICE_ID]
    in_flight = details.model_copy(update={"claimed_until": NOW + timedelta(seconds=60), "claimed_by": "w"})
    s.world.dataverse.details[f.INVOICE_ID] = in_flight
    with pytest.raises(ClaimedElsewhereError):
        await cancel_invoice(message(), s.deps)
    assert s.world.xero.credit_notes == {}

    # The create reached Xero, and its worker died before writing back: the cancel finds it by its Url.
    url = dynamics_record_url(ORG, f.INVOICE_ID)
    s.world.xero.drafts[s.xero_invoice.invoice_id] = s.world.xero.drafts.get(
        s.xero_invoice.invoice_id, XeroInvoiceDraft(type="ACCREC", contact_id=s.xero_invoice.contact_id)
    ).model_copy(update={"url": url})
    s.world.xero.invoices[s.xero_invoice.invoice_id] = s.xero_invoice.model_copy(update={"url": url})
    s.world.dataverse.details[f.INVOICE_ID] = details.model_copy(
        update={"pending_create": "d365x-create-k fp"}
    )
    deps = CancelDependencies(
        dataverse=s.world.dataverse, xero_for=s.world.xero_for, clock=s.world.now, org_url=ORG
    )
    assert await cancel_invoice(message(), deps) == CancelResult.CREDITED_AND_ALLOCATED
    assert len(s.world.xero.credit_notes) == 1
    assert s.world.dataverse.details[f.INVOICE_ID].xero_invoice_id == s.xero_invoice.invoice_id


async def test_o2_a_cancel_that_used_up_its_retries_says_so_on_the_invoice() -> None:
    s = setup("AUTHORISED")
    await cancel_gave_up(message(), "RetryableError: Xero 503", s.deps, attempts=5)
    [line] = s.world.dataverse.history_for(f.INVOICE_ID)
    assert "Cancelling the invoice in Xero failed after 5 attempts (RetryableError: Xero 503)" in line
    assert s.world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.FAILED

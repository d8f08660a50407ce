"""sync_credit_note (I14) through sync_invoice, with fakes: a Dynamics credit note reaches Xero as a credit
note, exactly once, allocated to the invoice it names when the amounts allow, and comes back from Xero."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connector.domain.dynamics import ConnectionSettings, ExportStatus, Invoice, XeroDetails
from connector.domain.messages import InvoiceSyncMessage
from connector.domain.reference_data import account_rows
from connector.domain.xero_records import XeroAccount, XeroInvoice
from connector.errors import RetryableError
from connector.services.back_sync import BackSyncDependencies, EventResult
from connector.services.item_cache import ItemCache
from connector.services.prepare import prepare
from connector.services.sync_attempt import SyncAttempt, SyncDependencies, SyncResult, load_attempt
from connector.services.sync_credit_note import apply_credit_note_event, sync_credit_notes_apart
from connector.services.sync_invoice import sync_invoice
from tests import factories as f
from tests.fakes.dataverse import FakeDataverse
from tests.fakes.queues import FakeQueueSender
from tests.fakes.reference_data import FakeDataverseWithReferenceData
from tests.fakes.xero import FakeXero

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CREDITED_ID, NOTE_ID = f.uid("credited-invoice"), f.uid("credit-note")


@dataclass
class World:
    dataverse: FakeDataverse
    xero: FakeXero
    deps: SyncDependencies
    connection: ConnectionSettings
    contact_id: str

    def details(self, invoice_id: Any = NOTE_ID) -> XeroDetails:
        return self.dataverse.details[invoice_id]

    def history(self) -> list[str]:
        return self.dataverse.history_for(NOTE_ID)


def make_world(dataverse: FakeDataverse | None = None, **settings: Any) -> World:
    dataverse, xero = dataverse or FakeDataverse(), FakeXero()
    connection = f.connection(is_default=True, **settings)
    dataverse.connections[connection.id] = connection
    contact = xero.add_contact("A. Datum Corporation")
    deps = SyncDependencies(
        dataverse=dataverse,
        xero_for=lambda _c: xero,
        queues=FakeQueueSender(),
        cancel_queue="invoice-cancel",
        org_url=f.ORG_URL,
        clock=lambda: NOW,
        items=ItemCache(),
    )
    return World(dataverse, xero, deps, connection, contact.contact_id)


def credited_in_xero(world: World, total: str = "230.00", type_: Any = "ACCREC") -> XeroInvoice:
    """The invoice the credit note names: in Dynamics, and sent to Xero."""
    xero_invoice = world.xero.add_invoice(world.contact_id, Decimal(total), type_=type_)
    invoice_type = "purchase" if type_ == "ACCPAY" else "sales"
    invoice = f.invoice(id=CREDITED_ID, name="Spring order", invoice_type=invoice_type, currency_code="NZD")
    details = f.details(
        id=f.uid("credited-details"),
        invoice_id=CREDITED_ID,
        export_status=ExportStatus.YES,
        xero_invoice_id=xero_invoice.invoice_id,
        xero_invoice_number=xero_invoice.invoice_number,
    )
    world.dataverse.add(invoice, details)
    return xero_invoice


def credit_note(world: World, **overrides: Any) -> Invoice:
    values: dict[str, Any] = {
        "id": NOTE_ID,
        "name": "Refund for damaged widgets",
        "number": "INV-01002-CN",
        "description": "Damaged widgets",
        "invoice_type": "credit_note",
        "credits_invoice_id": CREDITED_ID,
        "currency_code": "NZD",
        "date_delivered": date(2026, 11, 20),
        "lines": [f.write_in_line(1, "Refund", price_per_unit=Decimal("100.00"))],
        "total_amount": Decimal("115.00"),
        "total_tax": Decimal("15.00"),
    }
    values.update(overrides)
    invoice = f.invoice(**values)
    world.dataverse.add(invoice, f.details(id=f.uid("note-details"), invoice_id=NOTE_ID))
    return invoice


def message() -> InvoiceSyncMessage:
    return InvoiceSyncMessage(
        invoice_id=NOTE_ID, organization="o", message_name="Update", correlation_id="c-1", event_time=NOW
    )


async def test_i14_a_credit_note_reaches_xero_as_one_and_is_allocated_to_its_invoice() -> None:
    world = make_world(default_invoice_status="AUTHORISED")
    invoice = credited_in_xero(world)
    credit_note(world)
    invoices_before = len(world.xero.invoices)

    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED

    [(note_id, draft)] = world.xero.credit_note_drafts.items()
    assert (draft.type, draft.reference, draft.date) == (
        "ACCRECCREDIT",
        "Damaged widgets",
        date(2026, 11, 20),
    )
    assert len(world.xero.invoices) == invoices_before  # no invoice was made of it
    assert world.xero.allocations == [(note_id, invoice.invoice_id, Decimal("115.00"))]
    details = world.details()
    assert (details.credit_note_id, details.credit_note_number, details.xero_status) == (
        note_id,
        "CN-0001",
        "PAID",
    )
    assert (details.export_status, details.amount_due, details.amount_credited) == (
        ExportStatus.YES,
        Decimal(0),
        Decimal("115.00"),
    )
    assert (
        details.xero_invoice_id is None and details.pending_create is None and details.claimed_until is None
    )
    assert world.history() == [
        "Created Xero credit note CN-0001 as AUTHORISED, total NZD 115.00.",
        "Xero credit note CN-0001 was allocated to invoice INV-0101: NZD 115.00.",
    ]
    assert world.xero.invoices[invoice.invoice_id].amount_due == Decimal("115.00")


async def test_i14_not_allocated_when_the_credit_is_more_than_is_due() -> None:
    world = make_world(default_invoice_status="AUTHORISED")
    credited_in_xero(world, total="57.50")
    credit_note(world)
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED
    assert world.xero.allocations == []
    assert world.history()[-1] == (
        "Xero credit note CN-0001 was not allocated to invoice INV-0101: its credit of NZD 115.00 is more "
        "than the NZD 57.50 due on invoice INV-0101. Allocate it in Xero."
    )


async def test_i14_a_credit_note_of_a_bill_is_accpaycredit_on_the_purchase_account() -> None:
    world = make_world(default_invoice_status="AUTHORISED")
    bill = credited_in_xero(world, type_="ACCPAY")
    credit_note(world)
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED
    [draft] = world.xero.credit_note_drafts.values()
    assert (draft.type, [line.account_code for line in draft.line_items]) == ("ACCPAYCREDIT", ["300"])
    assert [(i, a) for _, i, a in world.xero.allocations] == [(bill.invoice_id, Decimal("115.00"))]


async def test_i14_no_invoice_named_means_no_allocation_and_no_word_about_one() -> None:
    world = make_world()
    credit_note(world, credits_invoice_id=None)
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED
    assert world.history() == ["Created Xero credit note CN-0001 as DRAFT, total NZD 115.00."]


async def test_i14_a_draft_is_allocated_once_xero_has_it_approved_and_a_replayed_event_writes_nothing() -> (
    None
):
    world = make_world()  # DRAFT by default: Xero allocates approved credit notes only
    invoice = credited_in_xero(world)
    credit_note(world)
    await sync_invoice(message(), world.deps)
    assert world.history()[-1] == (
        "Xero credit note CN-0001 is DRAFT in Xero; it will be allocated to invoice INV-0101 once it is "
        "approved there."
    )
    note_id = world.details().credit_note_id or ""
    world.xero.approve_credit_note(note_id)  # a Xero user approves it
    back = BackSyncDependencies(dataverse=world.dataverse, xero_for=world.deps.xero_for, clock=lambda: NOW)
    event = await apply_credit_note_event(note_id, world.details(), world.connection, back, "c-2")
    assert event == EventResult.UPDATED
    assert world.xero.allocations == [(note_id, invoice.invoice_id, Decimal("115.00"))]
    assert world.history()[-2:] == [
        "Xero credit note CN-0001 was allocated to invoice INV-0101: NZD 115.00.",
        "Xero credit note CN-0001 is now PAID in Xero (was DRAFT).",
    ]
    assert (world.details().xero_status, world.details().amount_due) == ("PAID", Decimal(0))
    writes = list(world.dataverse.writes)
    again = await apply_credit_note_event(note_id, world.details(), world.connection, back, "c-3")
    assert (again, world.dataverse.writes) == (EventResult.UNCHANGED, writes)


async def test_i14_a_create_whose_answer_was_lost_is_found_not_made_twice() -> None:
    world = make_world(default_invoice_status="AUTHORISED")
    credited_in_xero(world)
    credit_note(world)
    create = world.xero.create_credit_note

    def lose_the_answer(draft: Any, key: str) -> Any:
        create(draft, key)  # made in Xero; the answer never arrives
        raise RetryableError("connection dropped after the create")

    world.xero.create_credit_note = lose_the_answer  # type: ignore[method-assign,assignment]
    with pytest.raises(RetryableError):
        await sync_invoice(message(), world.deps)
    world.xero.create_credit_note = create  # type: ignore[method-assign]
    assert world.details().pending_create is not None  # recorded before it was sent
    assert await sync_invoice(message(), world.deps) == SyncResult.ADOPTED
    assert len(world.xero.credit_notes) == 1
    assert world.history()[0] == "Found Xero credit note CN-0001 as AUTHORISED, total NZD 115.00."
    assert world.details().pending_create is None and world.details().credit_note_number == "CN-0001"


async def test_i14_xero_refusing_it_fails_it_and_a_second_message_makes_no_second_note() -> None:
    world = make_world()
    credit_note(world, currency_code="GBP", credits_invoice_id=None)
    assert await sync_invoice(message(), world.deps) == SyncResult.FAILED
    assert world.details().export_status == ExportStatus.FAILED
    assert "Organisation is not subscribed to currency GBP" in world.history()[-1]
    assert (world.details().pending_create or "").startswith("refused")
    world.dataverse.invoices[NOTE_ID] = world.dataverse.invoices[NOTE_ID].model_copy(
        update={"currency_code": "NZD"}
    )
    await world.dataverse.update_xero_details(world.details().id, {"export_status": ExportStatus.NO}, None)
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED
    await world.dataverse.update_xero_details(world.details().id, {"export_status": ExportStatus.NO}, None)
    assert await sync_invoice(message(), world.deps) == SyncResult.NOT_ELIGIBLE
    assert len(world.xero.credit_notes) == 1
    assert world.details().export_status == ExportStatus.YES


async def test_i16_an_archived_account_fails_the_credit_note_before_any_xero_call() -> None:
    dataverse = FakeDataverseWithReferenceData()
    world = make_world(dataverse)
    rows = account_rows([XeroAccount(code="999", name="Old", account_id="a-999", status="ARCHIVED")])
    await dataverse.write_reference_rows("account_code", world.connection.id, rows)
    credit_note(world, lines=[f.write_in_line(1, "Refund", account_code_override="999")])
    assert await sync_invoice(message(), world.deps) == SyncResult.FAILED
    assert world.xero.calls == {}
    assert world.history() == [
        "Not sent to Xero: Line 1: account code 999 is archived in Xero's chart of accounts. "
        'Fix the invoice, then set export status back to "No".'
    ]


async def test_i14_a_sweep_never_sends_a_credit_note_as_an_invoice() -> None:
    world = make_world()
    credit_note(world, credits_invoice_id=None)
    attempt = await load_attempt(message(), world.deps)
    assert isinstance(attempt, SyncAttempt)
    assert await prepare(attempt) is None  # the invoice path refuses it, untouched
    assert world.xero.calls == {} and world.dataverse.history == []
    invoices, results = await sync_credit_notes_apart([attempt])
    assert (invoices, results) == ([], [SyncResult.CREATED])

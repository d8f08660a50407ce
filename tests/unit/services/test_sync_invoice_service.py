"""sync_invoice with fakes of the Dataverse and Xero ports (SPEC I1, I5–I11, I13; no duplicates)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from connector.domain.dynamics import ConnectionSettings, ExportStatus, Invoice, InvoiceState, XeroDetails
from connector.domain.messages import InvoiceSyncMessage, parse_message
from connector.domain.sync.pending_create import PendingCreate
from connector.domain.xero_records import XeroInvoice, XeroInvoiceDraft
from connector.errors import AuthorisationError, ClaimedElsewhereError, RetryableError, XeroValidationError
from connector.services.connection_health import reconnected
from connector.services.item_cache import ItemCache
from connector.services.sweep_requests import SweepRequests
from connector.services.sync_invoice import SyncDependencies, SyncResult, sync_gave_up, sync_invoice
from tests import factories as f
from tests.fakes.dataverse import FakeDataverse
from tests.fakes.queues import FakeQueueSender
from tests.fakes.xero import FakeXero

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # already 01:00 on the 22nd in Auckland


@dataclass
class World:
    dataverse: FakeDataverse
    xero: FakeXero
    queues: FakeQueueSender
    deps: SyncDependencies
    clock: list[datetime]


def make_world(connection: ConnectionSettings | None = None) -> World:
    dataverse, xero, queues = FakeDataverse(), FakeXero(), FakeQueueSender()
    conn = connection or f.connection(is_default=True, time_zone="Pacific/Auckland")
    dataverse.connections[conn.id] = conn
    clock = [NOW]
    deps = SyncDependencies(
        dataverse=dataverse,
        xero_for=lambda _connection: xero,
        queues=queues,
        cancel_queue="invoice-cancel",
        org_url=f.ORG_URL,
        clock=lambda: clock[0],
        items=ItemCache(),
        sweeps=SweepRequests(queues, "sync-poll", lambda: clock[0]),
    )
    return World(dataverse, xero, queues, deps, clock)


def invoice(**overrides: object) -> Invoice:
    values: dict[str, object] = {
        "id": f.INVOICE_ID,
        "name": "Website rebuild",
        "number": "INV-01001",
        "currency_code": "NZD",
        "customer": f.customer(),
        "date_delivered": date(2026, 11, 21),
        "connection_id": f.CONNECTION_ID,
        "lines": [f.write_in_line(1, "Design", quantity=Decimal(2), price_per_unit=Decimal("150.00"))],
        "total_amount": Decimal("345.00"),
        "version_number": 7,
    }
    values.update(overrides)
    return Invoice.model_validate(values)


def details(**overrides: object) -> XeroDetails:
    values: dict[str, object] = {
        "id": f.uid("details"),
        "invoice_id": f.INVOICE_ID,
        "connection_id": f.CONNECTION_ID,
    }
    values.update(overrides)
    return XeroDetails.model_validate(values)


def message(name: str = "Update") -> InvoiceSyncMessage:
    return InvoiceSyncMessage(
        invoice_id=f.INVOICE_ID,
        organization="contoso",
        message_name=name,
        correlation_id="corr-1",
        event_time=NOW,
    )


async def test_i7_created_invoice_is_written_back_where_the_user_looks() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())

    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED

    [created] = world.xero.invoices.values()
    written = world.dataverse.details[f.INVOICE_ID]
    assert written.export_status == ExportStatus.YES
    assert (written.xero_invoice_id, written.xero_invoice_number) == (created.invoice_id, "INV-0001")
    assert (written.total, written.total_tax, written.amount_due) == (
        Decimal("345.00"),
        Decimal("45.00"),
        Decimal("345.00"),
    )
    assert written.claimed_until is None
    assert world.dataverse.invoices[f.INVOICE_ID].total_tax == Decimal("45.00")
    assert world.dataverse.history_for(f.INVOICE_ID) == [
        "Created Xero invoice INV-0001 as DRAFT, total NZD 345.00."
    ]
    assert world.xero.drafts[created.invoice_id].url == (
        f"{f.ORG_URL}/main.aspx?etn=invoice&id={f.INVOICE_ID}&pagetype=entityrecord"
    )


async def test_steady_state_costs_one_xero_call_per_invoice() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation", contact_id="known-contact")  # the contact it remembers
    customer = f.customer(xero_contact_id="known-contact")
    world.dataverse.add(invoice(customer=customer), details())
    await sync_invoice(message(), world.deps)
    assert sum(world.xero.calls.values()) == 1
    assert world.xero.calls["create_invoice"] == 1


async def test_i1_missing_xero_details_are_created_with_the_default_connection() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(connection_id=None), None)

    assert await sync_invoice(message("Create"), world.deps) == SyncResult.CREATED
    assert world.dataverse.invoices[f.INVOICE_ID].connection_id == f.CONNECTION_ID
    assert world.dataverse.details[f.INVOICE_ID].connection_id == f.CONNECTION_ID


async def test_i1_future_date_delivered_is_not_sent_and_writes_no_history() -> None:
    world = make_world()
    world.dataverse.add(invoice(date_delivered=date(2026, 11, 23)), details())
    assert await sync_invoice(message(), world.deps) == SyncResult.NOT_ELIGIBLE
    assert world.xero.invoices == {}
    assert world.dataverse.history == []


async def test_i1_today_is_taken_in_the_connections_time_zone() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    # 12:00 UTC on the 21st is the 22nd in Auckland: an invoice delivered on the 22nd is due today.
    world.dataverse.add(invoice(date_delivered=date(2026, 11, 22)), details())
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED


async def test_i13_date_delivered_is_set_on_create_when_the_setting_is_on() -> None:
    world = make_world(
        f.connection(is_default=True, set_date_delivered_on_create=True, time_zone="Pacific/Auckland")
    )
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(date_delivered=None), details())

    assert await sync_invoice(message("Create"), world.deps) == SyncResult.CREATED
    assert world.dataverse.invoices[f.INVOICE_ID].date_delivered == date(2026, 11, 22)
    assert [draft.date for draft in world.xero.drafts.values()] == [date(2026, 11, 22)]


async def test_i10_validation_error_fails_with_xeros_words_then_retry_after_fix() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())
    world.xero.reject_with = ["Account code '999' is not a valid code for this document."]

    assert await sync_invoice(message(), world.deps) == SyncResult.FAILED
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.FAILED
    [entry] = world.dataverse.history
    assert "Account code '999' is not a valid code for this document." in entry.detail
    assert entry.outcome == "Failed"

    # The user fixes the invoice and sets export status back to "No"; the update webhook retries it.
    world.xero.reject_with = None
    world.dataverse.details[f.INVOICE_ID] = world.dataverse.details[f.INVOICE_ID].model_copy(
        update={"export_status": ExportStatus.NO}
    )
    world.dataverse.invoices[f.INVOICE_ID] = world.dataverse.invoices[f.INVOICE_ID].model_copy(
        update={"version_number": 8}
    )
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED
    assert len(world.xero.invoices) == 1


async def test_same_message_delivered_twice_makes_one_xero_invoice() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED
    assert await sync_invoice(message(), world.deps) == SyncResult.NOT_ELIGIBLE
    assert len(world.xero.invoices) == 1


async def test_two_handlers_at_once_one_creates_the_other_defers() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())
    results = await asyncio.gather(
        sync_invoice(message(), world.deps), sync_invoice(message(), world.deps), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["ClaimedElsewhereError", "SyncResult"]
    assert len(world.xero.invoices) == 1


async def test_crash_after_xero_create_is_adopted_not_duplicated() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())
    world.xero.fail_after_create = RetryableError("read timed out after the invoice was committed")

    with pytest.raises(RetryableError):
        await sync_invoice(message(), world.deps)
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.NO

    # The user edits the invoice meanwhile, so the idempotency key differs: the URL lookup saves us.
    world.dataverse.invoices[f.INVOICE_ID] = world.dataverse.invoices[f.INVOICE_ID].model_copy(
        update={"version_number": 9}
    )
    world.clock[0] = NOW + timedelta(seconds=5)
    assert await sync_invoice(message(), world.deps) == SyncResult.ADOPTED
    assert len(world.xero.invoices) == 1
    assert world.dataverse.details[f.INVOICE_ID].xero_invoice_id == next(iter(world.xero.invoices))


async def test_live_claim_defers_and_looks_again_soon() -> None:
    world = make_world()
    world.dataverse.add(invoice(), details(claimed_until=NOW + timedelta(seconds=3), claimed_by="other"))
    with pytest.raises(ClaimedElsewhereError) as raised:
        await sync_invoice(message(), world.deps)
    assert raised.value.retry_after == 4
    world.dataverse.details[f.INVOICE_ID] = world.dataverse.details[f.INVOICE_ID].model_copy(
        update={"claimed_until": NOW + timedelta(seconds=100)}
    )
    with pytest.raises(ClaimedElsewhereError) as raised:
        await sync_invoice(message(), world.deps)
    assert raised.value.retry_after == 5  # looks again soon; the holder usually finishes in seconds
    assert world.xero.calls == {}


async def test_i5_found_contact_is_remembered_on_the_dynamics_customer() -> None:
    world = make_world()
    contact = world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())
    await sync_invoice(message(), world.deps)
    assert world.dataverse.customer_updates == [
        {"kind": "account", "id": f.uid("customer"), "xero_contact_id": contact.contact_id, "owed": None}
    ]


async def test_i5_missing_contact_is_created_when_allowed() -> None:
    world = make_world()
    world.dataverse.add(invoice(), details())
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED
    assert [c.name for c in world.xero.contacts.values()] == ["A. Datum Corporation"]
    assert "Created contact A. Datum Corporation in Xero." in world.dataverse.history_for(f.INVOICE_ID)


async def test_i5_missing_contact_fails_when_creation_is_off() -> None:
    world = make_world(f.connection(is_default=True, create_contacts=False))
    world.dataverse.add(invoice(), details())
    assert await sync_invoice(message(), world.deps) == SyncResult.FAILED
    assert world.xero.invoices == {}
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.FAILED
    assert "creating contacts is turned off" in world.dataverse.history_for(f.INVOICE_ID)[0]


async def test_i6_missing_item_is_created_once_and_then_cached() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    lines = [f.product_line(1, f.product("WIDGET-1"), price_per_unit=Decimal("10.00"))]
    world.dataverse.add(invoice(lines=lines, total_amount=Decimal("11.50")), details())
    await sync_invoice(message(), world.deps)
    assert list(world.xero.items) == ["WIDGET-1"]
    assert world.xero.calls["create_items"] == 1

    other = f.uid("second-invoice")
    world.dataverse.add(invoice(id=other, lines=lines), details(id=f.uid("details-2"), invoice_id=other))
    await sync_invoice(message().model_copy(update={"invoice_id": other}), world.deps)
    assert world.xero.calls["get_items_by_codes"] == 1  # the second invoice found the item in the cache
    assert world.xero.calls["create_items"] == 1


async def test_c2_revoked_authorisation_marks_the_connection_once_and_invoices_wait() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation", contact_id="c-1")  # the contact it remembers
    second = f.uid("second-invoice")
    world.dataverse.add(invoice(customer=f.customer(xero_contact_id="c-1")), details())
    world.dataverse.add(
        invoice(id=second, customer=f.customer(xero_contact_id="c-1")),
        details(id=f.uid("second-details"), invoice_id=second),
    )
    create_invoice = world.xero.create_invoice

    def revoked(*_: object) -> None:
        raise AuthorisationError("invalid_grant")

    world.xero.create_invoice = revoked  # type: ignore[method-assign]
    assert await sync_invoice(message(), world.deps) == SyncResult.WAITING_FOR_RECONNECT
    assert world.dataverse.history_for(f.INVOICE_ID) == [
        "Reconnect connection Contoso UK to Xero: Xero no longer accepts its authorisation."
    ]
    connection = world.dataverse.connections[f.CONNECTION_ID]
    assert connection.needs_reconnect and connection.reconnect_reason
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.NO  # waits, not Failed
    assert world.dataverse.details[f.INVOICE_ID].claimed_until is None

    other = message().model_copy(update={"invoice_id": second})
    assert await sync_invoice(other, world.deps) == SyncResult.NOT_ELIGIBLE  # waits quietly
    assert world.dataverse.history_for(second) == []

    world.xero.create_invoice = create_invoice  # type: ignore[method-assign]
    await reconnected(world.dataverse, connection, world.queues, "sync-poll", lambda: NOW)
    assert len(world.queues.on("sync-poll")) == 1  # the sweep that sends the waiting invoices
    assert await sync_invoice(other, world.deps) == SyncResult.CREATED


async def test_i4_rounding_difference_is_reported_in_sync_history() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation", contact_id="c-1")  # the contact it remembers
    world.dataverse.add(
        invoice(
            customer=f.customer(xero_contact_id="c-1"),
            total_amount=Decimal("345.01"),
            total_tax=Decimal("45.01"),
        ),
        details(),
    )
    await sync_invoice(message(), world.deps)
    assert any(
        "differs from the Dynamics total" in text for text in world.dataverse.history_for(f.INVOICE_ID)
    )


async def test_cancelled_invoice_seen_by_sync_is_handed_to_the_cancel_queue() -> None:
    world = make_world()
    world.dataverse.add(invoice(state=InvoiceState.CANCELED), details(xero_invoice_id="x-1"))
    assert await sync_invoice(message(), world.deps) == SyncResult.HANDED_TO_CANCEL
    [sent] = world.queues.sent
    assert sent.queue == "invoice-cancel"
    assert parse_message(sent.body).type == "invoice.cancel"


async def test_deleted_invoice_is_gone_quietly() -> None:
    world = make_world()
    assert await sync_invoice(message(), world.deps) == SyncResult.GONE


async def test_i11_ready_to_update_pushes_changes_when_allowed() -> None:
    world = make_world(f.connection(is_default=True, allow_invoice_update=True))
    world.xero.add_contact("A. Datum Corporation", contact_id="c-1")  # the contact it remembers
    world.dataverse.add(
        invoice(customer=f.customer(xero_contact_id="c-1")),
        details(export_status=ExportStatus.NO),
    )
    await sync_invoice(message(), world.deps)
    xero_id = world.dataverse.details[f.INVOICE_ID].xero_invoice_id
    world.dataverse.details[f.INVOICE_ID] = world.dataverse.details[f.INVOICE_ID].model_copy(
        update={"export_status": ExportStatus.READY_TO_UPDATE}
    )
    assert await sync_invoice(message(), world.deps) == SyncResult.UPDATED
    assert world.xero.calls["update_invoice"] == 1
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.YES
    assert (
        world.dataverse.history_for(f.INVOICE_ID)[-1]
        == "Updated Xero invoice INV-0001 with the changes from Dynamics."
    )
    assert xero_id is not None


async def test_i11_update_refused_when_the_connection_does_not_allow_it() -> None:
    world = make_world()
    world.dataverse.add(invoice(), details(export_status=ExportStatus.READY_TO_UPDATE, xero_invoice_id="x-1"))
    assert await sync_invoice(message(), world.deps) == SyncResult.FAILED
    assert world.xero.calls == {}
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.YES


async def test_i5_contact_created_meanwhile_by_another_worker_is_used_not_failed() -> None:
    world = make_world()
    world.dataverse.add(invoice(), details())

    def someone_was_faster(draft: object, key: str) -> object:
        world.xero.add_contact("A. Datum Corporation")  # the other worker's contact
        raise XeroValidationError(
            ["The contact name A. Datum Corporation is already assigned to another contact."]
        )

    world.xero.create_contact = someone_was_faster  # type: ignore[method-assign,assignment]
    assert await sync_invoice(message(), world.deps) == SyncResult.CREATED
    assert len(world.xero.contacts) == 1
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.YES


async def test_o2_giving_up_marks_the_invoice_failed_with_sync_history() -> None:
    world = make_world()
    world.dataverse.add(invoice(), details(claimed_until=NOW - timedelta(seconds=1), claimed_by="crashed"))
    await sync_gave_up(message(), "RetryableError: Xero 503", world.deps, attempts=5)
    written = world.dataverse.details[f.INVOICE_ID]
    assert written.export_status == ExportStatus.FAILED
    assert written.claimed_by == "crashed"  # kept: the next attempt must look in Xero before creating
    [text] = world.dataverse.history_for(f.INVOICE_ID)
    assert text.startswith(
        "The invoice could not be sent to Xero after 5 attempts (RetryableError: Xero 503)."
    )


async def test_i1_new_invoice_costs_three_dataverse_calls_its_details_born_claimed() -> None:
    world = make_world()
    world.xero.add_contact("A. Datum Corporation", contact_id="c-1")  # the contact it remembers
    world.dataverse.add(invoice(connection_id=None, customer=f.customer(xero_contact_id="c-1")), None)
    seen: list[str | None] = []
    original = world.xero.create_invoice

    def create_invoice(draft: XeroInvoiceDraft, key: str) -> XeroInvoice:
        seen.append(world.dataverse.details[f.INVOICE_ID].pending_create)  # what a crash here leaves
        return original(draft, key)

    world.xero.create_invoice = create_invoice  # type: ignore[method-assign]
    assert await sync_invoice(message("Update"), world.deps) == SyncResult.CREATED
    assert dict(world.dataverse.calls) == {
        "get_invoice_snapshot": 1,
        "get_default_connection": 1,  # cached for a minute by the real adapter
        # details created already claimed, with the invoice's connection and the record that a create
        # may follow: no second write before the create is sent
        "set_up_invoice": 1,
        "commit_sync_result": 1,
    }
    assert seen == [PendingCreate.unprepared().encode()]
    details = world.dataverse.details[f.INVOICE_ID]
    assert details.claimed_until is None  # released by the write-back
    assert details.pending_create is None  # and the create's record cleared by it


async def test_i2_the_held_back_create_of_an_invoice_already_sent_costs_no_read() -> None:
    """One save reaches the connector as a line's Update at once and the invoice's Create held back:
    the Update sends it, and the Create is dropped unread. Any other event is read: it may be an edit."""
    world = make_world()
    world.xero.add_contact("A. Datum Corporation")
    world.dataverse.add(invoice(), details())
    assert await sync_invoice(message("Update"), world.deps) == SyncResult.CREATED
    world.dataverse.calls.clear()

    assert await sync_invoice(message("Create"), world.deps) == SyncResult.NOT_ELIGIBLE
    assert sum(world.dataverse.calls.values()) == 0
    assert await sync_invoice(message("Update"), world.deps) == SyncResult.NOT_ELIGIBLE
    assert world.dataverse.calls["get_invoice_snapshot"] == 1

"""I11 updates decided from Xero's current state, and I8 email once per invoice, with the fakes.

Each test creates the invoice through sync_invoice, lets Xero move on (a payment, an approval), then
edits the invoice in Dynamics and sets export status "Ready to update", as a user would.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from connector.domain.dynamics import ExportStatus
from connector.domain.messages import SweepMessage, XeroEventMessage
from connector.errors import RetryableError, XeroValidationError
from connector.services.back_sync import BackSyncDependencies, EventResult, apply_xero_event
from connector.services.reconcile import ReconcileDependencies, reconcile
from connector.services.sweep import SweepDependencies, sweep
from connector.services.sync_attempt import SyncResult
from connector.services.sync_invoice import sync_invoice
from tests import factories as f
from tests.fakes.storage import MemoryWatermarkStore
from tests.unit.services.test_sync_invoice_service import NOW, World, details, invoice, make_world, message

EMAILED = "Xero invoice INV-0001 was emailed to the customer from Xero."


def world_for(**settings: object) -> World:
    connection = f.connection(is_default=True, allow_invoice_update=True, time_zone="UTC", **settings)
    world = make_world(connection)
    world.xero.add_contact("A. Datum Corporation", contact_id="c-1")
    world.dataverse.add(invoice(customer=f.customer(xero_contact_id="c-1")), details())
    return world


async def create(world: World) -> str:
    assert await sync_invoice(message("Create"), world.deps) == SyncResult.CREATED
    xero_id = world.dataverse.details[f.INVOICE_ID].xero_invoice_id
    assert xero_id is not None
    return xero_id


def edit(world: World, **changes: object) -> None:
    """The user saves the invoice, then sets export status "Ready to update"."""
    current = world.dataverse.invoices[f.INVOICE_ID]
    version = (current.version_number or 0) + 1
    world.dataverse.invoices[f.INVOICE_ID] = current.model_copy(update={**changes, "version_number": version})
    ready = world.dataverse.details[f.INVOICE_ID].model_copy(
        update={"export_status": ExportStatus.READY_TO_UPDATE}
    )
    world.dataverse.details[f.INVOICE_ID] = ready


def set_connection(world: World, **settings: object) -> None:
    connection = world.dataverse.connections[f.CONNECTION_ID]
    world.dataverse.connections[f.CONNECTION_ID] = connection.model_copy(update=settings)


def history(world: World) -> list[str]:
    return world.dataverse.history_for(f.INVOICE_ID)


def priced(price: str, **extra: object) -> list[object]:
    return [f.write_in_line(1, "Design", quantity=Decimal(2), price_per_unit=Decimal(price), **extra)]


# --- I11: one test per row of the update rules -----------------------------------------------------------


async def test_i11_a_draft_takes_the_edit_in_place() -> None:
    world = world_for()
    xero_id = await create(world)
    line_id = world.xero.invoices[xero_id].line_items[0].line_item_id
    edit(world, description="Rebuild, phase 2", lines=priced("200.00"))
    assert await sync_invoice(message(), world.deps) == SyncResult.UPDATED
    updated = world.xero.invoices[xero_id]
    assert (updated.status, updated.reference, updated.total) == (
        "DRAFT",
        "Rebuild, phase 2",
        Decimal("460.00"),
    )
    assert [li.line_item_id for li in updated.line_items] == [line_id]  # updated, not replaced
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.YES
    assert world.dataverse.invoices[f.INVOICE_ID].amount_due == Decimal("460.00")
    assert history(world)[-1] == "Updated Xero invoice INV-0001 with the changes from Dynamics."
    assert (world.xero.calls["get_invoice"], world.xero.calls["update_invoice"]) == (1, 1)


async def test_i11_a_draft_moves_on_to_the_connections_status_and_is_emailed_once() -> None:
    world = world_for()
    xero_id = await create(world)
    set_connection(world, default_invoice_status="AUTHORISED", send_email=True)
    edit(world, description="Approved now")
    assert await sync_invoice(message(), world.deps) == SyncResult.UPDATED
    assert world.xero.invoices[xero_id].status == "AUTHORISED"
    assert world.xero.emails_sent == [xero_id]
    edit(world, description="Approved, edited again")
    assert await sync_invoice(message(), world.deps) == SyncResult.UPDATED
    assert world.xero.emails_sent == [xero_id]  # never twice
    assert history(world).count(EMAILED) == 1


async def test_i11_an_authorised_invoice_takes_everything_but_a_step_back() -> None:
    world = world_for(default_invoice_status="AUTHORISED")
    xero_id = await create(world)
    set_connection(world, default_invoice_status="DRAFT")  # Xero refuses AUTHORISED → DRAFT
    edit(world, description="More design", lines=priced("175.00"))
    assert await sync_invoice(message(), world.deps) == SyncResult.UPDATED
    updated = world.xero.invoices[xero_id]
    assert (updated.status, updated.reference, updated.total) == (
        "AUTHORISED",
        "More design",
        Decimal("402.50"),
    )


async def test_i11_a_part_paid_invoice_takes_text_and_dates_and_keeps_its_amounts_politely() -> None:
    world = world_for(default_invoice_status="AUTHORISED")
    xero_id = await create(world)
    world.xero.pay(xero_id, Decimal("100.00"))
    edit(
        world,
        description="Paid in part, new reference",
        due_date=date(2026, 12, 31),
        lines=priced("175.00", description="Design, revised", account_code_override="260"),
    )
    assert await sync_invoice(message(), world.deps) == SyncResult.UPDATED
    updated = world.xero.invoices[xero_id]
    assert (updated.reference, updated.due_date) == ("Paid in part, new reference", date(2026, 12, 31))
    [held] = updated.line_items
    assert (held.description, held.account_code, held.unit_amount) == (
        "Design\nDesign, revised",
        "260",
        Decimal("150.00"),
    )
    assert (updated.total, updated.amount_due, updated.status) == (
        Decimal("345.00"),
        Decimal("245.00"),
        "AUTHORISED",
    )
    written = world.dataverse.details[f.INVOICE_ID]
    assert (written.export_status, written.amount_due, written.amount_paid) == (
        ExportStatus.YES,
        Decimal("245.00"),
        Decimal("100.00"),
    )
    assert history(world)[-2:] == [
        "Updated Xero invoice INV-0001 with the changes from Dynamics.",
        "Xero invoice INV-0001 has payments, so Xero keeps its amounts: the unit price of line 1 stayed as "
        "they are in Xero. Only the reference, due date, number, branding theme, contact and link, and the "
        "lines' descriptions, account codes and tracking change on a paid invoice.",
    ]


async def test_i11_a_paid_bill_is_refused_with_sync_history() -> None:
    world = world_for(default_invoice_status="AUTHORISED")
    world.dataverse.invoices[f.INVOICE_ID] = world.dataverse.invoices[f.INVOICE_ID].model_copy(
        update={"invoice_type": "purchase"}
    )
    xero_id = await create(world)
    world.xero.pay(xero_id)
    edit(world, description="Too late")
    assert await sync_invoice(message(), world.deps) == SyncResult.FAILED
    assert history(world)[-1] == "The bill is paid in Xero; paid bills are never updated."
    written = world.dataverse.details[f.INVOICE_ID]
    assert (written.export_status, written.xero_status, written.claimed_by) == (
        ExportStatus.YES,
        "PAID",
        None,
    )
    assert (world.xero.calls["get_invoice"], world.xero.calls["update_invoice"]) == (1, 0)


async def test_i11_a_change_xero_refuses_is_failed_with_xeros_words() -> None:
    world = world_for()
    await create(world)
    edit(world, lines=priced("150.00", account_code_override="NOPE"))
    assert await sync_invoice(message(), world.deps) == SyncResult.FAILED
    assert world.dataverse.details[f.INVOICE_ID].export_status == ExportStatus.FAILED
    assert history(world)[-1] == (
        "Xero rejected the invoice: Account code 'NOPE' is not a valid code for this document. "
        'Fix the invoice, then set export status back to "No".'
    )


# --- I8: email -------------------------------------------------------------------------------------------


async def test_i8_an_invoice_created_authorised_is_emailed_once_and_remembered() -> None:
    world = world_for(default_invoice_status="AUTHORISED", send_email=True)
    xero_id = await create(world)
    assert world.xero.emails_sent == [xero_id]
    assert world.dataverse.details[f.INVOICE_ID].emailed_on == NOW
    assert await sync_invoice(message(), world.deps) == SyncResult.NOT_ELIGIBLE  # a duplicate message
    assert world.xero.calls["email_invoice"] == 1 and history(world).count(EMAILED) == 1


async def test_i8_a_draft_is_not_emailed_and_nothing_goes_when_the_setting_is_off() -> None:
    drafted = world_for(send_email=True)
    await create(drafted)
    off = world_for(default_invoice_status="AUTHORISED")
    await create(off)
    assert drafted.xero.calls["email_invoice"] == off.xero.calls["email_invoice"] == 0


def event(xero_id: str, n: int) -> XeroEventMessage:
    return XeroEventMessage(
        tenant_id="tenant-1",
        event_category="INVOICE",
        event_type="UPDATE",
        resource_id=xero_id,
        resource_url=f"https://api.xero.com/api.xro/2.0/Invoices/{xero_id}",
        event_date_utc=(NOW + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000"),
        correlation_id=f"event-{n}",
    )


async def test_i8_an_invoice_approved_later_in_xero_is_emailed_by_back_sync_once() -> None:
    world = world_for(send_email=True)
    xero_id = await create(world)
    world.xero.approve(xero_id)
    deps = BackSyncDependencies(dataverse=world.dataverse, xero_for=lambda _: world.xero, clock=lambda: NOW)
    assert await apply_xero_event(event(xero_id, 1), deps) == EventResult.UPDATED
    assert await apply_xero_event(event(xero_id, 2), deps) in (EventResult.UNCHANGED, EventResult.IGNORED)
    assert world.xero.emails_sent == [xero_id]
    assert history(world)[-2:] == ["Xero invoice INV-0001 is now AUTHORISED in Xero (was DRAFT).", EMAILED]


def reconcile_deps(world: World) -> ReconcileDependencies:
    return ReconcileDependencies(
        dataverse=world.dataverse,
        xero_for=lambda _: world.xero,
        clock=lambda: world.clock[0],
        watermarks=MemoryWatermarkStore(),
    )


async def test_i8_an_email_that_fails_is_a_warning_then_sent_by_reconcile_never_twice() -> None:
    world = world_for(default_invoice_status="AUTHORISED", send_email=True)
    world.xero.fail_next["email_invoice"] = RetryableError("Xero email_invoice: server error HTTP 503")
    xero_id = await create(world)
    assert world.xero.emails_sent == []
    assert world.dataverse.details[f.INVOICE_ID].email_pending is True
    assert history(world)[-1] == (
        "Xero invoice INV-0001 could not be emailed from Xero yet "
        "(Xero email_invoice: server error HTTP 503). It will be tried again."
    )
    deps = reconcile_deps(world)
    await reconcile(world.dataverse.connections[f.CONNECTION_ID], deps)
    assert world.xero.emails_sent == [xero_id]
    written = world.dataverse.details[f.INVOICE_ID]
    assert (written.email_pending, written.emailed_on) == (False, NOW)
    await reconcile(world.dataverse.connections[f.CONNECTION_ID], deps)
    assert world.xero.calls["email_invoice"] == 2  # the failure and the success, nothing more
    assert history(world).count(EMAILED) == 1


async def test_i8_a_refusal_in_xeros_words_is_a_warning_and_not_tried_again() -> None:
    world = world_for(default_invoice_status="AUTHORISED", send_email=True)
    world.xero.fail_next["email_invoice"] = XeroValidationError(["The contact has no email address"])
    await create(world)
    assert history(world)[-1] == (
        "Xero did not email Xero invoice INV-0001: The contact has no email address "
        "Email it from Xero once that is fixed."
    )
    await reconcile(world.dataverse.connections[f.CONNECTION_ID], reconcile_deps(world))
    assert world.xero.calls["email_invoice"] == 1


async def test_i8_a_pending_email_of_an_invoice_paid_meanwhile_is_dropped() -> None:
    world = world_for(default_invoice_status="AUTHORISED", send_email=True)
    world.xero.fail_next["email_invoice"] = RetryableError("Xero email_invoice: server error HTTP 503")
    xero_id = await create(world)
    world.xero.pay(xero_id)
    await reconcile(world.dataverse.connections[f.CONNECTION_ID], reconcile_deps(world))
    assert world.xero.calls["email_invoice"] == 1
    assert world.dataverse.details[f.INVOICE_ID].email_pending is False


# --- I13 by the sweep ------------------------------------------------------------------------------------


async def test_i13_the_sweep_sets_date_delivered_when_the_webhooks_were_lost() -> None:
    connection = f.connection(
        is_default=True, set_date_delivered_on_create=True, time_zone="Pacific/Auckland"
    )
    world = make_world(connection)
    world.xero.add_contact("A. Datum Corporation", contact_id="c-1")
    world.dataverse.add(invoice(date_delivered=None, customer=f.customer(xero_contact_id="c-1")))
    totals = await sweep(
        SweepMessage(scheduled_for=NOW, correlation_id="sweep-1"),
        SweepDependencies(dataverse=world.dataverse, sync=world.deps),
    )
    assert totals == {"created": 1}
    # In the connection's time zone: 12:00 UTC on the 21st is already the 22nd in Auckland.
    assert world.dataverse.invoices[f.INVOICE_ID].date_delivered == date(2026, 11, 22)
    assert "Date Delivered was set automatically to 2026-11-22." in history(world)


async def test_i13_the_sweep_leaves_an_invoice_it_already_knows_alone() -> None:
    world = make_world(f.connection(is_default=True, set_date_delivered_on_create=True))
    world.dataverse.add(invoice(date_delivered=None), details())
    await sweep(
        SweepMessage(scheduled_for=NOW, correlation_id="sweep-1"),
        SweepDependencies(dataverse=world.dataverse, sync=world.deps),
    )
    assert world.dataverse.invoices[f.INVOICE_ID].date_delivered is None

"""apply_xero_event with fakes of the ports: payments, Paid, balances, unknown records (SPEC B2, B3, B5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from connector.domain.dynamics import Customer, Invoice, InvoiceState, InvoiceStatusReason
from connector.domain.messages import XeroEventMessage
from connector.domain.xero_records import XeroInvoice
from connector.errors import RetryableError
from connector.services.back_sync import (
    BackSyncDependencies,
    EventResult,
    apply_invoice_update,
    apply_xero_event,
)
from tests import factories as f
from tests.unit.services.world import TENANT_ID, World, details_for, make_world

DUE = date(2026, 12, 1)  # after "today" (2026-11-21): not overdue
FULLY_PAID = "Xero invoice INV-0101 is fully paid (NZD 115.00). The Dynamics invoice is marked Paid."


@dataclass
class Setup:
    world: World
    deps: BackSyncDependencies
    customer: Customer
    xero_invoice: XeroInvoice

    @property
    def invoice(self) -> Invoice:
        return self.world.dataverse.invoices[f.INVOICE_ID]

    def history(self) -> list[str]:
        return self.world.dataverse.history_for(f.INVOICE_ID)


def setup(
    *, due_date: date = DUE, state: InvoiceState = InvoiceState.ACTIVE, online_url: str | None = None
) -> Setup:
    """An authorised Xero invoice INV-0101 for NZD 115.00 (15.00 tax) that the connector created."""
    world = make_world(f.connection(time_zone="UTC"))
    contact = world.xero.add_contact("A. Datum Corporation")
    customer = f.customer(xero_contact_id=contact.contact_id)
    world.dataverse.customers[customer.id] = customer
    xero_invoice = world.xero.add_invoice(
        contact.contact_id, Decimal("115.00"), tax=Decimal("15.00"), due_date=due_date
    )
    invoice = f.invoice(
        customer=customer,
        currency_code="NZD",
        due_date=due_date,
        total_amount=Decimal("115.00"),
        total_tax=Decimal("15.00"),
        state=state,
    )
    details = details_for(xero_invoice, invoice.id, world.connection.id, online_invoice_url=online_url)
    world.dataverse.add(invoice, details)
    deps = BackSyncDependencies(dataverse=world.dataverse, xero_for=world.xero_for, clock=world.now)
    return Setup(world, deps, customer, xero_invoice)


def event(resource_id: str, category: str = "INVOICE", n: int = 1) -> XeroEventMessage:
    return XeroEventMessage(
        tenant_id=TENANT_ID,
        event_category=category,
        event_type="UPDATE",
        resource_id=resource_id,
        resource_url=f"https://api.xero.com/api.xro/2.0/{category.title()}s/{resource_id}",
        event_date_utc="2026-11-21T12:00:00.000",
        correlation_id=f"event-{n}",
    )


async def test_b2_partial_payment_updates_details_and_history_but_not_the_status() -> None:
    s = setup(online_url="https://in.xero.com/known")
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("40.00"))

    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.UPDATED

    details = s.world.dataverse.details[f.INVOICE_ID]
    assert (details.xero_status, details.amount_paid, details.amount_due) == (
        "AUTHORISED",
        Decimal("40.00"),
        Decimal("75.00"),
    )
    assert s.history() == ["Paid NZD 40.00 of NZD 115.00, due NZD 75.00 by 2026-12-01."]
    assert (s.invoice.state, s.invoice.status_reason) == (InvoiceState.ACTIVE, InvoiceStatusReason.NEW)
    assert "set_invoice_state" not in s.world.dataverse.writes


async def test_b2_partial_then_full_payment_marks_the_invoice_paid() -> None:
    s = setup()
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("40.00"))
    await apply_xero_event(event(s.xero_invoice.invoice_id, n=1), s.deps)
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("75.00"))

    assert await apply_xero_event(event(s.xero_invoice.invoice_id, n=2), s.deps) == EventResult.PAID

    assert (s.invoice.state, s.invoice.status_reason) == (InvoiceState.PAID, 100001)
    details = s.world.dataverse.details[f.INVOICE_ID]
    assert (details.xero_status, details.amount_paid, details.amount_due) == ("PAID", Decimal("115.00"), 0)
    assert s.history() == ["Paid NZD 40.00 of NZD 115.00, due NZD 75.00 by 2026-12-01.", FULLY_PAID]


async def test_b2_a_full_payment_is_one_atomic_write_after_the_balances() -> None:
    s = setup()
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))

    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)

    assert s.world.dataverse.writes == ["update_customer_xero", "commit_sync_results"]
    assert (s.invoice.state, s.world.dataverse.details[f.INVOICE_ID].xero_status) == (
        InvoiceState.PAID,
        "PAID",
    )
    assert s.history() == [FULLY_PAID]


async def test_b2_duplicate_event_writes_nothing() -> None:
    s = setup()
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("40.00"))
    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    writes_after_first = list(s.world.dataverse.writes)

    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.UNCHANGED
    assert s.world.dataverse.writes == writes_after_first
    assert len(s.history()) == 1


async def test_b2_duplicate_of_the_paid_event_writes_nothing() -> None:
    s = setup()
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))
    for _ in range(3):
        await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)

    assert s.world.dataverse.writes.count("commit_sync_results") == 1
    assert s.history() == [FULLY_PAID]


async def test_b2_out_of_order_events_end_in_xeros_current_state() -> None:
    """The partial-payment event arrives after the full-payment one: both re-read Xero, so the late
    one sees the invoice already paid and changes nothing."""
    s = setup()
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("40.00"))
    partial_event = event(s.xero_invoice.invoice_id, n=1)
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("75.00"))
    paid_event = event(s.xero_invoice.invoice_id, n=2)

    assert await apply_xero_event(paid_event, s.deps) == EventResult.PAID
    assert await apply_xero_event(partial_event, s.deps) == EventResult.UNCHANGED

    assert s.invoice.state == InvoiceState.PAID
    assert s.world.dataverse.details[f.INVOICE_ID].amount_due == 0
    assert s.history() == [FULLY_PAID]


@pytest.mark.parametrize("failing_write", ["update_customer_xero", "commit_sync_results"])
async def test_b2_retry_after_a_failure_in_the_middle_converges(failing_write: str) -> None:
    s = setup()
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))
    s.world.dataverse.fail_next[failing_write] = RetryableError("Dataverse 503")

    with pytest.raises(RetryableError):
        await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    assert s.invoice.state == InvoiceState.ACTIVE  # nothing half-written
    assert s.history() == []

    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.PAID
    assert (s.invoice.state, s.invoice.status_reason) == (InvoiceState.PAID, 100001)
    details = s.world.dataverse.details[f.INVOICE_ID]
    assert (details.xero_status, details.amount_paid, details.amount_due) == ("PAID", Decimal("115.00"), 0)
    assert s.history() == [FULLY_PAID]
    assert s.world.dataverse.balances[("account", s.customer.id)] == (0, 0)
    # Once converged, the same event again changes nothing.
    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.UNCHANGED


async def test_b2_overdue_partial_payment_says_so() -> None:
    s = setup(due_date=date(2026, 11, 1))
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("15.00"))

    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)

    assert s.history() == ["Paid NZD 15.00 of NZD 115.00, due NZD 100.00 by 2026-11-01 (overdue)."]


async def test_b2_online_url_is_recorded_once_available() -> None:
    s = setup()
    s.world.xero.online_urls = False
    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    assert s.world.dataverse.details[f.INVOICE_ID].online_invoice_url is None

    s.world.xero.online_urls = True
    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.UPDATED
    url = f"https://in.xero.com/{s.xero_invoice.invoice_id}"
    assert s.world.dataverse.details[f.INVOICE_ID].online_invoice_url == url

    calls_before = s.world.xero.calls["get_online_invoice_url"]
    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    assert s.world.xero.calls["get_online_invoice_url"] == calls_before  # known: not asked again


async def test_b2_xeros_totals_and_due_date_are_copied_to_the_dynamics_invoice() -> None:
    s = setup()
    changed = s.world.xero.invoices[s.xero_invoice.invoice_id].model_copy(
        update={"total": Decimal("230.00"), "total_tax": Decimal("30.00"), "amount_due": Decimal("230.00")}
    )
    s.world.xero.invoices[changed.invoice_id] = changed.model_copy(update={"due_date": date(2026, 12, 20)})

    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)

    assert (s.invoice.total_amount, s.invoice.total_tax, s.invoice.due_date) == (
        Decimal("230.00"),
        Decimal("30.00"),
        date(2026, 12, 20),
    )
    details = s.world.dataverse.details[f.INVOICE_ID]
    assert (details.total, details.total_tax, details.due_date) == (
        Decimal("230.00"),
        Decimal("30.00"),
        date(2026, 12, 20),
    )


async def test_b2_a_cancelled_invoice_paid_off_by_its_credit_note_stays_cancelled() -> None:
    s = setup(state=InvoiceState.CANCELED)
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))  # stands in for the allocation

    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.UPDATED

    assert s.invoice.state == InvoiceState.CANCELED
    assert "set_invoice_state" not in s.world.dataverse.writes
    assert "update_invoice_totals" not in s.world.dataverse.writes  # read-only once cancelled
    assert s.history() == ["Xero invoice INV-0101 is now PAID in Xero (was AUTHORISED)."]


async def test_b3_balances_after_payments_match_hand_computed_amounts() -> None:
    s = setup()
    xero, contact_id = s.world.xero, s.customer.xero_contact_id
    assert contact_id is not None
    overdue_invoice = xero.add_invoice(contact_id, Decimal("200.00"), due_date=date(2026, 11, 1))
    xero.add_invoice(contact_id, Decimal("50.00"), status="DRAFT", due_date=date(2026, 10, 1))  # not owed
    xero.add_invoice(xero.add_contact("Someone else").contact_id, Decimal("999.00"))

    xero.pay(s.xero_invoice.invoice_id, Decimal("40.00"))
    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    # owed: 75.00 left on ours + 200.00; overdue: only the 200.00 due on 1 November
    assert s.world.dataverse.balances[("account", s.customer.id)] == (Decimal("275.00"), Decimal("200.00"))

    xero.pay(overdue_invoice.invoice_id, Decimal("50.00"))  # not ours: only a CONTACT event follows
    assert await apply_xero_event(event(contact_id, "CONTACT"), s.deps) == EventResult.BALANCES_REFRESHED
    assert s.world.dataverse.balances[("account", s.customer.id)] == (Decimal("225.00"), Decimal("150.00"))

    xero.pay(s.xero_invoice.invoice_id, Decimal("75.00"))
    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    assert s.world.dataverse.balances[("account", s.customer.id)] == (Decimal("150.00"), Decimal("150.00"))


async def test_b3_contact_event_refreshes_every_account_and_contact_linked_to_it() -> None:
    s = setup()
    contact_id = s.customer.xero_contact_id
    person = Customer(kind="contact", id=f.uid("person"), name="Ana Trujillo", xero_contact_id=contact_id)
    s.world.dataverse.customers[person.id] = person

    await apply_xero_event(event(str(contact_id), "CONTACT"), s.deps)

    assert s.world.dataverse.balances == {
        ("account", s.customer.id): (Decimal("115.00"), Decimal(0)),
        ("contact", person.id): (Decimal("115.00"), Decimal(0)),
    }


async def test_b3_credit_note_event_for_our_credit_note_rereads_the_invoice() -> None:
    s = setup(state=InvoiceState.CANCELED)
    details = s.world.dataverse.details[f.INVOICE_ID]
    s.world.dataverse.details[f.INVOICE_ID] = details.model_copy(update={"credit_note_id": "cn-1"})
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))

    assert await apply_xero_event(event("cn-1", "CREDITNOTE"), s.deps) == EventResult.UPDATED
    assert s.world.dataverse.details[f.INVOICE_ID].xero_status == "PAID"
    assert s.world.dataverse.balances[("account", s.customer.id)] == (0, 0)


@pytest.mark.parametrize("category", ["INVOICE", "CONTACT", "CREDITNOTE", "SUBSCRIPTION"])
async def test_b5_events_for_records_we_do_not_track_are_ignored_quietly(category: str) -> None:
    s = setup()
    s.world.xero.add_invoice(s.world.xero.add_contact("Walk-in").contact_id, Decimal("10.00"))

    assert await apply_xero_event(event("not-ours", category), s.deps) == EventResult.IGNORED
    assert s.world.dataverse.writes == []
    assert sum(s.world.xero.calls.values()) == 0


async def test_b5_events_from_an_unknown_organisation_are_ignored() -> None:
    s = setup()
    message = event(s.xero_invoice.invoice_id).model_copy(update={"tenant_id": "someone-elses-tenant"})
    assert await apply_xero_event(message, s.deps) == EventResult.IGNORED
    assert s.world.dataverse.writes == []


async def test_b5_invoice_deleted_in_dynamics_keeps_xero_details_current_only() -> None:
    s = setup()
    s.world.dataverse.delete_invoice(f.INVOICE_ID)
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("115.00"))

    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.UPDATED
    assert s.world.dataverse.details[f.INVOICE_ID].xero_status == "PAID"
    assert "set_invoice_state" not in s.world.dataverse.writes
    assert s.world.dataverse.history == []
    # The customer is found by the Xero contact instead.
    assert s.world.dataverse.balances[("account", s.customer.id)] == (0, 0)


async def test_b2_partial_payment_record_survives_a_failure_after_it() -> None:
    s = setup()
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("40.00"))
    s.world.dataverse.fail_next["update_customer_xero"] = RetryableError("Dataverse 503")

    with pytest.raises(RetryableError):
        await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)
    await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps)

    assert s.history() == ["Paid NZD 40.00 of NZD 115.00, due NZD 75.00 by 2026-12-01."]
    assert s.world.dataverse.balances[("account", s.customer.id)] == (Decimal("75.00"), Decimal(0))


async def test_b5_invoice_create_events_cost_no_call() -> None:
    s = setup()
    created = event(s.xero_invoice.invoice_id).model_copy(update={"event_type": "CREATE"})
    assert await apply_xero_event(created, s.deps) == EventResult.IGNORED
    assert s.world.dataverse.calls == {}
    assert s.world.xero.calls == {}


async def test_b2_concurrent_events_never_write_an_older_xero_state_over_a_newer_one() -> None:
    s = setup(online_url="https://in.xero.com/known")
    stale = s.world.xero.get_invoice(s.xero_invoice.invoice_id)  # read by a slower handler: nothing paid
    s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("40.00"))
    assert await apply_xero_event(event(s.xero_invoice.invoice_id), s.deps) == EventResult.UPDATED

    async def slow_reader() -> XeroInvoice:
        # The other handler's write lands while this one is still reading Xero.
        s.world.xero.pay(s.xero_invoice.invoice_id, Decimal("10.00"))
        assert await apply_xero_event(event(s.xero_invoice.invoice_id, n=2), s.deps) == EventResult.UPDATED
        return stale

    tracked = await s.world.dataverse.find_tracked_invoice(s.xero_invoice.invoice_id)
    assert tracked is not None
    with pytest.raises(RetryableError):
        await apply_invoice_update(slow_reader, tracked, s.world.connection, s.deps, "event-3")
    assert s.world.dataverse.details[f.INVOICE_ID].amount_paid == Decimal("50.00")  # not rolled back

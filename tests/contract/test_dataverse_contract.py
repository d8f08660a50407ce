"""The Dataverse port's contract (issue 10): FakeDataverse and DataverseClient-on-the-emulator answer
alike for the writes exactly-once rests on: If-Match, set-up idempotence, atomic write-back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.schema import INVOICE_TYPE_VALUES
from connector.domain.dynamics import (
    ExportStatus,
    InvoiceState,
    InvoiceTotals,
    SyncAction,
    SyncHistoryEntry,
    SyncOutcome,
)
from connector.errors import ConcurrencyConflictError, NotFoundError
from connector.ports import DataversePort, SyncWrite
from connector.setup.provision import SchemaProvisioner
from devstack.dataverse.testing import DataverseEmulatorHandle, running_dataverse_emulator
from tests import factories as f
from tests.fakes.dataverse import FakeDataverse

CLAIM_UNTIL = datetime(2026, 11, 21, 12, 5, tzinfo=UTC)


@dataclass
class DataverseSide:
    name: str
    port: DataversePort
    connection_id: UUID
    new_invoice: Callable[..., Awaitable[UUID]]  # (invoice_type="sales")
    history_of: Callable[[UUID], list[str]]  # sync history details, oldest first
    delete_invoice: Callable[[UUID], Awaitable[None]]
    account_id: UUID | None = None  # an account to link to Xero (B3)


@pytest.fixture(scope="module")
def dataverse_emulator() -> Iterator[DataverseEmulatorHandle]:
    with running_dataverse_emulator(webhook_retry_delay=0.01) as handle:
        yield handle


def fake_side() -> DataverseSide:
    fake = FakeDataverse()
    connection = f.connection(is_default=True)
    fake.connections[connection.id] = connection

    async def new_invoice(invoice_type: str = "sales") -> UUID:
        invoice = f.invoice(id=uuid4(), connection_id=None, invoice_type=invoice_type)
        fake.add(invoice)
        return invoice.id

    async def delete_invoice(invoice_id: UUID) -> None:
        fake.delete_invoice(invoice_id)

    account = f.customer(id=uuid4(), name="Contoso Ltd")
    fake.customers[account.id] = account
    return DataverseSide(
        "fake", fake, connection.id, new_invoice, fake.history_for, delete_invoice, account.id
    )


async def emulator_side(dv: DataverseEmulatorHandle, client: DataverseClient) -> DataverseSide:
    dv.reset()
    seeded = dv.seed()
    await SchemaProvisioner(client, "XeroConnector").run()
    connection = await client.create_connection("Contract", f"tenant-{uuid4().hex[:8]}")
    history_table = client.schema.table("sync_history").logical_name
    detail_column = client.schema.p("detail")

    async def new_invoice(invoice_type: str = "sales") -> UUID:
        created = await asyncio.to_thread(
            dv.ui_create_invoice,
            account_id=seeded["accounts"]["Contoso Ltd"],
            name="Contract invoice",
            date_delivered="2026-11-21",
            lines=[{"write_in": "Setup fee", "quantity": 1, "price": "49.95"}],
            columns={client.schema.p("invoicetype"): INVOICE_TYPE_VALUES[invoice_type]},
        )
        return UUID(created["id"])

    def history_of(invoice_id: UUID) -> list[str]:
        rows = dv.state.rows.get(history_table, {}).values()
        return [row[detail_column] for row in rows if str(invoice_id) in str(row)]

    async def delete_invoice(invoice_id: UUID) -> None:
        await asyncio.to_thread(dv.ui_delete, str(invoice_id))

    account_id = UUID(str(seeded["accounts"]["Contoso Ltd"]))
    return DataverseSide(
        "emulator", client, connection.id, new_invoice, history_of, delete_invoice, account_id
    )


@pytest.fixture(params=["fake", "emulator"])
async def dataverse(request: pytest.FixtureRequest) -> AsyncIterator[DataverseSide]:
    if request.param == "fake":
        yield fake_side()
        return
    dv: DataverseEmulatorHandle = request.getfixturevalue("dataverse_emulator")
    async with DataverseClient(dv.base_url, StaticTokenCredential(dv.token), backoff=0.01) as client:
        yield await emulator_side(dv, client)


def entry(invoice_id: UUID, detail: str) -> SyncHistoryEntry:
    return SyncHistoryEntry(
        invoice_id=invoice_id,
        action=SyncAction.CREATE,
        detail=detail,
        outcome=SyncOutcome.SUCCESS,
        at=datetime.now(UTC),
        correlation_id="contract-1",
    )


async def test_i1_set_up_invoice_is_idempotent_and_keeps_the_first_record(dataverse: DataverseSide) -> None:
    port = dataverse.port
    invoice_id = await dataverse.new_invoice()
    claim: dict[str, Any] = {"claimed_by": "worker-1", "claimed_until": CLAIM_UNTIL}
    first = await port.set_up_invoice(invoice_id, dataverse.connection_id, set_connection=True, claim=claim)
    assert first.claimed_by == "worker-1" and first.invoice_id == invoice_id
    again = await port.set_up_invoice(
        invoice_id, dataverse.connection_id, set_connection=True, claim={"claimed_by": "worker-2"}
    )
    assert (again.id, again.claimed_by) == (first.id, "worker-1")  # returned as it is, not re-claimed
    snapshot = await port.get_invoice_snapshot(invoice_id)
    assert snapshot.invoice.connection_id == dataverse.connection_id
    assert snapshot.xero_details is not None and snapshot.xero_details.id == first.id

    unlinked = await dataverse.new_invoice()
    await port.set_up_invoice(unlinked, dataverse.connection_id, set_connection=False)
    assert (await port.get_invoice_snapshot(unlinked)).invoice.connection_id is None


async def test_o7_update_xero_details_with_a_stale_etag_is_a_conflict(dataverse: DataverseSide) -> None:
    port = dataverse.port
    invoice_id = await dataverse.new_invoice()
    details = await port.set_up_invoice(invoice_id, dataverse.connection_id, set_connection=True)
    assert details.etag
    newer = await port.update_xero_details(details.id, {"pending_create": "create-1"}, details.etag)
    assert newer != details.etag
    with pytest.raises(ConcurrencyConflictError):
        await port.update_xero_details(details.id, {"pending_create": None}, details.etag)
    current = await port.get_xero_details(invoice_id)
    assert current is not None and (current.pending_create, current.etag) == ("create-1", newer)
    await port.update_xero_details(details.id, {"xero_status": "DRAFT"}, None)  # no If-Match: last wins
    current = await port.get_xero_details(invoice_id)
    assert current is not None and (current.xero_status, current.pending_create) == ("DRAFT", "create-1")


async def test_i7_commit_sync_result_writes_details_totals_and_history_together(
    dataverse: DataverseSide,
) -> None:
    port = dataverse.port
    invoice_id = await dataverse.new_invoice()
    details = await port.set_up_invoice(invoice_id, dataverse.connection_id, set_connection=True)
    totals = InvoiceTotals(invoice_id=invoice_id, total_tax=Decimal("7.49"), total_amount=Decimal("57.44"))
    changes = {"xero_invoice_id": "x-1", "export_status": ExportStatus.YES, "pending_create": None}
    await port.commit_sync_result(details.id, changes, totals, [entry(invoice_id, "Created INV-0001")])
    current = await port.get_xero_details(invoice_id)
    assert current is not None and (current.xero_invoice_id, current.export_status) == (
        "x-1",
        ExportStatus.YES,
    )
    invoice = (await port.get_invoice_snapshot(invoice_id)).invoice
    assert (invoice.total_tax, invoice.total_amount) == (Decimal("7.49"), Decimal("57.44"))
    assert dataverse.history_of(invoice_id) == ["Created INV-0001"]


async def test_i7_commit_sync_result_is_all_or_nothing(dataverse: DataverseSide) -> None:
    """The invoice was deleted before the write-back: nothing of it lands, not even the details."""
    port = dataverse.port
    invoice_id = await dataverse.new_invoice()
    details = await port.set_up_invoice(invoice_id, dataverse.connection_id, set_connection=True)
    await dataverse.delete_invoice(invoice_id)
    totals = InvoiceTotals(invoice_id=invoice_id, total_tax=Decimal("1"), total_amount=Decimal("2"))
    with pytest.raises(NotFoundError):
        await port.commit_sync_result(
            details.id, {"xero_invoice_id": "x-2"}, totals, [entry(invoice_id, "Created INV-0002")]
        )
    left = await port.get_xero_details(invoice_id)
    assert left is not None and left.xero_invoice_id is None
    assert dataverse.history_of(invoice_id) == []


async def test_b2_a_tracked_invoice_is_read_with_its_invoice_and_without_it_once_deleted(
    dataverse: DataverseSide,
) -> None:
    port = dataverse.port
    invoice_id = await dataverse.new_invoice()
    details = await port.set_up_invoice(invoice_id, dataverse.connection_id, set_connection=True)
    await port.update_xero_details(details.id, {"xero_invoice_id": "x-tracked"}, None)
    assert await port.find_tracked_invoice("x-unknown") is None
    tracked = await port.find_tracked_invoice("x-tracked")
    assert tracked is not None and tracked.invoice is not None
    assert (tracked.details.id, tracked.invoice.id, tracked.invoice.state) == (
        details.id,
        invoice_id,
        InvoiceState.ACTIVE,
    )
    assert tracked.invoice.lines == []  # back-sync never needs them
    await dataverse.delete_invoice(invoice_id)
    [gone] = await port.find_tracked_invoices(["x-tracked", "x-unknown"])
    assert (gone.details.id, gone.invoice) == (details.id, None)


async def test_b2_a_payment_commits_details_totals_history_and_paid_in_one_change_set(
    dataverse: DataverseSide,
) -> None:
    port = dataverse.port
    invoice_id = await dataverse.new_invoice()
    details = await port.set_up_invoice(invoice_id, dataverse.connection_id, set_connection=True)
    totals = InvoiceTotals(
        invoice_id=invoice_id, total_tax=Decimal("6.52"), total_amount=None, amount_due=Decimal("0")
    )
    paid = SyncWrite(
        details.id,
        {"xero_status": "PAID"},
        totals,
        [entry(invoice_id, "Fully paid")],
        if_match=details.etag,
        mark_paid=invoice_id,
    )
    await port.commit_sync_results([paid])
    invoice = (await port.get_invoice_snapshot(invoice_id)).invoice
    assert (invoice.state, invoice.amount_due, invoice.total_tax) == (InvoiceState.PAID, 0, Decimal("6.52"))
    current = await port.get_xero_details(invoice_id)
    assert current is not None and current.xero_status == "PAID"
    assert dataverse.history_of(invoice_id) == ["Fully paid"]


async def test_b2_a_stale_etag_rolls_the_whole_change_set_back(dataverse: DataverseSide) -> None:
    port = dataverse.port
    invoice_id = await dataverse.new_invoice()
    details = await port.set_up_invoice(invoice_id, dataverse.connection_id, set_connection=True)
    await port.update_xero_details(details.id, {"xero_status": "AUTHORISED"}, None)  # another worker
    before = (await port.get_invoice_snapshot(invoice_id)).invoice
    totals = InvoiceTotals(invoice_id=invoice_id, total_tax=Decimal("1"), total_amount=None)
    stale = SyncWrite(
        details.id,
        {"xero_status": "PAID"},
        totals,
        [entry(invoice_id, "Fully paid")],
        if_match=details.etag,
        mark_paid=invoice_id,
    )
    with pytest.raises(ConcurrencyConflictError):
        await port.commit_sync_results([stale])
    invoice = (await port.get_invoice_snapshot(invoice_id)).invoice
    assert (invoice.state, invoice.total_tax) == (InvoiceState.ACTIVE, before.total_tax)
    current = await port.get_xero_details(invoice_id)
    assert current is not None and current.xero_status == "AUTHORISED"
    assert dataverse.history_of(invoice_id) == []


# --- issue 14: amount due on the invoice, overdue, emails waiting, supplier balances ----------------------


async def test_b2_amount_due_reaches_the_invoice_without_rewriting_its_total(
    dataverse: DataverseSide,
) -> None:
    port = dataverse.port
    invoice_id = await dataverse.new_invoice()
    details = await port.set_up_invoice(invoice_id, dataverse.connection_id, set_connection=True)
    before = (await port.get_invoice_snapshot(invoice_id)).invoice
    assert before.amount_due is None
    totals = InvoiceTotals(
        invoice_id=invoice_id, total_tax=Decimal("6.52"), total_amount=None, amount_due=Decimal("50")
    )
    await port.commit_sync_result(details.id, {"export_status": ExportStatus.YES}, totals, [])
    written = (await port.get_invoice_snapshot(invoice_id)).invoice
    assert (written.amount_due, written.total_amount, written.total_tax) == (
        Decimal("50"),
        before.total_amount,
        Decimal("6.52"),
    )
    await port.update_invoice_totals(
        invoice_id, total_tax=Decimal("6.52"), total_amount=None, due_date=None, amount_due=Decimal("20.00")
    )
    assert (await port.get_invoice_snapshot(invoice_id)).invoice.amount_due == Decimal("20.00")


async def test_b2_approved_sales_invoices_without_their_online_link_are_listed(
    dataverse: DataverseSide,
) -> None:
    port = dataverse.port
    rows: dict[str, tuple[str, dict[str, Any]]] = {
        "approved": ("sales", {"xero_status": "AUTHORISED"}),
        "paid": ("sales", {"xero_status": "PAID"}),
        "linked": ("sales", {"xero_status": "AUTHORISED", "online_invoice_url": "https://in.xero.com/a"}),
        "draft": ("sales", {"xero_status": "DRAFT"}),
        "bill": ("purchase", {"xero_status": "AUTHORISED"}),
    }
    invoices: dict[str, UUID] = {}
    for name, (invoice_type, values) in rows.items():
        invoices[name] = await dataverse.new_invoice(invoice_type)
        details = await port.set_up_invoice(invoices[name], dataverse.connection_id, set_connection=True)
        await port.update_xero_details(details.id, {"xero_invoice_id": str(uuid4()), **values}, None)
    missing = await port.list_missing_online_urls(dataverse.connection_id, 10)
    assert sorted(d.invoice_id for d in missing) == sorted([invoices["approved"], invoices["paid"]])
    assert len(await port.list_missing_online_urls(dataverse.connection_id, 1)) == 1
    assert await port.list_missing_online_urls(uuid4(), 10) == []


async def test_b2_i8_overdue_candidates_and_waiting_emails_are_listed_per_connection(
    dataverse: DataverseSide,
) -> None:
    port = dataverse.port
    today, earlier = date(2026, 11, 21), date(2026, 11, 1)
    rows: dict[str, dict[str, Any]] = {
        "overdue": {"xero_status": "AUTHORISED", "amount_due": Decimal("10.00"), "due_date": earlier},
        "due today": {"xero_status": "AUTHORISED", "amount_due": Decimal("10.00"), "due_date": today},
        "paid": {"xero_status": "PAID", "amount_due": Decimal(0), "due_date": earlier},
        "email waits": {"xero_status": "AUTHORISED", "email_pending": True, "amount_due": Decimal(0)},
    }
    invoices: dict[str, UUID] = {}
    for name, values in rows.items():
        invoices[name] = await dataverse.new_invoice()
        details = await port.set_up_invoice(invoices[name], dataverse.connection_id, set_connection=True)
        await port.update_xero_details(details.id, values, None)
    overdue = await port.list_overdue_candidates(dataverse.connection_id, today)
    assert [d.invoice_id for d in overdue] == [invoices["overdue"]]
    [waiting] = await port.list_emails_pending(dataverse.connection_id)
    assert waiting.invoice_id == invoices["email waits"]
    assert (
        await port.list_emails_pending(uuid4()) == []
        and await port.list_overdue_candidates(uuid4(), today) == []
    )

    sent_at = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
    changes = {
        "amount_overdue": Decimal("10.00"),
        "days_overdue": 20,
        "emailed_on": sent_at,
        "email_pending": False,
    }
    await port.update_xero_details(waiting.id, changes, None)
    assert await port.list_emails_pending(dataverse.connection_id) == []
    read = await port.get_xero_details(invoices["email waits"])
    assert read is not None
    assert (read.amount_overdue, read.days_overdue, read.emailed_on, read.email_pending) == (
        Decimal("10.00"),
        20,
        sent_at,
        False,
    )


async def test_b3_linked_customers_carry_what_they_owe_us_and_what_we_owe_them(
    dataverse: DataverseSide,
) -> None:
    port = dataverse.port
    assert dataverse.account_id is not None
    assert dataverse.account_id not in {c.id for c in await port.list_linked_customers()}
    await port.update_customer_xero(
        "account",
        dataverse.account_id,
        xero_contact_id="c-contract",
        amount_owed=Decimal("115.00"),
        amount_overdue=Decimal("15.00"),
        amount_we_owe=Decimal("57.50"),
        amount_we_owe_overdue=Decimal(0),
    )
    [linked] = [c for c in await port.list_linked_customers() if c.id == dataverse.account_id]
    assert (linked.kind, linked.xero_contact_id) == ("account", "c-contract")
    assert (
        linked.amount_owed,
        linked.amount_overdue,
        linked.amount_we_owe,
        linked.amount_we_owe_overdue,
    ) == (
        Decimal("115.00"),
        Decimal("15.00"),
        Decimal("57.50"),
        Decimal(0),
    )


async def test_b3_the_day_of_the_last_full_balance_refresh_is_kept_on_the_connection(
    dataverse: DataverseSide,
) -> None:
    port = dataverse.port
    assert (await port.get_connection(dataverse.connection_id)).balances_refreshed_on is None
    await port.update_connection(dataverse.connection_id, {"balances_refreshed_on": "2026-11-22"})
    assert (await port.get_connection(dataverse.connection_id)).balances_refreshed_on == date(2026, 11, 22)

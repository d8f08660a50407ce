"""The Dataverse port's contract (issue 10): FakeDataverse and DataverseClient-on-the-emulator answer
alike for the writes exactly-once rests on: If-Match, set-up idempotence, atomic write-back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.client import DataverseClient
from connector.domain.dynamics import ExportStatus, InvoiceTotals, SyncAction, SyncHistoryEntry, SyncOutcome
from connector.errors import ConcurrencyConflictError, NotFoundError
from connector.ports import DataversePort
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
    new_invoice: Callable[[], Awaitable[UUID]]
    history_of: Callable[[UUID], list[str]]  # sync history details, oldest first
    delete_invoice: Callable[[UUID], Awaitable[None]]


@pytest.fixture(scope="module")
def dataverse_emulator() -> Iterator[DataverseEmulatorHandle]:
    with running_dataverse_emulator(webhook_retry_delay=0.01) as handle:
        yield handle


def fake_side() -> DataverseSide:
    fake = FakeDataverse()
    connection = f.connection(is_default=True)
    fake.connections[connection.id] = connection

    async def new_invoice() -> UUID:
        invoice = f.invoice(id=uuid4(), connection_id=None)
        fake.add(invoice)
        return invoice.id

    async def delete_invoice(invoice_id: UUID) -> None:
        fake.delete_invoice(invoice_id)

    return DataverseSide("fake", fake, connection.id, new_invoice, fake.history_for, delete_invoice)


async def emulator_side(dv: DataverseEmulatorHandle, client: DataverseClient) -> DataverseSide:
    dv.reset()
    seeded = dv.seed()
    await SchemaProvisioner(client, "XeroConnector").run()
    connection = await client.create_connection("Contract", f"tenant-{uuid4().hex[:8]}")
    history_table = client.schema.table("sync_history").logical_name
    detail_column = client.schema.p("detail")

    async def new_invoice() -> UUID:
        created = await asyncio.to_thread(
            dv.ui_create_invoice,
            account_id=seeded["accounts"]["Contoso Ltd"],
            name="Contract invoice",
            date_delivered="2026-11-21",
            lines=[{"write_in": "Setup fee", "quantity": 1, "price": "49.95"}],
        )
        return UUID(created["id"])

    def history_of(invoice_id: UUID) -> list[str]:
        rows = dv.state.rows.get(history_table, {}).values()
        return [row[detail_column] for row in rows if str(invoice_id) in str(row)]

    async def delete_invoice(invoice_id: UUID) -> None:
        await asyncio.to_thread(dv.ui_delete, str(invoice_id))

    return DataverseSide("emulator", client, connection.id, new_invoice, history_of, delete_invoice)


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

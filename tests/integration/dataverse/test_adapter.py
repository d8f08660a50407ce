"""The Dataverse adapter against the emulator: every method, paging, ETags, 429 retry, quote escaping."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.cache import ConnectionCachingDataverseClient
from connector.adapters.dataverse.client import DataverseClient
from connector.domain.dynamics import ExportStatus, InvoiceState, SyncAction, SyncHistoryEntry, SyncOutcome
from connector.errors import AuthorisationError, ConcurrencyConflictError, NotFoundError, RateLimitedError
from devstack.dataverse.testing import DataverseEmulatorHandle


async def _invoice(dv: DataverseEmulatorHandle, ids: dict[str, Any], **extra: Any) -> UUID:
    data = {
        "account_id": ids["accounts"]["Contoso Ltd"],
        "name": "Sample",
        "date_delivered": "2024-03-01",
        "lines": [
            {"product_number": "WID-001", "quantity": 2, "tax": "3.00"},
            {"write_in": "Setup fee", "quantity": 1, "price": "49.95"},
        ],
        **extra,
    }
    return UUID((await asyncio.to_thread(dv.ui_create_invoice, **data))["id"])


async def test_i1_snapshot_reads_invoice_lines_customer_currency_and_details_in_one_call(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    connection = await client.create_connection("Org", "tenant-1")
    invoice_id = await _invoice(dv, provisioned, description="PO 42")
    await client.create_xero_details(invoice_id, connection.id)
    client.calls.clear()

    snapshot = await client.get_invoice_snapshot(invoice_id)

    assert client.transport.total_calls == 1
    invoice = snapshot.invoice
    assert invoice.customer.name == "Contoso Ltd" and invoice.customer.number == "ACC-001"
    assert invoice.currency_code == "USD" and invoice.date_delivered == date(2024, 3, 1)
    assert [line.sequence for line in invoice.lines] == [1, 2]
    assert invoice.lines[0].product is not None and invoice.lines[0].product.number == "WID-001"
    assert invoice.lines[0].extended_amount == Decimal("23")
    assert invoice.lines[1].is_write_in and invoice.lines[1].product is None
    assert invoice.total_amount == Decimal("72.95") and invoice.total_tax == Decimal("3")
    assert snapshot.xero_details is not None and snapshot.xero_details.export_status is ExportStatus.NO
    assert snapshot.xero_details.connection_id == connection.id


async def test_snapshot_of_missing_invoice_raises_not_found(
    client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    with pytest.raises(NotFoundError):
        await client.get_invoice_snapshot(uuid4())


async def test_i1_eligible_ids_page_through_results(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    connection = await client.create_connection("Org", "tenant-1")
    due = [await _invoice(dv, provisioned, name=f"Due {n}") for n in range(5)]
    future = await _invoice(dv, provisioned, date_delivered="2030-01-01")
    undelivered = await _invoice(dv, provisioned, date_delivered=None)
    for invoice_id in [*due, future, undelivered]:
        await client.create_xero_details(invoice_id, connection.id)
    exported = due[0]
    details = await client.get_xero_details(exported)
    assert details is not None
    await client.update_xero_details(details.id, {"export_status": ExportStatus.YES}, None)
    client.calls.clear()

    found = await client.list_eligible_invoice_ids(connection.id, date(2024, 6, 30), page_size=2)

    assert sorted(found) == sorted(due[1:])
    assert client.calls["GET"] == 2  # 4 rows at 2 per page, followed by nextLink


async def test_xero_details_etag_conflict_raises(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    invoice_id = await _invoice(dv, provisioned)
    details = await client.create_xero_details(invoice_id, None)
    new_etag = await client.update_xero_details(
        details.id,
        {"xero_invoice_id": "abc", "amount_due": Decimal("12.34"), "due_date": date(2024, 4, 1)},
        details.etag,
    )
    assert new_etag != details.etag
    with pytest.raises(ConcurrencyConflictError):
        await client.update_xero_details(details.id, {"xero_status": "PAID"}, details.etag)
    current = await client.get_xero_details(invoice_id)
    assert current is not None and current.amount_due == Decimal("12.34") and current.xero_status is None
    assert current.due_date == date(2024, 4, 1) and current.etag == new_etag


async def test_i1_concurrent_creates_of_xero_details_converge_on_one_record(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    invoice_id = await _invoice(dv, provisioned)
    created = await asyncio.gather(*(client.create_xero_details(invoice_id, None) for _ in range(4)))
    assert len({details.id for details in created}) == 1
    table = client.schema.table("xero_details").logical_name
    mine = [row for row in dv.state.rows[table].values() if str(invoice_id) in str(row)]
    assert len(mine) == 1


async def test_x2_xero_details_found_after_invoice_deleted(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    invoice_id = await _invoice(dv, provisioned)
    created = await client.create_xero_details(invoice_id, None)
    await asyncio.to_thread(dv.ui_delete, str(invoice_id))
    found = await client.get_xero_details(invoice_id)
    assert found is not None and found.id == created.id and found.invoice_id == invoice_id


async def test_i9_sync_history_and_invoice_writes(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    invoice_id = await _invoice(dv, provisioned)
    entry = SyncHistoryEntry(
        invoice_id=invoice_id,
        action=SyncAction.CREATE,
        detail="Created INV-1 in Xero",
        outcome=SyncOutcome.SUCCESS,
        at=datetime.now(UTC),
        correlation_id="c-1",
    )
    await client.add_sync_history(entry)
    await client.update_invoice_totals(
        invoice_id, total_tax=Decimal("7.50"), total_amount=Decimal("80.45"), due_date=date(2024, 4, 30)
    )
    await client.set_date_delivered(invoice_id, date(2024, 3, 5))
    await client.set_invoice_state(invoice_id, InvoiceState.PAID, 100001)

    invoice = (await client.get_invoice_snapshot(invoice_id)).invoice
    assert invoice.total_tax == Decimal("7.5") and invoice.due_date == date(2024, 4, 30)
    assert invoice.date_delivered == date(2024, 3, 5) and invoice.state is InvoiceState.PAID
    history = dv.state.rows["xc_synchistory"]
    assert [row["xc_detail"] for row in history.values()] == ["Created INV-1 in Xero"]


async def test_change_set_is_atomic_and_one_call(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    invoice_id = await _invoice(dv, provisioned)
    details = await client.create_xero_details(invoice_id, None)
    entry = SyncHistoryEntry(
        invoice_id=invoice_id,
        action=SyncAction.CREATE,
        detail="ok",
        outcome=SyncOutcome.SUCCESS,
        at=datetime.now(UTC),
        correlation_id="c-2",
    )
    stale = client.xero_details_change(details.id, {"xero_invoice_id": "x1"}, 'W/"1"')
    client.calls.clear()
    with pytest.raises(ConcurrencyConflictError):
        await client.execute_change_set([client.sync_history_change(entry), stale])
    assert client.transport.total_calls == 1
    assert dv.state.rows["xc_synchistory"] == {}  # rolled back with the failed PATCH

    fresh = client.xero_details_change(
        details.id, {"xero_invoice_id": "x1", "export_status": ExportStatus.YES}, details.etag
    )
    results = await client.execute_change_set([fresh, client.sync_history_change(entry)])
    assert [result.status for result in results] == [204, 204]
    assert len(dv.state.rows["xc_synchistory"]) == 1


async def test_customers_read_and_write_xero_fields(
    client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    contact_id = UUID(provisioned["contacts"]["Jane Doe"])
    await client.update_customer_xero(
        "contact",
        contact_id,
        xero_contact_id="xc-9",
        amount_owed=Decimal("100.10"),
        amount_overdue=Decimal("0"),
    )
    customer = await client.get_customer("contact", contact_id)
    assert customer.name == "Jane Doe" and customer.xero_contact_id == "xc-9" and customer.city == "Auckland"


async def test_c1_exactly_one_default_connection(
    client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    first = await client.create_connection("First", "t-1")
    second = await client.create_connection("Second", "t-2", default_sales_account_code="200")
    assert first.is_default and not second.is_default and second.default_sales_account_code == "200"
    await client.set_default_connection(second.id)
    connections = {c.name: c for c in await client.list_connections()}
    assert [name for name, c in connections.items() if c.is_default] == ["Second"]
    default = await client.get_default_connection()
    assert default is not None and default.id == second.id
    assert (await client.get_connection(first.id)).tenant_id == "t-1"


async def test_c4_reference_rows_upsert_without_duplicates(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    rows = [
        {"key": "OUTPUT", "name": "GST on Income", "taxtype": "OUTPUT", "rate": Decimal("15")},
        {"key": "NONE", "name": "No GST", "taxtype": "NONE", "rate": Decimal("0")},
    ]
    client.calls.clear()
    assert await client.upsert_reference_rows("tax_type", rows) == 2
    assert client.transport.total_calls == 1
    rows[0]["name"] = "GST 15%"
    await client.upsert_reference_rows("tax_type", rows)
    stored = sorted(row["xc_name"] for row in dv.state.rows["xc_xerotaxtype"].values())
    assert stored == ["GST 15%", "No GST"]


async def test_quotes_in_values_cannot_break_the_filter(
    client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    injected = "x' or xc_name ne 'y"
    await client.create_connection("O'Brien & Sons", "t-1")
    await client.create_connection("Other", "t-2")
    from connector.adapters.dataverse.http import odata_string

    params = {"$select": "xc_name", "$filter": f"xc_name eq {odata_string(injected)}"}
    assert (await client.get_json("xc_xeroconnections", params))["value"] == []
    params = {
        "$select": "xc_name",
        "$filter": f"xc_name eq {odata_string(chr(39).join(['O', 'Brien & Sons']))}",
    }
    assert [row["xc_name"] for row in (await client.get_json("xc_xeroconnections", params))["value"]] == [
        "O'Brien & Sons"
    ]


async def test_o3_429_is_retried_after_retry_after(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    dv.add_fault("429", count=2, retry_after=0, path_contains="accounts")
    customer = await client.get_customer("account", UUID(provisioned["accounts"]["Contoso Ltd"]))
    assert customer.name == "Contoso Ltd"
    assert client.calls["GET"] == 3


async def test_o3_persistent_429_raises_rate_limited(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    dv.add_fault("429", count=10, retry_after=0, path_contains="accounts")
    with pytest.raises(RateLimitedError):
        await client.get_customer("account", UUID(provisioned["accounts"]["Contoso Ltd"]))
    assert client.calls["GET"] == client.transport.max_attempts


async def test_5xx_is_retried(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    dv.add_fault("status", status=503, count=1, path_contains="contacts")
    customer = await client.get_customer("contact", UUID(provisioned["contacts"]["Jane Doe"]))
    assert customer.email == "jane@example.com" and client.calls["GET"] == 2


async def test_wrong_token_is_an_authorisation_error(
    dv: DataverseEmulatorHandle, seeded: dict[str, Any]
) -> None:
    async with DataverseClient(dv.base_url, StaticTokenCredential("wrong")) as bad:
        with pytest.raises(AuthorisationError):
            await bad.get_customer("account", UUID(seeded["accounts"]["Contoso Ltd"]))


async def test_i1_backfill_creates_missing_details_once(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    from connector.setup.backfill import backfill_xero_details

    connection = await client.create_connection("Org", "tenant-1")
    invoices = [await _invoice(dv, provisioned, name=f"Old {n}") for n in range(3)]
    await client.create_xero_details(invoices[0], connection.id)
    first = await backfill_xero_details(client)
    second = await backfill_xero_details(client)
    assert (first.created, second.created) == (2, 0)
    for invoice_id in invoices:
        details = await client.get_xero_details(invoice_id)
        assert details is not None and details.connection_id == connection.id


async def test_connection_reads_are_cached_for_a_minute(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    created = await client.create_connection("Cached", "tenant-cached")
    now = [0.0]
    async with ConnectionCachingDataverseClient(
        dv.base_url, StaticTokenCredential(dv.token), clock=lambda: now[0]
    ) as cached:
        for _ in range(3):
            assert (await cached.get_connection(created.id)).tenant_id == "tenant-cached"
            assert (await cached.get_connection_by_tenant_id("tenant-cached")) is not None
        assert cached.calls["GET"] == 2
        now[0] = 61.0
        await cached.get_connection(created.id)
        assert cached.calls["GET"] == 3


async def test_i1_set_up_invoice_costs_one_call_and_converges_under_concurrency(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    connection = await client.create_connection("Setup", "tenant-setup")
    invoice_id = await _invoice(dv, provisioned)
    client.calls.clear()
    details = await client.set_up_invoice(invoice_id, connection.id, set_connection=True)
    assert sum(client.calls.values()) == 1
    snapshot = await client.get_invoice_snapshot(invoice_id)
    assert snapshot.invoice.connection_id == connection.id
    assert snapshot.xero_details is not None and snapshot.xero_details.id == details.id

    other = await _invoice(dv, provisioned)
    results = await asyncio.gather(
        *(client.set_up_invoice(other, connection.id, set_connection=True) for _ in range(3))
    )
    assert len({result.id for result in results}) == 1

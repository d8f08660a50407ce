"""I16 and I15 in the sync path: with reference data, an invoice is checked before any Xero call and its
tracking lookups go to Xero by name; without reference data it goes as before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings, ExportStatus, Invoice, LineTrackingOption
from connector.domain.messages import InvoiceSyncMessage
from connector.domain.reference_data import (
    ReferenceData,
    account_rows,
    tax_rate_rows,
    tracking_option_rows,
)
from connector.domain.xero_records import (
    XeroAccount,
    XeroLineTracking,
    XeroTaxRate,
    XeroTrackingCategory,
    XeroTrackingOption,
)
from connector.services.item_cache import ItemCache
from connector.services.sync_attempt import SyncDependencies, SyncResult
from connector.services.sync_invoice import sync_invoice
from tests import factories as f
from tests.fakes.dataverse import FakeDataverse
from tests.fakes.queues import FakeQueueSender
from tests.fakes.reference_data import FakeDataverseWithReferenceData, row_id
from tests.fakes.xero import FakeXero

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
REGION = XeroTrackingCategory(
    category_id="c-region",
    name="Region",
    options=(
        XeroTrackingOption(option_id="o-north", name="North"),
        XeroTrackingOption(option_id="o-east", name="East", status="ARCHIVED"),
    ),
)


@dataclass
class StaleFirst(FakeDataverseWithReferenceData):
    """Keeps the first read, as the adapter does for a few minutes, until asked for a fresh one."""

    kept: dict[UUID, ReferenceData] = field(default_factory=dict)

    async def get_reference_data(self, connection_id: UUID, *, fresh: bool = False) -> ReferenceData:
        if fresh or connection_id not in self.kept:
            self.kept[connection_id] = await super().get_reference_data(connection_id)
        return self.kept[connection_id]


async def synced(dataverse: FakeDataverseWithReferenceData, connection: ConnectionSettings) -> None:
    """What a reference sync left in Dataverse."""
    accounts = [
        XeroAccount(code="200", name="Sales", account_id="a-200"),
        XeroAccount(code="999", name="Archived Sundry", account_id="a-999", status="ARCHIVED"),
    ]
    rates = [XeroTaxRate(tax_type="OUTPUT2", name="GST", effective_rate=Decimal(15))]
    await dataverse.write_reference_rows("account_code", connection.id, account_rows(accounts))
    await dataverse.write_reference_rows("tax_type", connection.id, tax_rate_rows(rates))
    await dataverse.write_reference_rows("tracking_option", connection.id, tracking_option_rows([REGION]))
    dataverse.writes.clear()


def option(connection: ConnectionSettings, key: str) -> LineTrackingOption:
    return LineTrackingOption(option_row_id=row_id("tracking_option", connection.id, key))


def world(dataverse: FakeDataverse) -> tuple[SyncDependencies, FakeXero, ConnectionSettings]:
    xero, connection = FakeXero(), f.connection(is_default=True)
    xero.add_contact("A. Datum Corporation")
    dataverse.connections[connection.id] = connection
    deps = SyncDependencies(
        dataverse=dataverse,
        xero_for=lambda _c: xero,
        queues=FakeQueueSender(),
        cancel_queue="invoice-cancel",
        org_url=f.ORG_URL,
        clock=lambda: NOW,
        items=ItemCache(),
    )
    return deps, xero, connection


def invoice(*lines: Any) -> Invoice:
    return f.invoice(list(lines), currency_code="NZD", date_delivered=date(2026, 11, 20))


def message() -> InvoiceSyncMessage:
    return InvoiceSyncMessage(
        invoice_id=f.INVOICE_ID, organization="o", message_name="Update", correlation_id="c-1", event_time=NOW
    )


async def test_i16_an_archived_account_fails_the_invoice_before_any_xero_call() -> None:
    dataverse = FakeDataverseWithReferenceData()
    deps, xero, connection = world(dataverse)
    await synced(dataverse, connection)
    dataverse.add(
        invoice(f.write_in_line(1), f.write_in_line(2), f.write_in_line(3, account_code_override="999")),
        f.details(),
    )

    assert await sync_invoice(message(), deps) == SyncResult.FAILED

    assert xero.calls == {}
    assert dataverse.details[f.INVOICE_ID].export_status == ExportStatus.FAILED
    assert dataverse.history_for(f.INVOICE_ID) == [
        "Not sent to Xero: Line 3: account code 999 is archived in Xero's chart of accounts. "
        'Fix the invoice, then set export status back to "No".'
    ]


async def test_i15_tracking_picked_on_the_line_reaches_xero_by_name_with_the_overrides() -> None:
    dataverse = FakeDataverseWithReferenceData()
    deps, xero, connection = world(dataverse)
    await synced(dataverse, connection)
    line = f.write_in_line(
        1, account_code_override="200", tax_type_override="OUTPUT2", tracking=(option(connection, "o-north"),)
    )
    dataverse.add(invoice(line), f.details())

    assert await sync_invoice(message(), deps) == SyncResult.CREATED

    [draft] = xero.drafts.values()
    [sent] = draft.line_items
    assert (sent.account_code, sent.tax_type) == ("200", "OUTPUT2")
    assert sent.tracking == (XeroLineTracking(category="Region", option="North"),)


async def test_i16_an_archived_tracking_option_fails_with_its_name() -> None:
    dataverse = FakeDataverseWithReferenceData()
    deps, xero, connection = world(dataverse)
    await synced(dataverse, connection)
    dataverse.add(invoice(f.write_in_line(1, tracking=(option(connection, "o-east"),))), f.details())
    assert await sync_invoice(message(), deps) == SyncResult.FAILED
    assert xero.calls == {}
    assert (
        "Line 1: tracking option Region: East is archived in Xero" in dataverse.history_for(f.INVOICE_ID)[0]
    )


async def test_i16_a_value_synced_after_the_kept_copy_is_found_by_reading_again() -> None:
    dataverse = StaleFirst()
    deps, xero, connection = world(dataverse)
    xero.accounts["455"] = True  # added in Xero…
    old = [XeroAccount(code="999", name="Archived Sundry", account_id="a-999", status="ARCHIVED")]
    await dataverse.write_reference_rows("account_code", connection.id, account_rows(old))
    await dataverse.get_reference_data(connection.id)  # kept, as the adapter keeps it for minutes
    new = [XeroAccount(code="455", name="Consulting", account_id="a-455")]
    await dataverse.write_reference_rows("account_code", connection.id, account_rows(new))  # …and synced
    dataverse.add(invoice(f.write_in_line(1, account_code_override="455")), f.details())
    assert await sync_invoice(message(), deps) == SyncResult.CREATED
    assert dataverse.calls["get_reference_data"] == 2  # the kept read, then one fresh read for 455


async def test_i16_without_reference_data_the_invoice_goes_as_before() -> None:
    deps, xero, _ = world(FakeDataverse())
    dataverse = deps.dataverse
    assert isinstance(dataverse, FakeDataverse)
    dataverse.add(invoice(f.write_in_line(1, account_code_override="999")), f.details())
    assert await sync_invoice(message(), deps) == SyncResult.FAILED  # Xero itself refuses 999
    assert xero.calls["create_invoice"] == 1
    assert "Account code '999' is not a valid code" in dataverse.history_for(f.INVOICE_ID)[0]

"""The reference tables (C4, C5) against the Dataverse emulator: provisioning, rows by Xero id with their
state, the validation read and its cache, tracking and credit-note lookups in the one-call snapshot, and
the connection's defaults as lookups."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.reference_data import reference_row_id
from connector.adapters.dataverse.schema import INVOICE_TYPE_VALUES
from connector.domain.dynamics import LineTrackingOption
from connector.domain.reference_data import (
    changes_for,
    tax_rate_rows,
    tracking_category_rows,
    tracking_option_rows,
)
from connector.domain.xero_records import XeroTaxRate, XeroTrackingCategory, XeroTrackingOption
from connector.setup.provision import SchemaProvisioner
from devstack.dataverse.testing import DataverseEmulatorHandle

REGION = XeroTrackingCategory(
    category_id="c-region",
    name="Region",
    options=(
        XeroTrackingOption(option_id="o-north", name="North"),
        XeroTrackingOption(option_id="o-east", name="East", status="ARCHIVED"),
    ),
)
RATES = [
    XeroTaxRate(tax_type="OUTPUT2", name="15% GST on Income", effective_rate=Decimal("15")),
    XeroTaxRate(tax_type="TAX001", name="Old GST", effective_rate=Decimal("12.5"), status="ARCHIVED"),
]


async def test_c5_provisioning_adds_tracking_tables_lookups_and_the_credit_note_type(
    client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    tables = {row["LogicalName"] for row in (await client.get_json("EntityDefinitions"))["value"]}
    assert {"xc_xerotrackingcategory", "xc_xerotrackingoption"} <= tables
    attributes = await client.get_json("EntityDefinitions(LogicalName='invoicedetail')/Attributes")
    assert {"xc_trackingoption1id", "xc_trackingoption2id"} <= {a["LogicalName"] for a in attributes["value"]}
    again = await SchemaProvisioner(client, "XeroConnector").run()
    assert not again.changed
    assert INVOICE_TYPE_VALUES["credit_note"] == 100000002


async def test_c4_rows_by_xero_id_with_their_state_and_nothing_to_write_the_second_time(
    client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    connection = await client.create_connection("Org", "tenant-1")
    client.calls.clear()
    await client.write_reference_rows("tax_type", connection.id, tax_rate_rows(RATES))
    assert client.transport.total_calls == 1  # one change set
    await client.write_reference_rows("tracking_category", connection.id, tracking_category_rows([REGION]))
    await client.write_reference_rows("tracking_option", connection.id, tracking_option_rows([REGION]))
    stored = {row.key: row for row in await client.list_reference_rows("tax_type", connection.id)}
    assert (stored["OUTPUT2"].active, stored["TAX001"].active) == (True, False)
    assert stored["OUTPUT2"].row_id == reference_row_id("tax_type", connection.id, "OUTPUT2")
    options = await client.list_reference_rows("tracking_option", connection.id)
    assert {(o.key, o.parent_key, o.active) for o in options} == {
        ("o-north", "c-region", True),
        ("o-east", "c-region", False),
    }
    for table, rows in (
        ("tax_type", tax_rate_rows(RATES)),
        ("tracking_category", tracking_category_rows([REGION])),
        ("tracking_option", tracking_option_rows([REGION])),
    ):
        existing = await client.list_reference_rows(table, connection.id)  # type: ignore[arg-type]
        assert changes_for(table, rows, existing, complete=True).writes == ()  # type: ignore[arg-type]


async def test_i16_the_validation_read_is_kept_and_read_again_when_asked(
    client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    connection = await client.create_connection("Org", "tenant-1")
    await client.write_reference_rows("tax_type", connection.id, tax_rate_rows(RATES))
    client.calls.clear()
    data = await client.get_reference_data(connection.id)
    assert client.transport.total_calls == 4
    assert data.tax_types["TAX001"].active is False
    await client.get_reference_data(connection.id)
    assert client.transport.total_calls == 4
    await client.get_reference_data(connection.id, fresh=True)
    assert client.transport.total_calls == 8


async def test_i15_i14_the_snapshot_carries_line_tracking_and_the_invoice_credited(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    connection = await client.create_connection("Org", "tenant-1")
    await client.write_reference_rows("tracking_category", connection.id, tracking_category_rows([REGION]))
    await client.write_reference_rows("tracking_option", connection.id, tracking_option_rows([REGION]))
    north = reference_row_id("tracking_option", connection.id, "o-north")
    account = provisioned["accounts"]["Contoso Ltd"]
    credited = await asyncio.to_thread(dv.ui_create_invoice, account_id=account, lines=[{"write_in": "Work"}])
    created = await asyncio.to_thread(
        dv.ui_create_invoice, account_id=account, lines=[{"write_in": "Refund"}]
    )
    await client.transport.send(
        "PATCH",
        f"invoicedetails({created['line_ids'][0]})",
        json_body={"xc_TrackingOption1Id@odata.bind": f"/xc_xerotrackingoptions({north})"},
    )
    await client.transport.send(
        "PATCH",
        f"invoices({created['id']})",
        json_body={
            "xc_invoicetype": INVOICE_TYPE_VALUES["credit_note"],
            "xc_CreditNoteOfId@odata.bind": f"/invoices({credited['id']})",
        },
    )
    client.calls.clear()
    snapshot = await client.get_invoice_snapshot(UUID(created["id"]))
    assert client.transport.total_calls == 1
    invoice = snapshot.invoice
    assert (invoice.invoice_type, invoice.credits_invoice_id) == ("credit_note", UUID(credited["id"]))
    assert invoice.lines[0].tracking == (LineTrackingOption(option_row_id=north),)


async def test_c5_the_connections_defaults_as_lookups_round_trip(
    client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    connection = await client.create_connection("Org", "tenant-1")
    await client.write_reference_rows("tracking_category", connection.id, tracking_category_rows([REGION]))
    await client.write_reference_rows("tracking_option", connection.id, tracking_option_rows([REGION]))
    north = reference_row_id("tracking_option", connection.id, "o-north")
    await client.update_connection(
        connection.id, {"default_tracking": (LineTrackingOption(option_row_id=north),)}
    )
    assert (await client.get_connection(connection.id)).default_tracking == (
        LineTrackingOption(option_row_id=north),
    )
    await client.update_connection(connection.id, {"default_tracking": ()})
    assert (await client.get_connection(connection.id)).default_tracking == ()

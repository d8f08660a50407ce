"""C5: provisioning creates the schema through EntityDefinitions; a second run changes nothing."""

from __future__ import annotations

from typing import Any

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.schema import build_schema
from connector.setup.provision import SchemaProvisioner
from devstack.dataverse.testing import DataverseEmulatorHandle


def _schema_snapshot(dv: DataverseEmulatorHandle) -> dict[str, list[str]]:
    return {name: sorted(table.attributes) for name, table in dv.state.tables.items()}


async def test_c5_provision_twice_same_schema_and_no_changes(
    dv: DataverseEmulatorHandle, client: DataverseClient, seeded: dict[str, Any]
) -> None:
    first = await SchemaProvisioner(client, "XeroConnector").run()
    after_first = _schema_snapshot(dv)
    publishes = dv.state.publish_count
    dv.clear_requests()
    second = await SchemaProvisioner(client, "XeroConnector").run()

    assert first.changed and first.published
    assert not second.changed and not second.published and second.created == []
    assert _schema_snapshot(dv) == after_first and dv.state.publish_count == publishes
    methods = {entry["method"] for entry in dv.requests()}
    assert methods == {"GET"}  # the second run only reads


async def test_c5_tables_and_columns_exist_under_the_prefix(
    dv: DataverseEmulatorHandle, client: DataverseClient, seeded: dict[str, Any]
) -> None:
    await SchemaProvisioner(client, "XeroConnector").run()
    schema = build_schema("xc")
    for table in schema.tables:
        assert dv.state.tables[table.logical_name].entity_set == table.entity_set
    invoice = dv.state.tables["invoice"].attributes
    assert {"xc_connectionid", "xc_invoicetype", "xc_lineamounttypes", "xc_brandingthemeid"} <= set(invoice)
    assert {"xc_accountcodeid", "xc_taxtypeid"} <= set(dv.state.tables["invoicedetail"].attributes)
    for customer in ("account", "contact"):
        assert {"xc_xerocontactid", "xc_amountowed", "xc_amountoverdue"} <= set(
            dv.state.tables[customer].attributes
        )
    assert "xc_dynamicsinvoiceid" in dv.state.tables["xc_xerodetail"].attributes
    components = dv.emulator.solution_components["XeroConnector"]
    assert ("entity", "xc_xerodetail") in components


async def test_c5_prefix_is_configurable(dv: DataverseEmulatorHandle, seeded: dict[str, Any]) -> None:
    from connector.adapters.dataverse.auth import StaticTokenCredential

    async with DataverseClient(dv.base_url, StaticTokenCredential(dv.token), prefix="acme") as acme:
        report = await SchemaProvisioner(acme, "Acme").run()
    assert report.changed and "acme_xerodetail" in dv.state.tables and "xc_xerodetail" not in dv.state.tables

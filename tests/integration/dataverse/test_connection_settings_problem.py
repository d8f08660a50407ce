"""C3/C5: the connection's settings-problem column is provisioned, carries the sweep's plain message both
ways through the adapter, and shows read-only on the connection form with its description."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from connector.adapters.dataverse.client import DataverseClient
from connector.setup.customizations import provision_customizations
from devstack.dataverse.testing import DataverseEmulatorHandle

COLUMN = "xc_settingsproblem"
PROBLEM = 'Time zone "America" is not an IANA time zone, e.g. Pacific/Auckland.'


async def test_c5_the_settings_problem_column_is_provisioned_long_enough(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    attribute = dv.state.tables[client.schema.table("connection").logical_name].attributes[COLUMN]
    assert attribute.definition["MaxLength"] == 1000
    assert attribute.definition["@odata.type"] == "Microsoft.Dynamics.CRM.StringAttributeMetadata"


async def test_c3_the_adapter_writes_reads_and_clears_the_settings_problem(
    client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    made = await client.create_connection("Kiwi", "tenant-1", time_zone="America")
    assert made.settings_problem is None
    await client.update_connection(made.id, {"settings_problem": PROBLEM})
    assert (await client.get_connection(made.id)).settings_problem == PROBLEM
    assert [c.settings_problem for c in await client.list_connections()] == [PROBLEM]
    await client.update_connection(made.id, {"settings_problem": None})
    assert (await client.get_connection(made.id)).settings_problem is None


async def test_c5_the_connection_form_shows_the_settings_problem_read_only(
    dv: DataverseEmulatorHandle, client: DataverseClient, provisioned: dict[str, Any]
) -> None:
    await provision_customizations(client, "XeroConnector")
    table = client.schema.table("connection").logical_name
    [form] = [f for f in dv.state.rows["systemform"].values() if f["objecttypecode"] == table]
    controls = {c.get("datafieldname"): c for c in ET.fromstring(form["formxml"]).iter("control")}  # noqa: S314
    assert controls[COLUMN].get("disabled") == "true"  # the sweep writes it, not people
    description = dv.state.tables[table].attributes[COLUMN].definition["Description"]
    assert "stops this connection from syncing" in description["LocalizedLabels"][0]["Label"]

"""C5: forms, views and roles provisioned through the Web API: idempotent, validated by the strict
emulator, and a form someone changed in Dynamics is left alone unless forced."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from typer.testing import CliRunner

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.http import DataverseRequestError
from connector.settings import get_settings
from connector.setup import components, forms, views
from connector.setup.cli import app
from connector.setup.customizations import provision_customizations
from connector.setup.provision import SchemaProvisioner
from connector.setup.roles import FINANCE_ROLE, INTEGRATION_ROLE, finance_grants, privilege_names
from devstack.dataverse.testing import DataverseEmulatorHandle

SOLUTION = "XeroConnector"


@pytest.fixture
async def client(dv: DataverseEmulatorHandle, seeded: dict[str, Any]) -> AsyncIterator[DataverseClient]:
    async with DataverseClient(dv.base_url, StaticTokenCredential(dv.token), backoff=0.01) as instance:
        await SchemaProvisioner(instance, SOLUTION).run()
        yield instance


def snapshot(dv: DataverseEmulatorHandle) -> dict[str, Any]:
    """What users see: every form, view and role, and every role's privileges."""
    keep = {
        "systemform": ("name", "objecttypecode", "type", "formxml", "description"),
        "savedquery": ("name", "returnedtypecode", "fetchxml", "layoutxml", "description"),
        "role": ("name",),
    }
    rows: dict[str, Any] = {
        table: {key: tuple(row.get(c) for c in columns) for key, row in dv.state.rows[table].items()}
        for table, columns in keep.items()
    }
    rows["roleprivileges"] = {
        (r["roleid"], r["privilegeid"], r["privilegedepthmask"])
        for r in dv.state.rows["roleprivileges"].values()
    }
    return rows


def form_of(dv: DataverseEmulatorHandle, table: str) -> dict[str, Any]:
    [form] = [f for f in dv.state.rows["systemform"].values() if f["objecttypecode"] == table]
    return form


def controls(form: dict[str, Any]) -> dict[str, ET.Element]:
    return {c.get("id", ""): c for c in ET.fromstring(form["formxml"]).iter("control")}  # noqa: S314 - our own XML


async def test_c5_provisioning_twice_gives_the_same_forms_views_and_roles_and_no_changes(
    dv: DataverseEmulatorHandle, client: DataverseClient
) -> None:
    first, roles = await provision_customizations(client, SOLUTION)
    after_first, publishes = snapshot(dv), dv.state.publish_count
    dv.clear_requests()
    second, again = await provision_customizations(client, SOLUTION)

    assert first.changed and len(first.created) == 8 + 7 + 2 and first.customised == []
    assert set(first.published) == {
        "invoice",
        "invoicedetail",
        "account",
        "contact",
        *(t.logical_name for t in client.schema.tables[:3]),
    }
    assert not second.changed and second.created == second.updated == second.published == []
    assert len(second.unchanged) == 17 and roles == again
    assert snapshot(dv) == after_first and dv.state.publish_count == publishes
    assert {entry["method"] for entry in dv.requests()} == {"GET"}
    assert all(f"systemform:{form_id}" in dv.state.published for form_id in dv.state.rows["systemform"])
    components_of = dv.emulator.solution_components[SOLUTION]
    assert {kind for kind, _ in components_of} >= {"systemform", "savedquery", "role"}


async def test_c5_the_invoice_form_has_the_xero_tab_and_the_sync_history_grid_newest_first(
    dv: DataverseEmulatorHandle, client: DataverseClient
) -> None:
    await provision_customizations(client, SOLUTION)
    p = client.schema.p
    invoice = controls(form_of(dv, "invoice"))
    assert {p("connectionid"), p("invoicetype"), p("lineamounttypes"), p("brandingthemeid")} <= set(invoice)
    history_grid = invoice["synchistory"].find("parameters")
    assert history_grid is not None
    view_id = (history_grid.findtext("ViewId") or "").strip("{}")
    history_view = dv.state.rows["savedquery"][view_id]
    order = ET.fromstring(history_view["fetchxml"]).find("entity/order")  # noqa: S314
    assert order is not None and order.attrib == {"attribute": p("occurredon"), "descending": "true"}
    details = controls(form_of(dv, client.schema.table("xero_details").logical_name))
    assert details[p("exportstatus")].get("disabled") == "false"  # the user retries by setting it back to No
    assert all(
        details[p(c)].get("disabled") == "true"
        for c in ("xeroinvoicenumber", "xerostatus", "amountdue", "xerourl")
    )
    for customer in ("account", "contact"):
        fields = controls(form_of(dv, customer))
        assert {p("xerocontactid"), p("amountowed"), p("amountoverdue")} <= set(fields)
    line = controls(form_of(dv, "invoicedetail"))
    line_lookups = {
        lookup.logical_name for lookup in client.schema.lookups if lookup.referencing == "invoicedetail"
    }
    assert (
        {p("accountcodeid"), p("taxtypeid")} <= line_lookups <= set(line)
    )  # tracking lookups too, when present


async def test_c5_the_connection_form_follows_the_settings_groups_with_descriptions(
    dv: DataverseEmulatorHandle, client: DataverseClient
) -> None:
    await provision_customizations(client, SOLUTION)
    connection = client.schema.table("connection")
    form = ET.fromstring(form_of(dv, connection.logical_name)["formxml"])  # noqa: S314
    sections = [s.find("labels/label").get("description") for s in form.iter("section")]  # type: ignore[union-attr]
    groups = [group for group, _ in forms.CONNECTION_GROUPS]
    assert sections[: len(groups)] == groups and sections[len(groups) :] in ([], ["Other settings"])
    shown = {c.get("datafieldname") for c in form.iter("control")}
    assert {column.logical_name for column in connection.columns} <= shown  # no setting is left off
    attributes = dv.state.tables[connection.logical_name].attributes
    description = attributes[client.schema.p("createcontacts")].definition["Description"]
    assert "invoice fails and sync history says why" in description["LocalizedLabels"][0]["Label"]


async def test_c5_views_filter_what_their_names_say(
    dv: DataverseEmulatorHandle, client: DataverseClient
) -> None:
    await provision_customizations(client, SOLUTION)
    by_name = {v["name"]: ET.fromstring(v["fetchxml"]) for v in dv.state.rows["savedquery"].values()}  # noqa: S314
    assert {"Failed exports", "Waiting for Date Delivered", "Synced today", "Ready to update"} <= set(by_name)
    assert {"Failures in the last 7 days", "Needing reconnect"} <= set(by_name)

    def conditions(name: str) -> set[tuple[str | None, str | None, str | None]]:
        return {
            (c.get("attribute"), c.get("operator"), c.get("value")) for c in by_name[name].iter("condition")
        }

    p = client.schema.p
    assert (p("exportstatus"), "eq", "100000002") in conditions("Failed exports")
    last = by_name["Failed exports"].find("entity/link-entity")
    assert last is not None and last.get("link-type") == "matchfirstrowusingcrossapply"
    assert last.get("name") == client.schema.table("sync_history").logical_name
    assert {(p("exportstatus"), "eq", "100000001"), (p("exportedon"), "today", None)} <= conditions(
        "Synced today"
    )
    assert (p("exportstatus"), "eq", "100000003") in conditions("Ready to update")
    assert ("datedelivered", "null", None) in conditions("Waiting for Date Delivered")
    assert (p("occurredon"), "last-x-days", "7") in conditions("Failures in the last 7 days")
    assert (p("needsreconnect"), "eq", "1") in conditions("Needing reconnect")


async def test_c5_a_form_naming_a_column_that_does_not_exist_is_refused(
    dv: DataverseEmulatorHandle, client: DataverseClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = forms.customer_form

    def renamed(schema: Any, table: str) -> components.FormSpec:
        spec = original(schema, table)
        tab = spec.tabs[0]
        section = replace(tab.sections[1], items=(components.Field("xc_amountowing", "Owing", "decimal"),))
        return replace(spec, tabs=(replace(tab, sections=(tab.sections[0], section)),))

    monkeypatch.setattr(forms, "customer_form", renamed)
    with pytest.raises(DataverseRequestError) as refused:
        await provision_customizations(client, SOLUTION)
    assert refused.value.status == 400 and "xc_amountowing" in refused.value.message


async def test_c5_a_view_naming_a_column_that_does_not_exist_is_refused(
    dv: DataverseEmulatorHandle, client: DataverseClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = views.view_specs

    def renamed(schema: Any) -> list[views.ViewSpec]:
        specs = original(schema)
        return [replace(specs[0], cells=(*specs[0].cells, ("xc_lastmessage", 100))), *specs[1:]]

    monkeypatch.setattr(views, "view_specs", renamed)
    with pytest.raises(DataverseRequestError) as refused:
        await provision_customizations(client, SOLUTION)
    assert refused.value.code == "0x80041103" and "xc_lastmessage" in refused.value.message


async def test_c5_every_field_column_and_table_the_customizations_name_exists(
    dv: DataverseEmulatorHandle, client: DataverseClient
) -> None:
    await provision_customizations(client, SOLUTION)
    for form in dv.state.rows["systemform"].values():
        attributes = dv.state.tables[form["objecttypecode"]].attributes
        fields = {c.get("datafieldname") for c in controls(form).values()} - {None}
        assert fields <= set(attributes), form["objecttypecode"]
    for saved in dv.state.rows["savedquery"].values():
        fetch = ET.fromstring(saved["fetchxml"])  # noqa: S314
        for entity in (fetch.find("entity"), *fetch.iter("link-entity")):
            assert entity is not None
            names = {a.get("name") for a in entity.findall("attribute")}
            assert names <= set(dv.state.tables[entity.get("name", "")].attributes)
    held = {row["privilegeid"] for row in dv.state.rows["roleprivileges"].values()}
    assert held <= set(dv.state.rows["privilege"])  # a privilege exists only for a table that exists


async def test_c5_a_customised_form_is_left_alone_unless_forced(
    dv: DataverseEmulatorHandle, client: DataverseClient
) -> None:
    await provision_customizations(client, SOLUTION)
    form = form_of(dv, "account")
    city = (
        "<row><cell id='{0e0e0e0e-0000-4000-8000-000000000001}'><control id='address1_city' "
        "classid='{4273EDBD-AC1D-40d3-9FB2-095C621B552D}' datafieldname='address1_city'/></cell></row>"
    )
    theirs = form["formxml"].replace("</rows>", city + "</rows>", 1)  # someone adds the city in the designer
    await client.transport.send(
        "PATCH", f"systemforms({form['formid']})", json_body={"formxml": theirs}, headers={"If-Match": "*"}
    )

    kept, _ = await provision_customizations(client, SOLUTION)
    assert kept.customised == ["form account: Xero Connector"] and not kept.changed
    assert form_of(dv, "account")["formxml"] == theirs

    forced, _ = await provision_customizations(client, SOLUTION, force=True)
    assert forced.overwritten == ["form account: Xero Connector"] and forced.published == ["account"]
    assert "address1_city" not in form_of(dv, "account")["formxml"]
    settled, _ = await provision_customizations(client, SOLUTION)
    assert not settled.changed and settled.customised == []


async def test_c5_a_form_the_connector_made_in_an_older_version_is_updated(
    dv: DataverseEmulatorHandle, client: DataverseClient
) -> None:
    await provision_customizations(client, SOLUTION)
    form = form_of(dv, "contact")
    older = form["formxml"].replace("Email", "E-mail")
    description = components.marked(
        "An older layout.", components.fingerprint(older), components.fingerprint(older)
    )
    body = {"formxml": older, "description": description}
    await client.transport.send(
        "PATCH", f"systemforms({form['formid']})", json_body=body, headers={"If-Match": "*"}
    )

    report, _ = await provision_customizations(client, SOLUTION)
    assert report.updated == ["form contact: Xero Connector"] and report.customised == []
    assert "E-mail" not in form_of(dv, "contact")["formxml"]
    assert re.search(r"\[Xero connector layout [0-9a-f]{12}\]", form_of(dv, "contact")["description"])


async def test_c5_a_privilege_someone_added_to_a_role_is_reported_and_removed_only_when_forced(
    dv: DataverseEmulatorHandle, client: DataverseClient
) -> None:
    _, roles = await provision_customizations(client, SOLUTION)
    finance = roles[FINANCE_ROLE]
    extra = next(
        r["privilegeid"] for r in dv.state.rows["privilege"].values() if r["name"] == "prvDeleteAccount"
    )
    body = {"Privileges": [{"PrivilegeId": extra, "Depth": "Global"}]}
    await client.transport.send(
        "POST", f"roles({finance})/Microsoft.Dynamics.CRM.AddPrivilegesRole", json_body=body
    )

    noted, _ = await provision_customizations(client, SOLUTION)
    assert not noted.changed and any("prvDeleteAccount" in note for note in noted.notes)
    forced, _ = await provision_customizations(client, SOLUTION, force=True)
    assert forced.updated == [f"role {FINANCE_ROLE} (+0 −1 privileges)"]
    held = {
        dv.state.rows["privilege"][r["privilegeid"]]["name"]
        for r in dv.state.rows["roleprivileges"].values()
        if r["roleid"] == finance
    }
    assert held == set(privilege_names(client.schema, finance_grants(client.schema)))


def test_c5_cli_provision_schema_twice_says_no_changes_and_assigns_the_integration_role(
    dv: DataverseEmulatorHandle, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAVERSE_URL", dv.base_url)
    monkeypatch.setenv("DATAVERSE_STATIC_TOKEN", dv.token)
    get_settings.cache_clear()
    user_id = dv.create_user("Connector app", "0b5e5f2c-8c8d-4a7e-9d7c-3c2b1a0f9e8d")
    runner = CliRunner(env={"COLUMNS": "300"})
    try:
        first = runner.invoke(app, ["provision-schema"])
        second = runner.invoke(
            app, ["provision-schema", "--assign-role", "0b5e5f2c-8c8d-4a7e-9d7c-3c2b1a0f9e8d"]
        )
        third = runner.invoke(app, ["provision-schema", "--assign-role", "Connector app"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert "created form invoice: Xero Connector" in first.output and "Published" in first.output
    assert second.exit_code == 0, second.output
    assert second.output.count("No changes") == 2
    assert f"Assigned {INTEGRATION_ROLE} to user {user_id}." in second.output
    assert f"Already assigned {INTEGRATION_ROLE}" in third.output
    unknown = runner.invoke(app, ["provision-schema", "--assign-role", "Nobody"])
    assert unknown.exit_code == 1 and "expected one Dataverse user" in unknown.output

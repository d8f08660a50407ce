"""C5: what users see in Dynamics, provisioned after the schema: views, forms, the settings'
descriptions and the security roles, then published. Idempotent; a second run changes nothing."""

from __future__ import annotations

from collections.abc import Iterable

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.http import odata_string
from connector.adapters.dataverse.schema import CONNECTION_FIELDS
from connector.setup.components import ComponentWriter, CustomizationReport
from connector.setup.forms import CONNECTION_GROUPS, build_forms
from connector.setup.roles import INTEGRATION_ROLE, RoleWriter, assign_role
from connector.setup.views import build_views, view_tables


async def object_type_codes(client: DataverseClient, tables: Iterable[str]) -> dict[str, int]:
    """A view's layout names its table by type code, which Dataverse assigns to a custom table."""
    names = sorted(set(tables))
    where = " or ".join(f"LogicalName eq {odata_string(name)}" for name in names)
    params = {"$select": "LogicalName,ObjectTypeCode", "$filter": where}
    rows = (await client.get_json("EntityDefinitions", params))["value"]
    codes = {row["LogicalName"]: int(row["ObjectTypeCode"]) for row in rows if row.get("ObjectTypeCode")}
    missing = [name for name in names if name not in codes]
    if missing:
        raise LookupError(f"Dataverse has no table {', '.join(missing)}: provision the schema first")
    return codes


async def provision_customizations(
    client: DataverseClient, solution: str, *, force: bool = False
) -> tuple[CustomizationReport, dict[str, str]]:
    """Views first (the forms' grids use them), then forms, descriptions and roles; publish what changed.
    Returns the report and the role ids by name."""
    report = CustomizationReport()
    writer = ComponentWriter(client, solution, force, report)
    codes = await object_type_codes(client, view_tables(client.schema))
    for view in build_views(client.schema, codes):
        await writer.ensure(view)
    for form in build_forms(client.schema):
        await writer.ensure(form)
    await describe_connection_settings(client, writer.headers, report)
    roles = await RoleWriter(client, solution, force, report).run()
    if report.tables:
        entities = "".join(f"<entity>{name}</entity>" for name in sorted(report.tables))
        xml = f"<importexportxml><entities>{entities}</entities></importexportxml>"
        await client.transport.send("POST", "PublishXml", json_body={"ParameterXml": xml})
        report.published = sorted(report.tables)
    return report, roles


def summary_lines(report: CustomizationReport) -> list[str]:
    """What a run did, as rich markup lines for the command line."""
    lines = [f"  [green]created[/green] {item}" for item in report.created]
    lines += [f"  [yellow]updated[/yellow] {item}" for item in report.updated]
    lines += [
        f"  [yellow]replaced[/yellow] {item} (someone had changed it; --force)" for item in report.overwritten
    ]
    lines += [
        f"  [red]left alone[/red] {item}: changed in Dynamics since the connector made it; "
        "--force replaces it"
        for item in report.customised
    ]
    lines += [f"  [dim]note[/dim] {note}" for note in report.notes]
    if report.published:
        lines.append(f"Published {', '.join(report.published)}.")
    if not report.changed:
        lines.insert(
            0, f"[green]No changes[/green]: {len(report.unchanged)} forms, views and roles are up to date."
        )
    return lines


async def provision_what_users_see(
    client: DataverseClient, solution: str, *, force: bool = False, assign_to: str | None = None
) -> list[str]:
    """`provision-schema`'s second half: forms, views and roles; then the integration role for a user."""
    report, roles = await provision_customizations(client, solution, force=force)
    lines = summary_lines(report)
    if assign_to is not None:
        user_id, added = await assign_role(client, assign_to, roles[INTEGRATION_ROLE])
        verb = "[green]Assigned[/green]" if added else "[green]Already assigned[/green]"
        lines.append(f"{verb} {INTEGRATION_ROLE} to user {user_id}.")
    return lines


async def describe_connection_settings(
    client: DataverseClient, headers: dict[str, str], report: CustomizationReport
) -> None:
    """Each setting's description on its column (the form shows it as the tooltip). Only a column whose
    description differs is rewritten: retrieved whole, then PUT back, as a column is updated."""
    table = client.schema.table("connection").logical_name
    wanted = {
        client.schema.p(CONNECTION_FIELDS[setting][0].lower()): text
        for _, settings in CONNECTION_GROUPS
        for setting, _, text in settings
        if setting in CONNECTION_FIELDS
    }
    path = f"EntityDefinitions(LogicalName={odata_string(table)})/Attributes"
    rows = (await client.get_json(path, {"$select": "LogicalName,Description"}))["value"]
    current = {row["LogicalName"]: _label_text(row.get("Description")) for row in rows}
    changed = 0
    for column, text in wanted.items():
        if column not in current or current[column] == text:
            continue
        attribute_path = f"{path}(LogicalName={odata_string(column)})"
        definition = await client.get_json(attribute_path)
        definition["Description"] = _label(text)
        await client.transport.send(
            "PUT", attribute_path, json_body=definition, headers={**headers, "MSCRM.MergeLabels": "true"}
        )
        changed += 1
    if changed:
        report.updated.append(f"descriptions of {changed} connection settings")
        report.tables.add(table)


def _label(text: str) -> dict[str, object]:
    localized = {"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text, "LanguageCode": 1033}
    return {"@odata.type": "Microsoft.Dynamics.CRM.Label", "LocalizedLabels": [localized]}


def _label_text(label: object) -> str:
    if not isinstance(label, dict):
        return ""
    for localized in label.get("LocalizedLabels") or []:
        if isinstance(localized, dict) and localized.get("LanguageCode") == 1033:
            return str(localized.get("Label") or "")
    user = label.get("UserLocalizedLabel")
    return str(user.get("Label") or "") if isinstance(user, dict) else ""

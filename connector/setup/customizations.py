"""C5: what users see in Dynamics, provisioned after the schema: views, forms, the settings'
descriptions and the security roles, then published. Idempotent; a second run changes nothing."""

from __future__ import annotations

from collections.abc import Iterable

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.http import odata_string
from connector.setup.components import ComponentWriter, CustomizationReport
from connector.setup.forms import build_forms, describe_connection_settings
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

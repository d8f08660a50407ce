"""C5: the views finance users work from (savedqueries: FetchXml for the rows, LayoutXml for the columns)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connector.adapters.dataverse.schema import (
    EXPORT_STATUS_VALUES,
    SYNC_OUTCOME_VALUES,
    ConnectorSchema,
)
from connector.setup.components import Component, element, stable_id, to_xml

ACTIVE = 0  # invoice statecode Active


@dataclass(frozen=True)
class Link:
    """A link-entity: `to` on this table, `frm` on the linked one; its columns appear as alias.column."""

    table: str
    frm: str
    to: str
    alias: str
    columns: tuple[str, ...] = ()
    link_type: str = "outer"
    conditions: tuple[ET.Element, ...] = ()
    order: tuple[str, bool] | None = None


@dataclass(frozen=True)
class ViewSpec:
    key: str
    table: str
    name: str
    description: str
    cells: tuple[tuple[str, int], ...]  # column (or alias.column) and width in pixels
    conditions: tuple[ET.Element, ...] = ()
    order: tuple[str, bool] = ("createdon", True)
    links: tuple[Link, ...] = ()


def condition(attribute: str, operator: str, value: object | None = None) -> ET.Element:
    attributes: dict[str, object] = {"attribute": attribute, "operator": operator}
    if value is not None:
        attributes["value"] = value
    return element("condition", attributes)


def any_of(*conditions: ET.Element) -> ET.Element:
    return element("filter", {"type": "or"}, *conditions)


def view_id(schema: ConnectorSchema, key: str) -> str:
    return str(stable_id(schema.prefix, "view", key))


def fetch_xml(schema: ConnectorSchema, spec: ViewSpec, primary_id: str) -> str:
    own = [cell for cell, _ in spec.cells if "." not in cell]
    entity = element("entity", {"name": spec.table})
    entity.extend(element("attribute", {"name": column}) for column in dict.fromkeys([*own, primary_id]))
    column, descending = spec.order
    entity.append(element("order", {"attribute": column, "descending": str(descending).lower()}))
    if spec.conditions:
        entity.append(element("filter", {"type": "and"}, *spec.conditions))
    for link in spec.links:
        attributes = {"name": link.table, "from": link.frm, "to": link.to, "alias": link.alias}
        node = element("link-entity", {**attributes, "link-type": link.link_type})
        node.extend(element("attribute", {"name": name}) for name in link.columns)
        if link.order is not None:
            node.append(
                element("order", {"attribute": link.order[0], "descending": str(link.order[1]).lower()})
            )
        if link.conditions:
            node.append(element("filter", {"type": "and"}, *link.conditions))
        entity.append(node)
    return to_xml(element("fetch", {"version": "1.0", "mapping": "logical", "distinct": "false"}, entity))


def layout_xml(spec: ViewSpec, primary_id: str, primary_name: str, object_type_code: int) -> str:
    row = element("row", {"name": "result", "id": primary_id})
    for cell, width in spec.cells:
        attributes: dict[str, object] = {"name": cell, "width": width}
        if "." in cell:
            attributes["disableSorting"] = 1  # linked columns cannot be sorted on (Customize views)
        row.append(element("cell", attributes))
    grid = {"name": "resultset", "object": object_type_code, "jump": primary_name, "select": 1, "icon": 1}
    return to_xml(element("grid", {**grid, "preview": 1}, row))


def _failed_exports(schema: ConnectorSchema) -> ViewSpec:
    p, history = schema.p, schema.table("sync_history").logical_name
    invoice = schema.lookup("details_invoice").logical_name
    # One row per invoice: the first matching history row, asked for newest first (see README).
    last = Link(
        history,
        schema.lookup("history_invoice").logical_name,
        invoice,
        "lastsync",
        (p("occurredon"), p("detail")),
        "matchfirstrowusingcrossapply",
        order=(p("occurredon"), True),
    )
    return ViewSpec(
        "failed_exports",
        schema.table("xero_details").logical_name,
        "Failed exports",
        "Invoices Xero refused, with the latest sync history message. Fix the invoice, then set "
        "Export status back to No to send it again.",
        (
            (invoice, 200),
            (schema.lookup("details_connection").logical_name, 150),
            (f"lastsync.{p('occurredon')}", 140),
            (f"lastsync.{p('detail')}", 420),
            ("modifiedon", 140),
        ),
        (condition(p("exportstatus"), "eq", EXPORT_STATUS_VALUES["Failed"]),),
        ("modifiedon", True),
        (last,),
    )


def _waiting_for_date_delivered(schema: ConnectorSchema) -> ViewSpec:
    invoice = schema.lookup("details_invoice").logical_name
    not_yet = any_of(condition("datedelivered", "null"), condition("datedelivered", "next-x-years", 100))
    link = Link(
        "invoice",
        "invoiceid",
        invoice,
        "invoice",
        ("datedelivered", "totalamount"),
        "inner",
        (condition("statecode", "eq", ACTIVE), not_yet),
    )
    return ViewSpec(
        "waiting_for_date_delivered",
        schema.table("xero_details").logical_name,
        "Waiting for Date Delivered",
        "Invoices not yet sent because their Date Delivered is empty or still to come.",
        ((invoice, 220), ("invoice.datedelivered", 130), ("invoice.totalamount", 120), ("createdon", 140)),
        (condition(schema.p("exportstatus"), "eq", EXPORT_STATUS_VALUES["No"]),),
        ("createdon", False),
        (link,),
    )


def _details_views(schema: ConnectorSchema) -> list[ViewSpec]:
    p, details = schema.p, schema.table("xero_details").logical_name
    invoice = schema.lookup("details_invoice").logical_name
    status = p("exportstatus")
    grid = ("xeroinvoicenumber", "xerostatus", "xerourl", "onlineinvoiceurl", "exportstatus")
    columns = {column.logical_name for column in schema.table("xero_details").columns}
    grid_more = tuple(
        n for n in ("exportedon", "amountdue", "amountoverdue", "daysoverdue", "duedate") if p(n) in columns
    )
    return [
        _failed_exports(schema),
        _waiting_for_date_delivered(schema),
        ViewSpec(
            "synced_today",
            details,
            "Synced today",
            "Invoices sent to Xero today.",
            (
                (invoice, 220),
                (p("xeroinvoicenumber"), 120),
                (p("xerostatus"), 110),
                (p("amountdue"), 110),
                (p("exportedon"), 140),
                (p("xerourl"), 200),
            ),
            (condition(status, "eq", EXPORT_STATUS_VALUES["Yes"]), condition(p("exportedon"), "today")),
            (p("exportedon"), True),
        ),
        ViewSpec(
            "ready_to_update",
            details,
            "Ready to update",
            "Invoices changed in Dynamics that the connector will update in Xero.",
            ((invoice, 220), (p("xeroinvoicenumber"), 120), (p("xerostatus"), 110), (p("exportedon"), 140)),
            (condition(status, "eq", EXPORT_STATUS_VALUES["Ready to update"]),),
            ("modifiedon", True),
        ),
        ViewSpec(
            "invoice_xero_details",
            details,
            "Xero details (invoice form)",
            "The Xero details shown on the invoice form.",
            tuple((p(name), 110) for name in (*grid, *grid_more)),
        ),
    ]


def _history_and_connection_views(schema: ConnectorSchema) -> list[ViewSpec]:
    p, history, connection = schema.p, schema.table("sync_history").logical_name, schema.table("connection")
    failed = SYNC_OUTCOME_VALUES["Failed"]
    invoice = schema.lookup("history_invoice").logical_name
    return [
        ViewSpec(
            "recent_failures",
            history,
            "Failures in the last 7 days",
            "Sync attempts that failed in the last seven days, newest first.",
            ((p("occurredon"), 140), (invoice, 200), (p("action"), 100), (p("detail"), 420)),
            (condition(p("outcome"), "eq", failed), condition(p("occurredon"), "last-x-days", 7)),
            (p("occurredon"), True),
        ),
        ViewSpec(
            "invoice_sync_history",
            history,
            "Sync history (newest first)",
            "The sync history shown on the invoice form.",
            ((p("occurredon"), 140), (p("action"), 100), (p("outcome"), 100), (p("detail"), 460)),
            order=(p("occurredon"), True),
        ),
        ViewSpec(
            "needing_reconnect",
            connection.logical_name,
            "Needing reconnect",
            "Connections Xero no longer accepts: reconnect them with python -m connector connect.",
            (
                (connection.primary_name, 200),
                (p("tenantid"), 260),
                (p("reconnectreason"), 320),
                ("modifiedon", 140),
            ),
            (condition(p("needsreconnect"), "eq", 1),),
            ("modifiedon", True),
        ),
    ]


def view_specs(schema: ConnectorSchema) -> list[ViewSpec]:
    return [*_details_views(schema), *_history_and_connection_views(schema)]


def build_views(schema: ConnectorSchema, object_type_codes: Mapping[str, int]) -> list[Component]:
    tables = {table.logical_name: table for table in schema.tables}
    components = []
    for spec in view_specs(schema):
        table = tables[spec.table]
        layout = {
            "fetchxml": fetch_xml(schema, spec, table.primary_id),
            "layoutxml": layout_xml(
                spec, table.primary_id, table.primary_name, object_type_codes[spec.table]
            ),
        }
        components.append(
            Component(
                f"view {table.plural_label}: {spec.name}",
                "savedqueries",
                "savedqueryid",
                stable_id(schema.prefix, "view", spec.key),
                spec.name,
                spec.description,
                spec.table,
                layout,
                {"returnedtypecode": spec.table, "querytype": 0},
            )
        )
    return components


def view_tables(schema: ConnectorSchema) -> Sequence[str]:
    return sorted({spec.table for spec in view_specs(schema)})

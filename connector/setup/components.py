"""What forms, views and roles share: building XML, the layout fingerprint that tells the connector's
own earlier layout from a customer's change, writing one form or view idempotently, and the report."""

from __future__ import annotations

import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.client import DataverseClient
from connector.errors import NotFoundError

LANGUAGE = 1033  # English labels; other languages come from the customer's translations
_NAMESPACE = uuid.UUID("8d0f7e55-2b6c-4a8e-9c1d-3f5a7b9e0c21")
# In a component's description: the fingerprint of the layout the connector generated and, when
# Dataverse stored it differently, of what it stored. A layout that matches neither was changed by
# someone else.
_MARKER = re.compile(r"\[Xero connector layout ([0-9a-f]{12})(?:/([0-9a-f]{12}))?\]")


def stable_id(*parts: str) -> UUID:
    """The same id on every run and in every org, so a second run finds what the first one made."""
    return uuid.uuid5(_NAMESPACE, "/".join(parts))


def braced(value: UUID) -> str:
    return "{" + str(value) + "}"


def fingerprint(*texts: str) -> str:
    """Whitespace between tags does not count: an XML editor may re-indent without changing anything."""
    joined = "\n".join(re.sub(r">\s+<", "><", text.strip()) for text in texts)
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def marked(description: str, source: str, stored: str) -> str:
    suffix = source if stored == source else f"{source}/{stored}"
    return f"{description}\n[Xero connector layout {suffix}]"


def marker_of(description: object) -> tuple[str, str] | None:
    match = _MARKER.search(description) if isinstance(description, str) else None
    if match is None:
        return None
    return match.group(1), match.group(2) or match.group(1)


def element(tag: str, attributes: Mapping[str, object] | None = None, *children: ET.Element) -> ET.Element:
    node = ET.Element(tag, {key: str(value) for key, value in (attributes or {}).items()})
    node.extend(children)
    return node


def text_element(tag: str, text: str) -> ET.Element:
    node = ET.Element(tag)
    node.text = text
    return node


def labels(text: str) -> ET.Element:
    return element("labels", None, element("label", {"description": text, "languagecode": LANGUAGE}))


def to_xml(node: ET.Element) -> str:
    return ET.tostring(node, encoding="unicode")


@dataclass
class CustomizationReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    customised: list[str] = field(default_factory=list)  # changed by someone else, left alone
    overwritten: list[str] = field(default_factory=list)  # changed by someone else, replaced (--force)
    notes: list[str] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)  # whose forms or views changed: to publish
    published: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.overwritten)


@dataclass(frozen=True)
class Component:
    """One systemforms or savedqueries row the connector owns, and the layout it should have."""

    label: str  # for the report: "form Invoice – Xero"
    entity_set: str
    id_column: str
    row_id: UUID
    name: str
    description: str
    table: str  # the table it belongs to (published with it)
    layout: Mapping[str, str]  # formxml, or fetchxml and layoutxml
    create_only: Mapping[str, Any] = field(default_factory=dict)  # objecttypecode, type, returnedtypecode…


class ComponentWriter:
    """Creates a missing component; updates one still as the connector left it; leaves one someone
    changed alone unless `force`."""

    def __init__(
        self, client: DataverseClient, solution: str, force: bool, report: CustomizationReport
    ) -> None:
        self.client = client
        self.headers = {"MSCRM.SolutionUniqueName": solution}
        self.force = force
        self.report = report

    async def _read(self, component: Component) -> dict[str, Any] | None:
        path = f"{component.entity_set}({component.row_id})"
        params = {"$select": ",".join((*component.layout, "description", "name"))}
        try:
            row: dict[str, Any] = await self.client.get_json(path, params)
        except NotFoundError:
            return None
        return row

    async def ensure(self, component: Component) -> None:
        source = fingerprint(*component.layout.values())
        existing = await self._read(component)
        body: dict[str, Any] = {
            "name": component.name,
            "description": marked(component.description, source, source),
            **component.layout,
        }
        if existing is None:
            body = {component.id_column: str(component.row_id), **component.create_only, **body}
            await self.client.transport.send(
                "POST", component.entity_set, json_body=body, headers=self.headers
            )
            self.report.created.append(component.label)
        else:
            current = fingerprint(*(str(existing.get(column) or "") for column in component.layout))
            marker = marker_of(existing.get("description"))
            ours = marker is not None and marker[1] == current
            if ours and marker is not None and marker[0] == source:
                self.report.unchanged.append(component.label)
                return
            if not ours and not self.force:
                self.report.customised.append(component.label)
                return
            await self.client.transport.send(
                "PATCH",
                f"{component.entity_set}({component.row_id})",
                json_body=body,
                headers={**self.headers, "If-Match": "*"},
            )
            (self.report.updated if ours else self.report.overwritten).append(component.label)
        self.report.tables.add(component.table)
        await self._settle(component, source)

    async def _settle(self, component: Component, source: str) -> None:
        """Remember what Dataverse stored, in case it rewrote the layout on save."""
        stored_row = await self._read(component) or {}
        stored = fingerprint(*(str(stored_row.get(column) or "") for column in component.layout))
        if stored != source:
            await self.client.transport.send(
                "PATCH",
                f"{component.entity_set}({component.row_id})",
                json_body={"description": marked(component.description, source, stored)},
                headers={**self.headers, "If-Match": "*"},
            )


# ---- forms: FormXml ------------------------------------------------------------------------------
FORM_NAME = "Xero Connector"
MAIN_FORM = 2
# Control class ids by column kind: the values the form designer writes [3p, consistent across tools].
CLASS_IDS = {
    "string": "{4273EDBD-AC1D-40d3-9FB2-095C621B552D}",
    "memo": "{E0DECE4B-6FC8-4a8f-A065-082708572369}",
    "bool": "{67FAC785-CD58-4f9f-ABB3-4B7DDC6ED5ED}",
    "int": "{C6D124CA-7EDA-4a60-AEA9-7FB8D318B68F}",
    "decimal": "{C3EFE0C3-0EC6-42be-8349-CBD9079DFD8E}",
    "money": "{533B9E00-756B-4312-95A0-DC888637AC78}",
    "date": "{5B773807-9FB2-42db-97C3-7A91EFF8ADFF}",
    "datetime": "{5B773807-9FB2-42db-97C3-7A91EFF8ADFF}",
    "choice": "{3EF39988-22BB-4f0b-BBBE-64B5A3748AEE}",
    "lookup": "{270BD3DB-D9AF-4782-9025-509E298DEC0A}",
}
SUBGRID = "{E7A81278-8635-4d9e-8D4D-59480B391C5B}"  # the documented subgrid control (SharePoint docs sample)


@dataclass(frozen=True)
class Field:
    column: str
    label: str
    kind: str
    read_only: bool = False


@dataclass(frozen=True)
class Grid:
    name: str
    label: str
    target: str
    relationship: str
    view: str | None  # a view id, or None for the table's default view
    rows: int = 5


@dataclass(frozen=True)
class Section:
    name: str
    label: str
    items: tuple[Field | Grid, ...]


@dataclass(frozen=True)
class Tab:
    name: str
    label: str
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class FormSpec:
    key: str
    table: str
    description: str
    tabs: tuple[Tab, ...]


def _cell(spec: FormSpec, item: Field | Grid) -> ET.Element:
    cell_id = braced(
        stable_id(spec.table, spec.key, "cell", item.column if isinstance(item, Field) else item.name)
    )
    if isinstance(item, Field):
        control = element(
            "control",
            {
                "id": item.column,
                "classid": CLASS_IDS[item.kind],
                "datafieldname": item.column,
                "disabled": str(item.read_only).lower(),
            },
        )
        return element("cell", {"id": cell_id, "showlabel": "true"}, labels(item.label), control)
    parameters = element(
        "parameters",
        None,
        text_element("TargetEntityType", item.target),
        text_element("RelationshipName", item.relationship),
        *([text_element("ViewId", "{" + item.view + "}")] if item.view else []),
        text_element("IsUserView", "false"),
        text_element("AutoExpand", "Fixed"),
        text_element("EnableQuickFind", "false"),
        text_element("EnableViewPicker", "false"),
        text_element("EnableJumpBar", "false"),
        text_element("ChartGridMode", "Grid"),
        text_element("RecordsPerPage", str(item.rows)),
    )
    attributes = {"id": item.name, "classid": SUBGRID, "indicationOfSubgrid": "true"}
    control = element(
        "control", {**attributes, "uniqueid": braced(stable_id(spec.table, spec.key, item.name))}, parameters
    )
    return element(
        "cell", {"id": cell_id, "rowspan": item.rows, "showlabel": "true"}, labels(item.label), control
    )


def form_xml(spec: FormSpec) -> str:
    tabs = element("tabs")
    for tab in spec.tabs:
        sections = element("sections")
        for section in tab.sections:
            rows = element("rows", None, *(element("row", None, _cell(spec, item)) for item in section.items))
            section_id = braced(stable_id(spec.table, spec.key, "section", section.name))
            attributes = {"name": section.name, "id": section_id, "showlabel": "true", "columns": "1"}
            sections.append(element("section", attributes, labels(section.label), rows))
        column = element("column", {"width": "100%"}, sections)
        tab_id = braced(stable_id(spec.table, spec.key, "tab", tab.name))
        attributes = {"name": tab.name, "id": tab_id, "expanded": "true", "showlabel": "true"}
        tabs.append(element("tab", attributes, labels(tab.label), element("columns", None, column)))
    return to_xml(element("form", None, tabs))

"""Forms (`systemforms`, FormXml), views (`savedqueries`, FetchXml and LayoutXml) and `PublishXml`.

Every create and update is validated as Dataverse would: the XML must parse, and every column, table,
relationship and view it names must exist. README "Forms, views and publishing" cites the sources.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from devstack.dataverse import metadata as md
from devstack.dataverse.store import EmulatorState, ODataError, Transaction

INVALID_XML = "0x80040201"  # InvalidXml: "Invalid XML."
INVALID_FETCH_XML = "0x80040303"  # InvalidFetchXml: "Malformed FetchXml."
NO_ATTRIBUTE = "0x80041103"  # QueryBuilderNoAttribute
NO_ENTITY = "0x80041102"  # QueryBuilderNoEntity
ENTITIES_DONT_MATCH = "0x80041128"  # QueryBuilderEntitiesDontMatch
INVALID_LINK_TYPE = "0x80041117"  # QueryBuilderDeserializeInvalidLinkType
INVALID_OPERATOR = "0x80041120"  # QueryBuilderInvalidConditionOperator
INVALID_FILTER_TYPE = "0x80041122"  # QueryBuilderInvalidFilterType
DUPLICATE_ALIAS = "0x80041130"  # QueryBuilderDuplicateAlias
NO_ALIAS = "0x8004110a"  # QueryBuilderAlias_Does_Not_Exist
INVALID_DESCENDING = "0x80041119"  # QueryBuilderDeserializeInvalidDescending
BAD_CONDITION = "0x80041106"  # QueryBuilderBad_Condition
INVALID_VALUE = "0x80041108"  # QueryBuilderInvalid_Value
INVALID_VIEW = "0x800609B3"  # InvalidViewReference
INVALID_FORM_TYPE = "0x80060874"  # InvalidFormTypeCalledThroughSdk
INVALID_ENTITY = "0x8005E00C"  # InvalidEntity: "Entity {0} cannot be found."
INVALID_ARGUMENT = "0x80040203"  # assumed: a form naming a column or relationship that does not exist

FORM_TYPES = {
    0: "Dashboard",
    1: "AppointmentBook",
    2: "Main",
    3: "MiniCampaignBO",
    4: "Preview",
    5: "Mobile - Express",
    6: "Quick View Form",
    7: "Quick Create",
    8: "Dialog",
    9: "Task Flow Form",
    10: "InteractionCentricDashboard",
    11: "Card",
    12: "Main - Interactive experience",
    13: "Contextual Dashboard",
    100: "Other",
    101: "MainBackup",
    102: "AppointmentBookBackup",
    103: "Power BI Dashboard",
}
CREATABLE_FORM_TYPES = frozenset({0, 2, 6, 7, 11})  # assumed: what the form designer itself makes
RECORD_FORM_TYPES = frozenset({2, 6, 7, 11})  # forms of one table, which carry FormXml fields
SUBGRID_CLASSID = "{E7A81278-8635-4D9E-8D4D-59480B391C5B}"  # the subgrid control [doc sample]
_CLASSID = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")
LINK_TYPES = frozenset(
    {
        "inner",
        "outer",
        "natural",
        "in",
        "exists",
        "matchfirstrowusingcrossapply",
        "any",
        "not any",
        "all",
        "not all",
    }
)
NO_VALUE_OPERATORS = frozenset(
    {
        "null",
        "not-null",
        "yesterday",
        "today",
        "tomorrow",
        "last-seven-days",
        "next-seven-days",
        "last-week",
        "this-week",
        "next-week",
        "last-month",
        "this-month",
        "next-month",
        "last-year",
        "this-year",
        "next-year",
        "eq-userid",
        "ne-userid",
        "eq-userteams",
        "eq-useroruserteams",
        "eq-useroruserhierarchy",
        "eq-useroruserhierarchyandteams",
        "eq-businessid",
        "ne-businessid",
        "eq-userlanguage",
        "this-fiscal-year",
        "this-fiscal-period",
        "next-fiscal-year",
        "next-fiscal-period",
        "last-fiscal-year",
        "last-fiscal-period",
    }
)
_X_UNITS = ("hours", "days", "weeks", "months", "years", "fiscal-years", "fiscal-periods")
INTEGER_OPERATORS = frozenset(
    {f"{when}-x-{unit}" for when in ("last", "next") for unit in _X_UNITS}
    | {f"olderthan-x-{unit}" for unit in ("minutes", "hours", "days", "weeks", "months", "years")}
)
VALUE_OPERATORS = frozenset(
    {
        "eq",
        "neq",
        "ne",
        "gt",
        "ge",
        "le",
        "lt",
        "like",
        "not-like",
        "in",
        "not-in",
        "between",
        "not-between",
        "on",
        "on-or-before",
        "on-or-after",
        "begins-with",
        "not-begin-with",
        "ends-with",
        "not-end-with",
        "under",
        "eq-or-under",
        "not-under",
        "above",
        "eq-or-above",
        "contain-values",
        "not-contain-values",
        "in-fiscal-year",
        "in-fiscal-period",
        "in-fiscal-period-and-year",
        "in-or-before-fiscal-period-and-year",
        "in-or-after-fiscal-period-and-year",
    }
)
OPERATORS = NO_VALUE_OPERATORS | INTEGER_OPERATORS | VALUE_OPERATORS


def customization_tables() -> list[md.Table]:
    form = md.make_table(
        "systemform",
        "systemforms",
        "name",
        {
            "description": md.MEMO,
            "objecttypecode": md.STRING,  # EntityName: the table's logical name on the Web API
            "type": md.PICKLIST,
            "formxml": md.MEMO,
            "formjson": md.MEMO,
            "formactivationstate": md.PICKLIST,
            "formpresentation": md.PICKLIST,
            "isdefault": md.BOOLEAN,
            "isdesktopenabled": md.BOOLEAN,
            "istabletenabled": md.BOOLEAN,
            "uniquename": md.STRING,
            "version": md.INTEGER,
            "introducedversion": md.STRING,
            "ismanaged": md.BOOLEAN,
            "publishedon": md.DATETIME,
        },
        {"ancestorformid": {"ancestorformid": "systemform"}},
        state=False,
        choices={
            "type": FORM_TYPES,
            "formactivationstate": {0: "Inactive", 1: "Active"},
            "formpresentation": {0: "ClassicForm", 1: "AirForm", 2: "ConvertedICForm"},
        },
        primary_id="formid",
    )
    view = md.make_table(
        "savedquery",
        "savedqueries",
        "name",
        {
            "description": md.MEMO,
            "returnedtypecode": md.STRING,
            "fetchxml": md.MEMO,
            "layoutxml": md.MEMO,
            "layoutjson": md.MEMO,
            "columnsetxml": md.MEMO,
            "querytype": md.INTEGER,
            "isdefault": md.BOOLEAN,
            "isquickfindquery": md.BOOLEAN,
            "iscustom": md.BOOLEAN,
            "ismanaged": md.BOOLEAN,
            "introducedversion": md.STRING,
        },
        choices=md.ACTIVE_INACTIVE,
    )
    for table, read_only in ((form, ("ismanaged", "publishedon")), (view, ("ismanaged", "iscustom"))):
        for name in read_only:
            table.attributes[name].read_only = True
        table.object_type_code = md.STANDARD_OBJECT_TYPE_CODES[table.logical_name]
        table.ownership = "OrganizationOwned"
    return [form, view]


def install(state: EmulatorState) -> None:
    for table in customization_tables():
        state.add_table(table)
    state.before_write.append(_before_write)


def _before_write(
    state: EmulatorState,
    tx: Transaction,
    table: str,
    row_id: str,
    row: dict[str, Any],
    pre: dict[str, Any] | None,
) -> None:
    if not row:
        return  # a delete
    if table == "systemform":
        validate_form(state, row, pre)
    elif table == "savedquery":
        validate_view(state, row, pre)


def parse_xml(text: Any, code: str, what: str) -> ET.Element:
    """Parse XML from a request. A DTD is refused first, so no entity can be declared or expanded."""
    if not isinstance(text, str) or not text.strip():
        raise ODataError(400, f"{what} is required.", code)
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise ODataError(400, f"{what}: a document type declaration is not allowed.", code)
    try:
        return ET.fromstring(text)  # noqa: S314 - DTDs refused above; expat 2.4+ also limits expansion
    except ET.ParseError as exc:
        message = "Malformed FetchXml." if code == INVALID_FETCH_XML else "Invalid XML."
        raise ODataError(400, f"{message} {what}: {exc}", code) from None


def _unchangeable(row: dict[str, Any], pre: dict[str, Any] | None, columns: tuple[str, ...]) -> None:
    for column in columns:
        if pre is not None and row.get(column) != pre.get(column):
            # Assumed: these are IsValidForUpdate False; the emulator refuses rather than ignores.
            raise ODataError(
                400, f"The column {column} cannot be changed once the record exists.", INVALID_ARGUMENT
            )


def _table_named(state: EmulatorState, name: Any) -> md.Table:
    table = state.tables.get(str(name or ""))
    if table is None:
        raise ODataError(400, f"Entity {name} cannot be found.", INVALID_ENTITY)
    return table


# ---- forms --------------------------------------------------------------------------------------------
def validate_form(state: EmulatorState, row: dict[str, Any], pre: dict[str, Any] | None) -> None:
    _unchangeable(row, pre, ("objecttypecode", "type"))
    form_type = row.get("type")
    if pre is None:
        if form_type not in CREATABLE_FORM_TYPES:
            raise ODataError(400, '"Invalid Formtype used in Create call', INVALID_FORM_TYPE)
        for column, default in (("formactivationstate", 1), ("formpresentation", 1), ("isdefault", False)):
            if row.get(column) is None:
                row[column] = default
    if form_type not in RECORD_FORM_TYPES:
        return
    table = _table_named(state, row.get("objecttypecode"))
    root = parse_xml(row.get("formxml"), INVALID_XML, "FormXml")
    if root.tag != "form":
        raise ODataError(400, f"Invalid XML. FormXml must have a <form> root, not <{root.tag}>.", INVALID_XML)
    seen: set[str] = set()
    for control in root.iter("control"):
        control_id = control.get("id") or ""
        if not control_id or control_id.lower() in seen:
            raise ODataError(
                400, f"Invalid XML. Every control needs a unique id ('{control_id}').", INVALID_XML
            )
        seen.add(control_id.lower())
        classid = control.get("classid") or ""
        if not _CLASSID.match(classid):
            raise ODataError(400, f"Invalid XML. Control {control_id} has no valid classid.", INVALID_XML)
        if control.get("indicationOfSubgrid") == "true" or classid.upper() == SUBGRID_CLASSID:
            _validate_subgrid(state, table, control)
            continue
        field = control.get("datafieldname")
        if field and field not in table.attributes:
            raise ODataError(
                400,
                f"The form '{row.get('name')}' refers to the column '{field}', which does not exist on the "
                f"table '{table.logical_name}'.",
                INVALID_ARGUMENT,
            )


def _validate_subgrid(state: EmulatorState, table: md.Table, control: ET.Element) -> None:
    parameters = control.find("parameters")
    if parameters is None:
        raise ODataError(400, f"Invalid XML. Subgrid {control.get('id')} has no <parameters>.", INVALID_XML)
    target = _table_named(state, (parameters.findtext("TargetEntityType") or "").strip())
    relationship_name = (parameters.findtext("RelationshipName") or "").strip()
    if relationship_name:
        relationship = state.relationships.get(relationship_name)
        if (
            relationship is None
            or relationship.referenced_entity != table.logical_name
            or relationship.referencing_entity != target.logical_name
        ):
            raise ODataError(
                400,
                f"The subgrid {control.get('id')} uses the relationship '{relationship_name}', which "
                f"does not relate {table.logical_name} to {target.logical_name}.",
                INVALID_ARGUMENT,
            )
    view_id = (parameters.findtext("ViewId") or "").strip().strip("{}").lower()
    if view_id:
        view = state.rows["savedquery"].get(view_id)
        if view is None or view.get("returnedtypecode") != target.logical_name:
            raise ODataError(400, "The view is not specified or is invalid.", INVALID_VIEW)


# ---- views --------------------------------------------------------------------------------------------
def validate_view(state: EmulatorState, row: dict[str, Any], pre: dict[str, Any] | None) -> None:
    _unchangeable(row, pre, ("returnedtypecode",))
    table = _table_named(state, row.get("returnedtypecode"))
    if pre is None and row.get("querytype") not in (0, None):
        # "SavedQuery.QueryType: Must always be zero (0)" when creating a view (Customize views).
        raise ODataError(400, "A new view must have querytype 0 (public view).", INVALID_ARGUMENT)
    if row.get("querytype") is None:
        row["querytype"] = 0
    fetch = parse_xml(row.get("fetchxml"), INVALID_FETCH_XML, "FetchXml")
    entity = fetch.find("entity")
    if fetch.tag != "fetch" or entity is None:
        raise ODataError(400, "Malformed FetchXml. It needs <fetch><entity name=…>.", INVALID_FETCH_XML)
    if entity.get("name") != table.logical_name:
        raise ODataError(
            400,
            "The entity name specified in fetchxml does not match the entity name specified in the Entity or "
            "Query Expression.",
            ENTITIES_DONT_MATCH,
        )
    aliases: dict[str, md.Table] = {}
    _walk_fetch(state, entity, table, aliases)
    for condition in entity.iter("condition"):
        alias = condition.get("entityname")
        if alias is None:
            continue  # checked against its own entity or link-entity on the walk
        if alias not in aliases:
            raise ODataError(
                400, "The specified alias for the given entity in the condition does not exist.", NO_ALIAS
            )
        _check_attribute(aliases[alias], condition.get("attribute"))
    if row.get("layoutxml"):
        _validate_layout(table, parse_xml(row.get("layoutxml"), INVALID_XML, "LayoutXml"), aliases)


def _check_attribute(table: md.Table, name: str | None) -> None:
    if not name or name not in table.attributes:
        raise ODataError(
            400,
            f"The specified attribute does not exist on this entity. ('{name}' on {table.logical_name})",
            NO_ATTRIBUTE,
        )


def _walk_fetch(
    state: EmulatorState, node: ET.Element, table: md.Table, aliases: dict[str, md.Table]
) -> None:
    for child in node:
        if child.tag in ("attribute", "order"):
            _check_attribute(table, child.get("name") if child.tag == "attribute" else child.get("attribute"))
            if child.tag == "order" and child.get("descending", "false") not in ("true", "false", "1", "0"):
                raise ODataError(
                    400,
                    "The only valid values for descending attribute are 'true', 'false', '1', and '0'.",
                    INVALID_DESCENDING,
                )
        elif child.tag == "filter":
            if child.get("type", "and") not in ("and", "or"):
                raise ODataError(
                    400, "Unsupported filter type. Valid values are 'and', or 'or'.", INVALID_FILTER_TYPE
                )
            _walk_fetch(state, child, table, aliases)
        elif child.tag == "condition":
            _check_condition(child)
            if child.get("entityname") is None:
                _check_attribute(table, child.get("attribute"))
        elif child.tag == "link-entity":
            _check_link(state, child, table, aliases)


def _check_condition(condition: ET.Element) -> None:
    operator = condition.get("operator") or ""
    if operator not in OPERATORS:
        raise ODataError(400, f"Unsupported condition operator. ('{operator}')", INVALID_OPERATOR)
    has_value = (
        condition.get("value") is not None or condition.get("valueof") or condition.find("value") is not None
    )
    if operator in NO_VALUE_OPERATORS:
        return
    if not has_value:
        raise ODataError(
            400, f"Incorrect filter condition or conditions. ({operator} needs a value)", BAD_CONDITION
        )
    if operator in INTEGER_OPERATORS and not str(condition.get("value", "")).isdigit():
        raise ODataError(
            400, f"Invalid value specified for type. ({operator} needs a whole number)", INVALID_VALUE
        )


def _check_link(
    state: EmulatorState, link: ET.Element, table: md.Table, aliases: dict[str, md.Table]
) -> None:
    linked = state.tables.get(link.get("name") or "")
    if linked is None:
        raise ODataError(400, f"The specified entity was not found. ('{link.get('name')}')", NO_ENTITY)
    link_type = link.get("link-type", "inner")
    if link_type not in LINK_TYPES:
        raise ODataError(
            400,
            "The only valid values for link-type attribute are 'natural', 'inner','in','exists',"
            "'matchfirstrowusingcrossapply' and 'outer'.",
            INVALID_LINK_TYPE,
        )
    _check_attribute(linked, link.get("from") or linked.primary_id)
    _check_attribute(table, link.get("to") or table.primary_id)
    alias = link.get("alias") or f"__{id(link)}"
    if alias in aliases:
        raise ODataError(400, "FetchXML should have unique aliases.", DUPLICATE_ALIAS)
    aliases[alias] = linked
    _walk_fetch(state, link, linked, aliases)


def _validate_layout(table: md.Table, grid: ET.Element, aliases: dict[str, md.Table]) -> None:
    row = grid.find("row")
    if grid.tag != "grid" or row is None:
        raise ODataError(400, "Invalid XML. LayoutXml must be <grid><row>…</row></grid>.", INVALID_XML)
    otc = grid.get("object")
    if otc is not None and table.object_type_code is not None and otc != str(table.object_type_code):
        # Assumed: Dataverse ties a layout to its table by type code; a wrong one is refused here.
        raise ODataError(
            400,
            f"LayoutXml object {otc} is not {table.logical_name} ({table.object_type_code}).",
            INVALID_ARGUMENT,
        )
    if row.get("id") not in (None, table.primary_id):
        raise ODataError(
            400, f"LayoutXml row id must be {table.primary_id}, not {row.get('id')}.", NO_ATTRIBUTE
        )
    for cell in row.iter("cell"):
        name = cell.get("name") or ""
        alias, dot, column = name.partition(".")
        if dot and alias not in aliases:
            raise ODataError(
                400, f"The specified alias for the given entity does not exist. ('{alias}')", NO_ALIAS
            )
        _check_attribute(aliases[alias] if dot else table, column if dot else name)


# ---- publishing ---------------------------------------------------------------------------------------
def publish(state: EmulatorState, path: str, body: dict[str, Any]) -> list[str]:
    """PublishXml publishes the tables named in ParameterXml (their forms and views); PublishAllXml all.
    Returns the tables published."""
    if path == "PublishAllXml":
        names = list(state.tables)
    else:
        root = parse_xml(body.get("ParameterXml"), INVALID_XML, "ParameterXml")
        if root.tag != "importexportxml":
            raise ODataError(400, "Invalid XML. ParameterXml must be <importexportxml>.", INVALID_XML)
        names = [(entity.text or "").strip() for entity in root.iterfind("entities/entity")]
        for name in names:
            _table_named(state, name)
    now = datetime.now(UTC)
    with state.lock:
        state.publish_count += 1
        wanted = set(names)
        for form in state.rows["systemform"].values():
            if form.get("objecttypecode") in wanted:
                form["publishedon"] = now
                state.published[f"systemform:{form['formid']}"] = now
        for view in state.rows["savedquery"].values():
            if view.get("returnedtypecode") in wanted:
                state.published[f"savedquery:{view['savedqueryid']}"] = now
    return names

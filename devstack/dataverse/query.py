"""OData query options ($select, $expand, $filter, $orderby, $top, $count) and row → JSON serialisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from devstack.dataverse import metadata as md
from devstack.dataverse.odata_filter import FilterSyntaxError, Predicate, compile_filter
from devstack.dataverse.store import EmulatorState, ODataError, Ref

LOOKUP_ANNOTATION = "@Microsoft.Dynamics.CRM.lookuplogicalname"
FORMATTED = "@OData.Community.Display.V1.FormattedValue"

# System query options the emulator implements. Anything else starting with `$` is refused, as
# Dataverse refuses `$skip` and unknown options ("The query parameter $x is not supported").
SUPPORTED_OPTIONS = frozenset({"$select", "$filter", "$expand", "$orderby", "$top", "$count", "$skiptoken"})
NESTED_OPTIONS = frozenset({"$select", "$filter", "$expand", "$orderby", "$top"})
# Supported by Dataverse but not by the emulator: 501, never a silently ignored option.
NOT_IMPLEMENTED_OPTIONS = {
    "$apply": "aggregation with $apply",
    "$deltatoken": "change tracking ($deltatoken)",
    "fetchXml": "FetchXML queries (fetchXml=)",
    "savedQuery": "system views (savedQuery=)",
    "userQuery": "personal views (userQuery=)",
}
UNSUPPORTED_CODE = "0x80060888"


def check_query_options(raw: dict[str, str], allowed: frozenset[str] = SUPPORTED_OPTIONS) -> None:
    """400 for a system query option Dataverse does not support, 501 for one the emulator lacks."""
    for name in raw:
        if name in NOT_IMPLEMENTED_OPTIONS:
            raise ODataError(
                501,
                f"The Dataverse emulator does not implement {NOT_IMPLEMENTED_OPTIONS[name]}.",
                UNSUPPORTED_CODE,
            )
        if name.startswith("$") and name not in allowed:
            raise ODataError(400, f"The query parameter {name} is not supported", UNSUPPORTED_CODE)


@dataclass
class QueryOptions:
    select: list[str] | None = None
    filter: Predicate | None = None
    filter_text: str | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (path, descending)
    top: int | None = None
    count: bool = False
    expand: dict[str, QueryOptions] = field(default_factory=dict)


def split_top_level(text: str, separator: str) -> list[str]:
    """Split on `separator` outside parentheses and quotes."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == separator and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def parse_options(raw: dict[str, str]) -> QueryOptions:
    options = QueryOptions()
    if raw.get("$select"):
        options.select = [name.strip() for name in raw["$select"].split(",") if name.strip()]
    if raw.get("$filter"):
        try:
            options.filter = compile_filter(raw["$filter"])
        except (FilterSyntaxError, ValueError) as exc:
            raise ODataError(400, f"Invalid $filter: {exc}", "0x80060888") from None
        options.filter_text = raw["$filter"]
    if raw.get("$orderby"):
        for clause in raw["$orderby"].split(","):
            words = clause.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in {"asc", "desc"}):
                raise ODataError(400, f"Invalid $orderby clause '{clause.strip()}'.", UNSUPPORTED_CODE)
            options.orderby.append((words[0], len(words) > 1 and words[1].lower() == "desc"))
    if raw.get("$top"):
        try:
            options.top = int(raw["$top"])
        except ValueError:
            raise ODataError(400, "$top must be an integer.") from None
        if options.top < 0:
            raise ODataError(400, "$top must not be negative.", UNSUPPORTED_CODE)
    count = raw.get("$count", "").lower()
    if count not in {"", "true", "false"}:
        raise ODataError(400, f"Invalid value '{raw['$count']}' for $count.", UNSUPPORTED_CODE)
    options.count = count == "true"
    if raw.get("$expand"):
        for item in split_top_level(raw["$expand"], ","):
            name, _, inner = item.partition("(")
            nested: dict[str, str] = {}
            if inner:
                for option in split_top_level(inner[:-1], ";"):
                    key, _, value = option.partition("=")
                    nested[key.strip()] = value
            check_query_options(nested, NESTED_OPTIONS)
            options.expand[name.strip()] = parse_options(nested)
    return options


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Ref):
        return value.id
    return value


class Serializer:
    """Turns stored rows into OData JSON, applying $select and $expand."""

    def __init__(self, state: EmulatorState, annotations: bool = False) -> None:
        self.state = state
        self.annotations = annotations

    def _selected_columns(self, table: md.Table, select: list[str] | None) -> list[md.Attribute]:
        readable = [attribute for attribute in table.attributes.values() if attribute.readable]
        if select is None:
            return readable
        chosen: list[md.Attribute] = []
        for name in select:
            logical = name[1:-6] if name.startswith("_") and name.endswith("_value") else name
            attribute = table.attributes.get(logical)
            if attribute is None or (attribute.is_lookup and logical == name):
                raise ODataError(
                    400,
                    f"Could not find a property named '{name}' on type "
                    f"'Microsoft.Dynamics.CRM.{table.logical_name}'.",
                    "0x80060888",
                )
            if attribute.readable:
                chosen.append(attribute)
        primary = table.attributes[table.primary_id]
        return chosen if primary in chosen else [primary, *chosen]

    def row(self, table: md.Table, row: dict[str, Any], options: QueryOptions) -> dict[str, Any]:
        body: dict[str, Any] = {"@odata.etag": f'W/"{row.get("versionnumber")}"'}
        for attribute in self._selected_columns(table, options.select):
            value = row.get(attribute.logical_name)
            if attribute.is_lookup:
                key = f"_{attribute.logical_name}_value"
                body[key] = value.id if isinstance(value, Ref) else None
                if self.annotations and isinstance(value, Ref):
                    body[key + LOOKUP_ANNOTATION] = value.table
                    target = self.state.rows[value.table].get(value.id)
                    if target is not None:
                        body[key + FORMATTED] = target.get(self.state.tables[value.table].primary_name)
            else:
                body[attribute.logical_name] = json_value(value)
        for nav_name, nested in options.expand.items():
            body[nav_name] = self.expand(table, row, nav_name, nested)
        return body

    def expand(self, table: md.Table, row: dict[str, Any], nav_name: str, nested: QueryOptions) -> Any:
        single = table.single_navs.get(nav_name)
        if single is not None:
            ref = row.get(single.attribute)
            if not isinstance(ref, Ref) or ref.table != single.target:
                return None
            target_row = self.state.rows[ref.table].get(ref.id)
            return None if target_row is None else self.row(self.state.tables[ref.table], target_row, nested)
        many = table.many_navs.get(nav_name)
        if many is not None:
            row_id = row[table.primary_id]
            target_table = self.state.tables[many.target_table]
            ids = [
                link[many.target_attribute]
                for link in self.state.rows[many.intersect].values()
                if link.get(many.own_attribute) == row_id
            ]
            targets = [
                self.state.rows[many.target_table][i] for i in ids if i in self.state.rows[many.target_table]
            ]
            targets = apply_filter_and_order(self.state, target_table, targets, nested)
            return [self.row(target_table, target, nested) for target in targets]
        collection = table.collection_navs.get(nav_name)
        if collection is None:
            raise ODataError(
                400,
                f"Could not find a property named '{nav_name}' on type "
                f"'Microsoft.Dynamics.CRM.{table.logical_name}'.",
                "0x80060888",
            )
        child_table = self.state.tables[collection.child_table]
        row_id = row[table.primary_id]
        children = [
            child
            for child in self.state.rows[child_table.logical_name].values()
            if isinstance(child.get(collection.child_attribute), Ref)
            and child[collection.child_attribute].id == row_id
        ]
        children = apply_filter_and_order(self.state, child_table, children, nested)
        return [self.row(child_table, child, nested) for child in children]


def resolver_for(state: EmulatorState, table: md.Table, row: dict[str, Any]):  # type: ignore[no-untyped-def]
    def resolve(parts: list[str]) -> Any:
        current_table, current = table, row
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part.startswith("_") and part.endswith("_value"):
                value = current.get(part[1:-6])
                return value.id if isinstance(value, Ref) else None
            nav = current_table.single_navs.get(part)
            if nav is not None and not last:
                ref = current.get(nav.attribute)
                if not isinstance(ref, Ref) or ref.table != nav.target:
                    return None
                current_table = state.tables[nav.target]
                current = state.rows[nav.target].get(ref.id) or {}
                continue
            if part not in current_table.attributes:
                raise ODataError(
                    400,
                    f"Could not find a property named '{part}' on type "
                    f"'Microsoft.Dynamics.CRM.{current_table.logical_name}'.",
                    "0x80060888",
                )
            value = current.get(part)
            return value.id if isinstance(value, Ref) else value
        return None

    return resolve


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value.casefold())
    if isinstance(value, datetime):
        return (1, value.timestamp())
    if isinstance(value, date):
        return (1, value.toordinal())
    return (1, value)


def _probe_columns(state: EmulatorState, table: md.Table, options: QueryOptions) -> None:
    """Resolve every $filter / $orderby column once, so an unknown one is a 400 even with no rows."""
    probe = resolver_for(state, table, {})
    for path, _ in options.orderby:
        probe(path.split("/"))
    if options.filter is not None:
        try:
            options.filter(probe)
        except ODataError:
            raise
        except Exception:  # noqa: S110 - null operands may upset an operator; only unknown names matter
            pass


def apply_filter_and_order(
    state: EmulatorState, table: md.Table, rows: list[dict[str, Any]], options: QueryOptions
) -> list[dict[str, Any]]:
    _probe_columns(state, table, options)
    if options.filter is not None:
        predicate = options.filter
        rows = [row for row in rows if predicate(resolver_for(state, table, row))]
    # Stable order: by primary id first, then by each $orderby clause from last to first.
    rows = sorted(
        rows,
        key=lambda row: (row.get("createdon") or datetime.min.replace(tzinfo=UTC), row[table.primary_id]),
    )
    for path, descending in reversed(options.orderby):
        parts = path.split("/")

        def key(row: dict[str, Any], parts: list[str] = parts) -> tuple[int, Any]:
            return _sort_key(resolver_for(state, table, row)(parts))

        rows.sort(
            key=key,
            reverse=descending,
        )
    return rows

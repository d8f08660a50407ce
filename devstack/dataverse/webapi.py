"""The Web API surface under /api/data/v9.2/: entity sets, EntityDefinitions, actions.

Transport-free: `WebApi.handle(ApiRequest)` returns an `ApiResponse`, so the HTTP app and `$batch`
share one code path.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from devstack.dataverse import customizations, role_messages
from devstack.dataverse import metadata as md
from devstack.dataverse import security as sec
from devstack.dataverse.odata_filter import FilterSyntaxError, compile_filter
from devstack.dataverse.query import (
    UNSUPPORTED_CODE,
    Serializer,
    apply_filter_and_order,
    check_query_options,
    parse_options,
)
from devstack.dataverse.seed import add_message_filters
from devstack.dataverse.store import EmulatorState, ODataError, Ref, Transaction

if TYPE_CHECKING:
    from devstack.dataverse.emulator import Emulator

API_PREFIX = "/api/data/v9.2/"
MAX_PAGE_SIZE = 5000
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_$][\w.$]*)(?:\((?P<key>[^)]*)\))?(?:/(?P<rest>.*))?$")
_KEY_PAIR = re.compile(r"^(\w+)=(?:'((?:[^']|'')*)'|([\w-]+))$")
CRM_NAMESPACE = "Microsoft.Dynamics.CRM."


def _operation_name(segment: str) -> str | None:
    """The message a path segment calls (`CreateMultiple`, `Microsoft.Dynamics.CRM.WinQuote()`), or None.

    Entity sets are lower-case collection names; actions and functions are PascalCase message names,
    optionally namespace-qualified."""
    name = segment.split("(", 1)[0]
    if name.startswith(CRM_NAMESPACE):
        return name[len(CRM_NAMESPACE) :] or None
    return name if name[:1].isupper() else None


def _not_implemented(what: str) -> ODataError:
    return ODataError(501, f"The Dataverse emulator does not implement {what}.", UNSUPPORTED_CODE)


@dataclass
class ApiRequest:
    method: str
    path: str  # after /api/data/v9.2/
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str
    user_id: str = ""  # the systemuser the bearer token belongs to

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body, parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ODataError(400, f"Invalid JSON payload: {exc}", "0x80060891") from None
        if not isinstance(data, dict):
            raise ODataError(400, "The payload must be a JSON object.", "0x80060891")
        return data

    @property
    def prefer(self) -> set[str]:
        return {part.strip() for part in self.headers.get("prefer", "").split(",") if part.strip()}

    def page_size(self) -> int | None:
        for part in self.prefer:
            if part.startswith("odata.maxpagesize="):
                return max(1, min(MAX_PAGE_SIZE, int(part.split("=", 1)[1])))
        return None


@dataclass
class ApiResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> ApiResponse:
        merged = {
            "Content-Type": "application/json; odata.metadata=minimal",
            "OData-Version": "4.0",
            **(headers or {}),
        }
        return cls(status, json.dumps(data, default=str).encode(), merged)

    @classmethod
    def error(cls, error: ODataError) -> ApiResponse:
        return cls.json(
            error.status, {"error": {"code": error.code, "message": error.message}}, error.headers
        )


def _key_value(key: str) -> tuple[str | None, str]:
    """`<guid>` → (None, guid); `LogicalName='x'` → ("LogicalName", "x")."""
    match = _KEY_PAIR.match(key.strip())
    if match is None:
        return None, key.strip().strip("'")
    return match.group(1), (match.group(2) or "").replace("''", "'") if match.group(
        2
    ) is not None else match.group(3)


def _item_resolver(item: dict[str, Any]) -> Callable[[list[str]], Any]:
    return lambda parts: item.get(parts[0])


def _etag(row: dict[str, Any]) -> str:
    return f'W/"{row.get("versionnumber")}"'


class WebApi:
    """Dispatches one Web API request (possibly inside a $batch change set's transaction)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    @property
    def state(self) -> EmulatorState:
        return self.emulator.state

    def handle(self, request: ApiRequest, tx: Transaction | None = None) -> ApiResponse:
        try:
            return self._route(request, tx)
        except ODataError as error:
            return ApiResponse.error(error)

    def _user(self, request: ApiRequest) -> str:
        return request.user_id or self.emulator.app_user_id

    def _route(self, request: ApiRequest, tx: Transaction | None) -> ApiResponse:
        path = request.path.strip("/")
        check_query_options(request.query)
        if "odata.track-changes" in request.headers.get("prefer", ""):
            raise _not_implemented("change tracking (Prefer: odata.track-changes)")
        if path in {"PublishXml", "PublishAllXml"} and request.method == "POST":
            self._require(request, [sec.Need("prvPublishCustomizations")])
            customizations.publish(self.state, path, request.json())
            return ApiResponse(204)
        if path in {"WhoAmI", "WhoAmI()"} and request.method == "GET":
            return ApiResponse.json(
                200,
                {
                    "@odata.context": f"{request.base_url}{API_PREFIX}$metadata#"
                    "Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "BusinessUnitId": self.emulator.identity.business_unit_id,
                    "UserId": self._user(request),
                    "OrganizationId": self.emulator.identity.organization_id,
                },
            )
        if path == "$metadata":
            raise _not_implemented("the CSDL $metadata document")
        match = _SEGMENT.match(path)
        if match is None:
            raise ODataError(404, f"Resource not found for the segment '{path}'.", "0x80060888")
        name, key, rest = match.group("name"), match.group("key"), match.group("rest")
        if name in {"EntityDefinitions", "RelationshipDefinitions", "GlobalOptionSetDefinitions"}:
            self._require(request, sec.metadata_needs(name, request.method, rest))
        if name == "EntityDefinitions":
            return self._entity_definitions(request, key, rest)
        if name == "RelationshipDefinitions":
            return self._relationship_definitions(request, key)
        if name == "GlobalOptionSetDefinitions":
            return self._global_option_sets(request, key, rest)
        if name not in self.state.by_set:
            operation = _operation_name(path)
            if operation is not None:
                raise _not_implemented(f"the {operation} message")
        table = self.state.table_for_set(name)
        if key is None:
            return self._on_collection(request, table, rest, tx)
        return self._on_row(request, table, key, rest, tx)

    def _require(self, request: ApiRequest, needs: list[sec.Need]) -> None:
        self.emulator.security.require(self.state, request, needs)

    def _in_transaction(
        self, request: ApiRequest, tx: Transaction | None, run: Callable[[Transaction], ApiResponse]
    ) -> ApiResponse:
        if tx is not None:
            return run(tx)
        correlation = request.headers.get("x-ms-correlation-request-id")
        with self.state.transaction(correlation, self._user(request)) as own:
            return run(own)

    def _on_collection(
        self, request: ApiRequest, table: md.Table, rest: str | None, tx: Transaction | None
    ) -> ApiResponse:
        if rest:
            if rest == "$count" and request.method == "GET":
                self._require(request, sec.read_needs(self.state, table, parse_options(request.query)))
            return self._collection_segment(request, table, rest)
        if request.method == "GET":
            self._require(request, sec.read_needs(self.state, table, parse_options(request.query)))
            return self._get_collection(request, table)
        if request.method != "POST":
            raise ODataError(405, f"The HTTP method '{request.method}' is not allowed here.", "0x80060888")
        self._require(request, sec.write_needs(self.state, table, "Create", request.json()))
        return self._in_transaction(request, tx, lambda t: self._create(request, table, t))

    def _on_row(
        self, request: ApiRequest, table: md.Table, key: str, rest: str | None, tx: Transaction | None
    ) -> ApiResponse:
        row_id = self._find_id(table, key)
        if rest:
            return self._row_segment(request, table, row_id, rest, tx)
        if request.method == "GET":
            self._require(request, sec.read_needs(self.state, table, parse_options(request.query)))
            return self._get_row(request, table, row_id)
        if request.method == "PATCH":
            exists = row_id is not None and row_id in self.state.rows[table.logical_name]
            right = "Write" if exists or request.headers.get("if-match") else "Create"
            self._require(request, sec.write_needs(self.state, table, right, request.json()))
            return self._in_transaction(request, tx, lambda t: self._patch(request, table, key, row_id, t))
        if request.method == "DELETE":
            self._require(request, sec.write_needs(self.state, table, "Delete", {}))
            return self._in_transaction(request, tx, lambda t: self._delete(request, table, row_id, t))
        raise ODataError(405, f"The HTTP method '{request.method}' is not allowed here.", "0x80060888")

    def _row_segment(
        self, request: ApiRequest, table: md.Table, row_id: str | None, rest: str, tx: Transaction | None
    ) -> ApiResponse:
        """A message bound to a row, a navigation property, or `nav/$ref` of a many-to-many one."""
        operation = _operation_name(rest)
        if operation in sec.ROLE_OPERATIONS and table.logical_name == "role" and row_id is not None:
            right = "Read" if operation == "RetrieveRolePrivilegesRole" else "Write"
            self._require(request, [sec.table_need(self.state, "role", right)])
            role_id = row_id
            return self._in_transaction(
                request,
                tx,
                lambda t: role_messages.role_operation(self.state, request, t, role_id, operation),
            )
        if operation is not None:
            raise _not_implemented(f"the {operation} message bound to {table.entity_set}")
        nav_path = rest.removesuffix("/$ref")
        if rest.endswith("$ref") and nav_path.split("(", 1)[0] in table.many_navs and row_id is not None:
            self._require(
                request, [sec.table_need(self.state, table.logical_name, "Write"), sec.Need("prvAssignRole")]
            )
            own_id = row_id
            return self._in_transaction(
                request,
                tx,
                lambda t: role_messages.associate(self.state, request, t, table, own_id, nav_path),
            )
        if rest.endswith("$ref") or "/$ref" in rest:
            raise _not_implemented("associating records through $ref")
        if request.method != "GET":
            raise ODataError(405, "Only GET is supported on navigation properties here.", "0x80060888")
        target = sec.nav_target(table, rest.split("(", 1)[0])
        needs = [sec.table_need(self.state, table.logical_name, "Read")]
        if target is not None:
            needs += sec.read_needs(self.state, self.state.tables[target], parse_options(request.query))
        self._require(request, needs)
        return self._get_navigation(request, table, row_id, rest)

    def _collection_segment(self, request: ApiRequest, table: md.Table, rest: str) -> ApiResponse:
        """`invoices/$count`, or a message bound to the entity set (`invoices/Microsoft.Dynamics.CRM.X`)."""
        operation = _operation_name(rest)
        if operation is not None:
            # CreateMultiple / UpdateMultiple / UpsertMultiple and the like: never a plain create.
            raise _not_implemented(f"the {operation} message bound to {table.entity_set}")
        if rest == "$count" and request.method == "GET":
            options = parse_options(request.query)
            with self.state.lock:
                rows = apply_filter_and_order(
                    self.state, table, list(self.state.rows[table.logical_name].values()), options
                )
            return ApiResponse(200, str(min(len(rows), 5000)).encode(), {"Content-Type": "text/plain"})
        raise ODataError(404, f"Resource not found for the segment '{rest}'.", "0x80060888")

    # ---- rows ---------------------------------------------------------------------------------
    def _find_id(self, table: md.Table, key: str) -> str | None:
        column, value = _key_value(key)
        if column is None or column == table.primary_id:
            try:
                return str(uuid.UUID(value))
            except ValueError:
                raise ODataError(400, f"Invalid key '{key}'.", "0x80060888") from None
        attribute = table.attributes.get(column)
        if attribute is None:
            raise ODataError(400, f"'{column}' is not a key of {table.logical_name}.", "0x80060888")
        for row_id, row in self.state.rows[table.logical_name].items():
            if str(row.get(column) or "").casefold() == value.casefold():
                return row_id
        return None  # alternate key with no row: an upsert may create it

    def _serializer(self, request: ApiRequest) -> Serializer:
        annotations = "odata.include-annotations" in request.headers.get("prefer", "")
        return Serializer(self.state, annotations)

    def _context(self, request: ApiRequest, table: md.Table, suffix: str = "") -> str:
        return f"{request.base_url}{API_PREFIX}$metadata#{table.entity_set}{suffix}"

    def _get_collection(self, request: ApiRequest, table: md.Table) -> ApiResponse:
        options = parse_options(request.query)
        with self.state.lock:
            rows = apply_filter_and_order(
                self.state, table, list(self.state.rows[table.logical_name].values()), options
            )
            page_size = request.page_size()
            if options.top is not None and page_size is None:
                rows = rows[: options.top]
            start = 0
            if request.query.get("$skiptoken"):
                try:
                    start = int(json.loads(base64.urlsafe_b64decode(request.query["$skiptoken"]))["offset"])
                except (ValueError, KeyError, TypeError):
                    raise ODataError(400, "Invalid $skiptoken.", "0x80060888") from None
            size = page_size or MAX_PAGE_SIZE
            page = rows[start : start + size]
            serializer = self._serializer(request)
            body: dict[str, Any] = {"@odata.context": self._context(request, table)}
            if options.count:
                body["@odata.count"] = min(len(rows), 5000)
            body["value"] = [serializer.row(table, row, options) for row in page]
        headers = {"Preference-Applied": f"odata.maxpagesize={page_size}"} if page_size else {}
        if start + size < len(rows):
            token = base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode()
            query = {key: value for key, value in request.query.items() if key != "$skiptoken"}
            query["$skiptoken"] = token
            body["@odata.nextLink"] = (
                f"{request.base_url}{API_PREFIX}{table.entity_set}?"
                f"{urlencode(query, quote_via=quote, safe='$,()')}"
            )
        return ApiResponse.json(200, body, headers)

    def _get_row(self, request: ApiRequest, table: md.Table, row_id: str | None) -> ApiResponse:
        options = parse_options(request.query)
        with self.state.lock:
            row = self.state.get(table.logical_name, row_id or "00000000-0000-0000-0000-000000000000")
            if not options.expand and request.headers.get("if-none-match") == _etag(row):
                return ApiResponse(304)
            body = {"@odata.context": self._context(request, table, "/$entity")}
            body.update(self._serializer(request).row(table, row, options))
        return ApiResponse.json(200, body, {"ETag": _etag(row)})

    def _get_navigation(
        self, request: ApiRequest, table: md.Table, row_id: str | None, nav: str
    ) -> ApiResponse:
        options = parse_options(request.query)
        with self.state.lock:
            row = self.state.get(table.logical_name, row_id or "")
            value = self._serializer(request).expand(table, row, nav, options)
        if isinstance(value, list):
            return ApiResponse.json(200, {"value": value})
        if value is None:
            return ApiResponse(204)
        return ApiResponse.json(200, value)

    def _entity_id_header(self, request: ApiRequest, table: md.Table, row_id: str) -> dict[str, str]:
        return {"OData-EntityId": f"{request.base_url}{API_PREFIX}{table.entity_set}({row_id})"}

    def _written(self, request: ApiRequest, table: md.Table, row_id: str, status: int) -> ApiResponse:
        row = self.state.get(table.logical_name, row_id)
        headers = {**self._entity_id_header(request, table, row_id), "ETag": _etag(row)}
        if "return=representation" in request.prefer:
            body = {"@odata.context": self._context(request, table, "/$entity")}
            body.update(self._serializer(request).row(table, row, parse_options(request.query)))
            return ApiResponse.json(status, body, headers)
        return ApiResponse(204, headers=headers)

    def create_from_body(self, tx: Transaction, table: md.Table, body: dict[str, Any]) -> str:
        """Create a row, with deep insert of collection-valued navigation properties."""
        nested = {
            key: body.pop(key)
            for key in list(body)
            if key in table.collection_navs and isinstance(body[key], list)
        }
        row_id = self.state.create(tx, table.logical_name, self.state.changes_from_body(tx, table, body))
        for nav_name, children in nested.items():
            nav = table.collection_navs[nav_name]
            child_table = self.state.tables[nav.child_table]
            for child in children:
                child_changes = self.state.changes_from_body(tx, child_table, dict(child))
                child_changes[nav.child_attribute] = Ref(table.logical_name, row_id)
                self.state.create(tx, child_table.logical_name, child_changes)
        return row_id

    def _create(self, request: ApiRequest, table: md.Table, tx: Transaction) -> ApiResponse:
        row_id = self.create_from_body(tx, table, request.json())
        if table.logical_name in {"systemform", "savedquery", "role"}:
            self._solution_component(request, table.logical_name, row_id)
        content_id = request.headers.get("content-id")
        if content_id:
            tx.content_ids[content_id] = (table.logical_name, row_id)
        return self._written(request, table, row_id, 201)

    def _check_if_match(self, request: ApiRequest, row: dict[str, Any]) -> None:
        expected = request.headers.get("if-match")
        if expected and expected != "*" and expected != _etag(row):
            raise ODataError(
                412,
                "The version of the existing record doesn't match the RowVersion property provided.",
                "0x80060882",
            )

    def _patch(
        self, request: ApiRequest, table: md.Table, key: str, row_id: str | None, tx: Transaction
    ) -> ApiResponse:
        body = request.json()
        existing = self.state.rows[table.logical_name].get(row_id) if row_id else None
        if existing is None:
            if request.headers.get("if-match"):
                raise ODataError(
                    404, f"{table.logical_name} With Id = {row_id or key} Does Not Exist", "0x80040217"
                )
            column, value = _key_value(key)
            if column is not None and column != table.primary_id:
                body.setdefault(column, value)
            elif row_id:
                body[table.primary_id] = row_id
            new_id = self.create_from_body(tx, table, body)
            return self._written(request, table, new_id, 201)
        if request.headers.get("if-none-match") == "*":
            raise ODataError(412, "A record with matching key values already exists.", "0x80040237")
        self._check_if_match(request, existing)
        changes = self.state.changes_from_body(tx, table, body)
        changes.pop(table.primary_id, None)
        self.state.update_split(tx, table.logical_name, existing[table.primary_id], changes)
        return self._written(request, table, existing[table.primary_id], 200)

    def _delete(
        self, request: ApiRequest, table: md.Table, row_id: str | None, tx: Transaction
    ) -> ApiResponse:
        row = self.state.get(table.logical_name, row_id or "")
        self._check_if_match(request, row)
        self.state.delete(tx, table.logical_name, row[table.primary_id])
        return ApiResponse(204)

    # ---- metadata -----------------------------------------------------------------------------
    def _metadata_list(self, request: ApiRequest, items: list[dict[str, Any]], context: str) -> ApiResponse:
        if request.query.get("$filter"):
            try:
                predicate = compile_filter(request.query["$filter"])
            except (FilterSyntaxError, ValueError) as exc:
                raise ODataError(400, f"Invalid $filter: {exc}", "0x80060888") from None
            items = [item for item in items if predicate(_item_resolver(item))]
        if request.query.get("$select"):
            keep = {"MetadataId", *[name.strip() for name in request.query["$select"].split(",")]}
            items = [{key: value for key, value in item.items() if key in keep} for item in items]
        return ApiResponse.json(
            200, {"@odata.context": f"{request.base_url}{API_PREFIX}$metadata#{context}", "value": items}
        )

    def _table_by_key(self, key: str) -> md.Table:
        column, value = _key_value(key)
        for table in self.state.tables.values():
            if (column == "LogicalName" and table.logical_name == value) or (
                column is None and table.metadata_id == value
            ):
                return table
        raise ODataError(404, f"Could not find entity with key '{key}'.", "0x80060888")

    def _entity_definitions(self, request: ApiRequest, key: str | None, rest: str | None) -> ApiResponse:
        if key is None:
            if request.method == "GET":
                items = [table.to_metadata() for table in self.state.tables.values()]
                return self._metadata_list(request, items, "EntityDefinitions")
            if request.method == "POST":
                return self._create_table(request)
            raise ODataError(405, "Method not allowed.", "0x80060888")
        table = self._table_by_key(key)
        if not rest:
            if request.method == "GET":
                body = table.to_metadata()
                if "Attributes" in request.query.get("$expand", ""):
                    body["Attributes"] = [
                        a.to_metadata(table.logical_name) for a in table.attributes.values()
                    ]
                return ApiResponse.json(200, body)
            if request.method == "PUT":
                table.definition.update(request.json())
                return ApiResponse(204)
            raise ODataError(405, "Method not allowed.", "0x80060888")
        segment = _SEGMENT.match(rest)
        if segment is None or segment.group("name") != "Attributes":
            raise ODataError(404, f"Resource not found for the segment '{rest}'.", "0x80060888")
        attribute_key, cast = segment.group("key"), segment.group("rest")
        if attribute_key is None:
            attributes = list(table.attributes.values())
            if cast:
                cast_type = self._cast_type(cast)
                attributes = [a for a in attributes if md.metadata_type(a.kind) == cast_type]
            if request.method == "GET":
                items = [self._attribute_metadata(request, table, a, bool(cast)) for a in attributes]
                return self._metadata_list(
                    request, items, f"EntityDefinitions('{table.logical_name}')/Attributes"
                )
            if request.method == "POST" and not cast:
                return self._create_attribute(request, table)
            raise ODataError(405, "Method not allowed.", "0x80060888")
        _, name = _key_value(attribute_key)
        attribute = table.attributes.get(name) or next(
            (a for a in table.attributes.values() if a.metadata_id == name), None
        )
        if attribute is None:
            raise ODataError(404, f"Could not find attribute '{name}' on {table.logical_name}.", "0x80060888")
        if cast and self._cast_type(cast) != md.metadata_type(attribute.kind):
            raise ODataError(
                400,
                f"Attribute '{name}' is a {md.metadata_type(attribute.kind)}, not a {self._cast_type(cast)}.",
                "0x80060888",
            )
        if request.method == "PUT":
            update = request.json()
            attribute.definition.update(update)
            if attribute.kind == md.BOOLEAN and "DefaultValue" in update:
                attribute.default = self._boolean_default(update)
            return ApiResponse(204)
        if request.method != "GET":
            raise ODataError(405, "Method not allowed.", "0x80060888")
        return ApiResponse.json(200, self._attribute_metadata(request, table, attribute, bool(cast)))

    @staticmethod
    def _cast_type(cast: str) -> str:
        if not cast.startswith(CRM_NAMESPACE) or "/" in cast:
            raise ODataError(404, f"Resource not found for the segment '{cast}'.", "0x80060888")
        return cast[len(CRM_NAMESPACE) :]

    def _attribute_metadata(
        self, request: ApiRequest, table: md.Table, attribute: md.Attribute, cast: bool
    ) -> dict[str, Any]:
        """An attribute's definition; after a type cast, `$expand=OptionSet` / `GlobalOptionSet` too."""
        body = attribute.to_metadata(table.logical_name)
        expand = {item.strip() for item in request.query.get("$expand", "").split(",") if item.strip()}
        if not cast or not expand:
            return body
        option_set = self.state.options_of(attribute)
        if attribute.kind == md.BOOLEAN and "OptionSet" in expand:
            body["OptionSet"] = attribute.definition.get("OptionSet") or {
                "OptionSetType": "Boolean",
                "TrueOption": {"Value": 1, "Label": md.label_body("Yes")},
                "FalseOption": {"Value": 0, "Label": md.label_body("No")},
            }
        elif "OptionSet" in expand:
            local = attribute.option_set if attribute.global_option_set is None else None
            body["OptionSet"] = local.to_metadata() if local else None
        if "GlobalOptionSet" in expand:
            global_set = option_set if attribute.global_option_set is not None else None
            body["GlobalOptionSet"] = global_set.to_metadata() if global_set else None
        return body

    def _solution_component(self, request: ApiRequest, kind: str, name: str) -> None:
        solution = request.headers.get("mscrm.solutionuniquename")
        if solution:
            self.emulator.solution_components.setdefault(solution, []).append((kind, name))

    def _create_table(self, request: ApiRequest) -> ApiResponse:
        body = request.json()
        schema = str(body.get("SchemaName") or "")
        if not schema or "_" not in schema:
            raise ODataError(
                400, "SchemaName must include the publisher prefix, e.g. new_Thing.", "0x80044355"
            )
        logical = schema.lower()
        with self.state.lock:
            if logical in self.state.tables:
                raise ODataError(
                    400, f"An entity with the specified name {logical} already exists.", "0x80044363"
                )
            primary = next((a for a in body.get("Attributes", []) if a.get("IsPrimaryName")), None)
            if primary is None:
                raise ODataError(
                    400,
                    "A new table needs a primary name StringAttributeMetadata (IsPrimaryName).",
                    "0x80044355",
                )
            entity_set = str(body.get("EntitySetName") or md.default_entity_set(logical))
            if entity_set in self.state.by_set:
                raise ODataError(400, f"The entity set name {entity_set} is already in use.", "0x80044363")
            table = md.Table(
                logical,
                entity_set,
                f"{logical}id",
                str(primary["SchemaName"]).lower(),
                schema_name=schema,
                is_custom=True,
                definition=body,
            )
            table.add(md.Attribute(table.primary_id, md.UNIQUEID, schema_name=f"{schema}Id", read_only=True))
            for name, kind in {
                "createdon": md.DATETIME,
                "modifiedon": md.DATETIME,
                "versionnumber": md.BIGINT,
                "statecode": md.STATE,
                "statuscode": md.STATUS,
            }.items():
                table.add(md.Attribute(name, kind, read_only=name not in {"statecode", "statuscode"}))
            # Every new table gets the Active/Inactive state and status choices.
            table.attributes["statecode"].option_set = md.local_options(
                logical, "statecode", md.ACTIVE_INACTIVE_STATES, "State"
            )
            table.attributes["statuscode"].option_set = md.local_options(
                logical, "statuscode", md.ACTIVE_INACTIVE_STATUSES, "Status"
            )
            for attribute_body in body.get("Attributes", []):
                table.add(self._attribute_from_body(attribute_body, logical))
            custom_codes = [t.object_type_code or 0 for t in self.state.tables.values() if t.is_custom]
            table.object_type_code = max([md.FIRST_CUSTOM_OBJECT_TYPE_CODE - 1, *custom_codes]) + 1
            ownership = str(body.get("OwnershipType") or "UserOwned")
            if ownership not in {"UserOwned", "OrganizationOwned"}:
                raise ODataError(
                    400, f"OwnershipType {ownership} is not valid for a new table.", "0x80044355"
                )
            table.ownership = ownership
            self.state.add_table(table)
            add_message_filters(self.state, logical)
            sec.add_table_privileges(self.state, table)
        self._solution_component(request, "entity", logical)
        headers = {"OData-EntityId": f"{request.base_url}{API_PREFIX}EntityDefinitions({table.metadata_id})"}
        return ApiResponse(204, headers=headers)

    def _attribute_from_body(self, body: dict[str, Any], entity: str) -> md.Attribute:
        odata_type = str(body.get("@odata.type", "")).rsplit(".", 1)[-1]
        kind = md.KIND_BY_METADATA_TYPE.get(odata_type)
        if kind is None:
            raise ODataError(
                400,
                f"Unsupported attribute type '{odata_type}'. Lookups are created with "
                "RelationshipDefinitions.",
                "0x80044355",
            )
        if kind == md.DATETIME and body.get("Format") == "DateOnly":
            kind = md.DATEONLY
        schema = str(body.get("SchemaName") or "")
        if not schema:
            raise ODataError(400, "SchemaName is required.", "0x80044355")
        attribute = md.Attribute(schema.lower(), kind, schema_name=schema, is_custom=True, definition=body)
        if kind == md.PICKLIST:
            self._attach_options(attribute, body, entity)
        elif kind == md.BOOLEAN:
            attribute.default = self._boolean_default(body)
        return attribute

    @staticmethod
    def _boolean_default(body: dict[str, Any]) -> bool:
        # Assumed: a two-option column defined without DefaultValue defaults to false (No).
        default = body.get("DefaultValue", False)
        if not isinstance(default, bool):
            raise ODataError(
                400, "DefaultValue of a BooleanAttributeMetadata must be true or false.", "0x80044355"
            )
        return default

    def _attach_options(self, attribute: md.Attribute, body: dict[str, Any], entity: str) -> None:
        """A local OptionSet, or a global one bound by `GlobalOptionSet@odata.bind`."""
        bind = body.get("GlobalOptionSet@odata.bind")
        option_set = body.get("OptionSet")
        if bind:
            attribute.global_option_set = self._global_option_set(str(bind).rsplit("/", 1)[-1]).name
            return
        if not isinstance(option_set, dict):
            raise ODataError(
                400,
                f"The choice column {attribute.logical_name} needs an OptionSet or a "
                "GlobalOptionSet@odata.bind.",
                "0x80044355",
            )
        if option_set.get("IsGlobal"):
            # Seen refused on real orgs: a global choice is bound with GlobalOptionSet@odata.bind [3p].
            raise ODataError(
                400,
                f"The choice column {attribute.logical_name} refers to a global option set inline; bind it "
                "with GlobalOptionSet@odata.bind.",
                "0x80048403",
            )
        try:
            options = md.options_from_body(option_set)
        except ValueError as exc:
            raise ODataError(
                400, f"Invalid OptionSet for {attribute.logical_name}: {exc}", "0x80044355"
            ) from None
        attribute.option_set = md.OptionSet(
            str(option_set.get("Name") or f"{entity}_{attribute.logical_name}"),
            options,
            definition=option_set,
        )

    def _global_option_set(self, reference: str) -> md.OptionSet:
        """`GlobalOptionSetDefinitions(<id>)` or `GlobalOptionSetDefinitions(Name='x')` → the option set."""
        match = _SEGMENT.match(reference.strip().lstrip("/"))
        key = match.group("key") if match and match.group("name") == "GlobalOptionSetDefinitions" else None
        if key is None:
            raise ODataError(400, f"Invalid global option set reference '{reference}'.", "0x80060888")
        column, value = _key_value(key)
        for option_set in self.state.global_option_sets.values():
            if (column == "Name" and option_set.name == value.lower()) or (
                column is None and option_set.metadata_id == value
            ):
                return option_set
        raise ODataError(404, f"Could not find a global option set with key '{key}'.", "0x80060888")

    def _global_option_sets(self, request: ApiRequest, key: str | None, rest: str | None) -> ApiResponse:
        if rest:
            operation = _operation_name(rest)
            raise _not_implemented(f"the {operation or rest} operation on global option sets")
        if key is not None:
            if request.method != "GET":
                raise ODataError(405, "Method not allowed.", "0x80060888")
            return ApiResponse.json(
                200, self._global_option_set(f"GlobalOptionSetDefinitions({key})").to_metadata()
            )
        if request.method == "GET":
            items = [option_set.to_metadata() for option_set in self.state.global_option_sets.values()]
            return self._metadata_list(request, items, "GlobalOptionSetDefinitions")
        if request.method != "POST":
            raise ODataError(405, "Method not allowed.", "0x80060888")
        body = request.json()
        name = str(body.get("Name") or "")
        if "_" not in name:
            raise ODataError(400, "Name must include the publisher prefix, e.g. new_colors.", "0x80044355")
        try:
            options = md.options_from_body(body)
        except ValueError as exc:
            raise ODataError(400, f"Invalid option set {name}: {exc}", "0x80044355") from None
        with self.state.lock:
            if name.lower() in self.state.global_option_sets:
                raise ODataError(400, f"An option set named {name} already exists.", "0x80044363")
            option_set = md.OptionSet(
                name.lower(), options, True, str(body.get("OptionSetType") or "Picklist"), body
            )
            self.state.global_option_sets[option_set.name] = option_set
        self._solution_component(request, "optionset", option_set.name)
        entity_id = f"GlobalOptionSetDefinitions({option_set.metadata_id})"
        headers = {"OData-EntityId": f"{request.base_url}{API_PREFIX}{entity_id}"}
        return ApiResponse(204, headers=headers)

    def _create_attribute(self, request: ApiRequest, table: md.Table) -> ApiResponse:
        attribute = self._attribute_from_body(request.json(), table.logical_name)
        with self.state.lock:
            if attribute.logical_name in table.attributes:
                raise ODataError(
                    400,
                    f"An attribute named {attribute.logical_name} already exists on {table.logical_name}.",
                    "0x80044363",
                )
            table.add(attribute)
            for row in self.state.rows[table.logical_name].values():
                row.setdefault(attribute.logical_name, None)
        self._solution_component(request, "attribute", f"{table.logical_name}.{attribute.logical_name}")
        headers = {
            "OData-EntityId": f"{request.base_url}{API_PREFIX}EntityDefinitions({table.metadata_id})"
            f"/Attributes({attribute.metadata_id})"
        }
        return ApiResponse(204, headers=headers)

    def _relationship_definitions(self, request: ApiRequest, key: str | None) -> ApiResponse:
        if request.method == "GET":
            items = [relationship.to_metadata() for relationship in self.state.relationships.values()]
            if key is not None:
                _, value = _key_value(key)
                found = [item for item in items if value in (item["SchemaName"], item["MetadataId"])]
                if not found:
                    raise ODataError(404, f"Could not find relationship '{value}'.", "0x80060888")
                return ApiResponse.json(200, found[0])
            return self._metadata_list(request, items, "RelationshipDefinitions")
        if request.method != "POST" or key is not None:
            raise ODataError(405, "Method not allowed.", "0x80060888")
        body = request.json()
        if not str(body.get("@odata.type", "")).endswith("OneToManyRelationshipMetadata"):
            raise ODataError(
                400, "Only OneToManyRelationshipMetadata is supported by the emulator.", "0x80044355"
            )
        schema = str(body.get("SchemaName") or "")
        lookup = body.get("Lookup") or {}
        with self.state.lock:
            if schema in self.state.relationships:
                raise ODataError(400, f"A relationship named {schema} already exists.", "0x80044363")
            parent = self.state.table(str(body.get("ReferencedEntity")))
            child = self.state.table(str(body.get("ReferencingEntity")))
            lookup_schema = str(lookup.get("SchemaName") or "")
            if not lookup_schema:
                raise ODataError(400, "Lookup.SchemaName is required.", "0x80044355")
            logical = lookup_schema.lower()
            if logical in child.attributes:
                raise ODataError(
                    400, f"An attribute named {logical} already exists on {child.logical_name}.", "0x80044363"
                )
            child.add(
                md.Attribute(
                    logical,
                    md.LOOKUP,
                    schema_name=lookup_schema,
                    targets=(parent.logical_name,),
                    is_custom=True,
                    definition=lookup,
                )
            )
            single = str(body.get("ReferencingEntityNavigationPropertyName") or lookup_schema)
            child.single_navs[single] = md.SingleNavigation(single, logical, parent.logical_name)
            collection = str(body.get("ReferencedEntityNavigationPropertyName") or schema)
            parent.collection_navs[collection] = md.CollectionNavigation(
                collection, child.logical_name, logical
            )
            cascade = str((body.get("CascadeConfiguration") or {}).get("Delete") or "RemoveLink")
            relationship = md.Relationship(
                schema, parent.logical_name, child.logical_name, logical, cascade, body
            )
            self.state.relationships[schema] = relationship
            for row in self.state.rows[child.logical_name].values():
                row.setdefault(logical, None)
        self._solution_component(request, "relationship", schema)
        headers = {
            "OData-EntityId": f"{request.base_url}{API_PREFIX}"
            f"RelationshipDefinitions({relationship.metadata_id})"
        }
        return ApiResponse(204, headers=headers)

"""The emulator's in-memory data: tables, rows, versions, and write operations with an undo log.

Every write goes through a `Transaction`, which records what to undo on failure and which events
(Create/Update/Delete/SetState…) to hand to the webhook dispatcher once it commits.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from devstack.dataverse import metadata as md
from devstack.dataverse.odata_filter import parse_datetime

STATE_COLUMNS = ("statecode", "statuscode")
# Dataverse's code for a choice value outside its option set (seen in captured responses, [3p]).
OUT_OF_RANGE_CODE = "0x8004431a"


class ODataError(Exception):
    """An error the Web API reports as `{"error": {"code", "message"}}` with an HTTP status."""

    def __init__(
        self, status: int, message: str, code: str = "0x80040265", headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


@dataclass(frozen=True)
class Ref:
    """A lookup value: which table and which row."""

    table: str
    id: str


@dataclass
class Event:
    """One platform operation a webhook step can be registered on."""

    message: str
    table: str
    id: str
    pre: dict[str, Any] | None
    post: dict[str, Any] | None
    target: dict[str, Any]
    correlation_id: str
    user_id: str
    inputs: dict[str, Any] = field(default_factory=dict)
    depth: int = 1
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def coerce(attribute: md.Attribute, raw: Any) -> Any:
    """Convert a JSON value to the stored Python value; ODataError 400 when it does not fit."""
    if raw is None:
        return None
    try:
        kind = attribute.kind
        if kind in {md.STRING, md.MEMO}:
            if not isinstance(raw, str):
                raise TypeError
            return raw
        if kind in {md.INTEGER, md.BIGINT, md.PICKLIST, md.STATE, md.STATUS}:
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise TypeError
            return raw
        if kind in {md.DECIMAL, md.MONEY}:
            if isinstance(raw, bool):
                raise TypeError
            return Decimal(str(raw))
        if kind == md.BOOLEAN:
            if not isinstance(raw, bool):
                raise TypeError
            return raw
        if kind == md.DATETIME:
            return parse_datetime(str(raw))
        if kind == md.DATEONLY:
            return date.fromisoformat(str(raw)[:10])
        if kind == md.UNIQUEID:
            return str(uuid.UUID(str(raw)))
    except (TypeError, ValueError, InvalidOperation):
        pass
    raise ODataError(
        400,
        f"Cannot convert the literal '{raw}' to the expected type '{attribute.kind}' "
        f"of '{attribute.logical_name}'.",
    )


class Transaction:
    """Collects undo steps and events; `EmulatorState.transaction()` commits or rolls back."""

    def __init__(self, state: EmulatorState, correlation_id: str, user_id: str) -> None:
        self.state = state
        self.correlation_id = correlation_id
        self.user_id = user_id
        self.events: list[Event] = []
        self.undo: list[Callable[[], None]] = []
        self.content_ids: dict[str, tuple[str, str]] = {}  # $batch Content-ID → (table, id)

    def remember(self, table: str, row_id: str) -> None:
        rows = self.state.rows[table]
        old = copy.deepcopy(rows.get(row_id))

        def restore() -> None:
            if old is None:
                rows.pop(row_id, None)
            else:
                rows[row_id] = old

        self.undo.append(restore)

    def emit(
        self,
        message: str,
        table: str,
        row_id: str,
        pre: dict[str, Any] | None,
        target: dict[str, Any],
        inputs: dict[str, Any] | None = None,
    ) -> None:
        post = copy.deepcopy(self.state.rows[table].get(row_id))
        self.events.append(
            Event(message, table, row_id, pre, post, target, self.correlation_id, self.user_id, inputs or {})
        )


Hook = Callable[["EmulatorState", Transaction, str, str, dict[str, Any], dict[str, Any] | None], None]


class EmulatorState:
    """Tables, rows and the bookkeeping around them. Guarded by one re-entrant lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, md.Table] = {}
        self.by_set: dict[str, md.Table] = {}
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        self.relationships: dict[str, md.Relationship] = {}
        self.global_option_sets: dict[str, md.OptionSet] = {}
        self.version = 1000
        self.before_write: list[Hook] = []
        self.after_write: list[Hook] = []
        self.after_commit: list[Callable[[list[Event]], None]] = []
        self.publish_count = 0
        # "systemform:<id>" / "savedquery:<id>" → when PublishXml last published it
        self.published: dict[str, datetime] = {}
        for table in md.standard_tables():
            self.add_table(table)
        for parent, child, column in md.STANDARD_CASCADES:
            name = next(
                (
                    nav.name
                    for nav in self.tables[parent].collection_navs.values()
                    if nav.child_table == child and nav.child_attribute == column
                ),
                f"{parent}_{child}_{column}",
            )
            self.relationships[name] = md.Relationship(name, parent, child, column, "Cascade")

    # ---- tables -------------------------------------------------------------------------------
    def add_table(self, table: md.Table) -> None:
        self.tables[table.logical_name] = table
        self.by_set[table.entity_set] = table
        self.rows.setdefault(table.logical_name, {})

    def table(self, logical_name: str) -> md.Table:
        try:
            return self.tables[logical_name]
        except KeyError:
            raise ODataError(404, f"Could not find a table with logical name '{logical_name}'.") from None

    def table_for_set(self, entity_set: str) -> md.Table:
        try:
            return self.by_set[entity_set]
        except KeyError:
            raise ODataError(
                404, f"Resource not found for the segment '{entity_set}'.", "0x80060888"
            ) from None

    def options_of(self, attribute: md.Attribute) -> md.OptionSet | None:
        if attribute.global_option_set is not None:
            return self.global_option_sets.get(attribute.global_option_set)
        return attribute.option_set

    def check_choices(self, table: md.Table, changes: dict[str, Any]) -> None:
        """A choice value outside the column's option set is refused, as Dataverse's validation does."""
        for column, value in changes.items():
            attribute = table.attributes.get(column)
            if attribute is None or value is None or attribute.kind not in md.CHOICE_KINDS:
                continue
            option_set = self.options_of(attribute)
            if option_set is None or value in option_set.options:
                continue
            accepted = ",".join(str(option) for option in option_set.options)
            raise ODataError(
                400,
                f"A validation error occurred. The value {value} of '{column}' on record of type "
                f"'{table.logical_name}' is outside the valid range. Accepted Values: {accepted}",
                OUT_OF_RANGE_CODE,
            )

    # ---- rows ---------------------------------------------------------------------------------
    def get(self, table: str, row_id: str) -> dict[str, Any]:
        row = self.rows[table].get(row_id.lower())
        if row is None:
            raise ODataError(404, f"{table} With Id = {row_id} Does Not Exist", "0x80040217")
        return row

    def next_version(self) -> int:
        self.version += 1
        return self.version

    @contextmanager
    def transaction(self, correlation_id: str | None = None, user_id: str = "") -> Iterator[Transaction]:
        """All-or-nothing writes. Events go to the webhook dispatcher only after commit."""
        with self.lock:
            tx = Transaction(self, correlation_id or str(uuid.uuid4()), user_id)
            try:
                yield tx
            except BaseException:
                for step in reversed(tx.undo):
                    step()
                raise
        for listener in self.after_commit:
            listener(tx.events)

    def resolve_bind(self, tx: Transaction, value: str) -> Ref:
        """`/accounts(<id>)`, `accounts(<id>)`, an absolute URL, or a `$1` Content-ID reference."""
        text = value.strip()
        if text.startswith("$") and text[1:] in tx.content_ids:
            return Ref(*tx.content_ids[text[1:]])
        text = text.split("/api/data/v9.2/")[-1].lstrip("/")
        if "(" not in text or not text.endswith(")"):
            raise ODataError(400, f"Invalid @odata.bind value '{value}'.")
        entity_set, key = text[:-1].split("(", 1)
        table = self.table_for_set(entity_set)
        row_id = key.strip("'").lower()
        self.get(table.logical_name, row_id)
        return Ref(table.logical_name, row_id)

    def changes_from_body(self, tx: Transaction, table: md.Table, body: dict[str, Any]) -> dict[str, Any]:
        """Translate a Web API body into column values (lookups from `nav@odata.bind`)."""
        changes: dict[str, Any] = {}
        for key, raw in body.items():
            if key.endswith("@odata.bind"):
                nav_name = key[: -len("@odata.bind")]
                nav = table.single_navs.get(nav_name)
                if nav is None:
                    raise ODataError(
                        400,
                        f"An undeclared property '{nav_name}' which only has property annotations "
                        "in the payload "
                        "but no property value was found in the payload.",
                        "0x80060888",
                    )
                if raw is None:
                    changes[nav.attribute] = None
                    continue
                ref = self.resolve_bind(tx, str(raw))
                if ref.table != nav.target:
                    raise ODataError(400, f"'{nav_name}' must point to a {nav.target}, not a {ref.table}.")
                changes[nav.attribute] = ref
                continue
            if key.startswith("@") or "@" in key:
                continue
            attribute = table.attributes.get(key)
            if attribute is None or attribute.is_lookup:
                raise ODataError(
                    400,
                    f"Invalid property '{key}' was found in entity "
                    f"'Microsoft.Dynamics.CRM.{table.logical_name}'.",
                    "0x80060888",
                )
            if attribute.read_only and key != table.primary_id:
                continue  # Dataverse ignores writes to calculated columns
            changes[key] = coerce(attribute, raw)
        return changes

    # ---- writes -------------------------------------------------------------------------------
    def create(
        self, tx: Transaction, table_name: str, changes: dict[str, Any], message: str = "Create"
    ) -> str:
        table = self.table(table_name)
        row_id = str(changes.pop(table.primary_id, None) or uuid.uuid4()).lower()
        if row_id in self.rows[table_name]:
            raise ODataError(412, "A record with matching key values already exists.", "0x80040237")
        self.check_choices(table, changes)
        now = datetime.now(UTC)
        row: dict[str, Any] = dict.fromkeys(table.attributes)
        row.update({table.primary_id: row_id, "createdon": now, "modifiedon": now})
        if "statecode" in table.attributes:
            row.update({"statecode": 0, "statuscode": 1})
        for attribute in table.attributes.values():
            if attribute.default is not None:
                row[attribute.logical_name] = attribute.default
        row.update(changes)
        for hook in self.before_write:
            hook(self, tx, table_name, row_id, row, None)
        tx.remember(table_name, row_id)
        row["versionnumber"] = self.next_version()
        self.rows[table_name][row_id] = row
        target = {table.primary_id: row_id, **changes}
        tx.emit(message, table_name, row_id, None, target)
        for hook in self.after_write:
            hook(self, tx, table_name, row_id, row, None)
        return row_id

    def update(
        self,
        tx: Transaction,
        table_name: str,
        row_id: str,
        changes: dict[str, Any],
        message: str = "Update",
        inputs: dict[str, Any] | None = None,
    ) -> None:
        """One Update execution (the caller splits state columns off first, as the platform does)."""
        row = self.get(table_name, row_id)
        self.check_choices(self.tables[table_name], changes)
        pre = copy.deepcopy(row)
        proposed = {**row, **changes}
        for hook in self.before_write:
            hook(self, tx, table_name, row_id, proposed, pre)
        tx.remember(table_name, row_id)
        row.update(proposed)
        row["modifiedon"] = datetime.now(UTC)
        row["versionnumber"] = self.next_version()
        table = self.tables[table_name]
        target = {table.primary_id: row_id, **changes, "modifiedon": row["modifiedon"]}
        if message == "Update":
            tx.emit("Update", table_name, row_id, pre, target)
        else:
            tx.emit(message, table_name, row_id, pre, target, inputs)
        for hook in self.after_write:
            hook(self, tx, table_name, row_id, row, pre)

    def update_split(self, tx: Transaction, table_name: str, row_id: str, changes: dict[str, Any]) -> None:
        """A Web API PATCH: normal columns first, then statecode/statuscode as a second Update."""
        normal = {key: value for key, value in changes.items() if key not in STATE_COLUMNS}
        state = {key: value for key, value in changes.items() if key in STATE_COLUMNS}
        if normal or not state:
            self.update(tx, table_name, row_id, normal)
        if state:
            self.update(tx, table_name, row_id, state)

    def delete(self, tx: Transaction, table_name: str, row_id: str) -> None:
        row = self.get(table_name, row_id)
        pre = copy.deepcopy(row)
        table = self.tables[table_name]
        for hook in self.before_write:
            hook(self, tx, table_name, row_id, {}, pre)
        for relationship in list(self.relationships.values()):
            if relationship.referenced_entity != table_name:
                continue
            column = relationship.referencing_attribute
            children = [
                child_id
                for child_id, child in self.rows[relationship.referencing_entity].items()
                if isinstance(child.get(column), Ref) and child[column].id == row_id
            ]
            for child_id in children:
                if child_id not in self.rows[relationship.referencing_entity]:
                    continue
                if relationship.cascade_delete == "Cascade":
                    self.delete(tx, relationship.referencing_entity, child_id)
                elif relationship.cascade_delete == "Restrict":
                    raise ODataError(
                        400, f"The record cannot be deleted: {relationship.schema_name} restricts it."
                    )
                else:
                    self.update(tx, relationship.referencing_entity, child_id, {column: None})
        tx.remember(table_name, row_id)
        del self.rows[table_name][row_id]
        reference = {"__reference__": True, "LogicalName": table_name, "Id": row_id}
        tx.emit("Delete", table_name, row_id, pre, {table.primary_id: row_id, **reference})
        for hook in self.after_write:
            hook(self, tx, table_name, row_id, {}, pre)

    def reset_rows(self) -> None:
        with self.lock:
            for rows in self.rows.values():
                rows.clear()

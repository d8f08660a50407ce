"""Reference data from Xero (C4): tax types, chart of accounts, branding themes, tracking categories and
options, one set per connection, upserted by Xero id. Rows are made inactive, never deleted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.base import MAX_CHANGE_SET, DataverseBase
from connector.adapters.dataverse.batch import ChangeOperation
from connector.domain.reference_data import ReferenceData, ReferenceRow, ReferenceTable

REFERENCE_TABLES: tuple[ReferenceTable, ...] = (
    "tax_type",
    "account_code",
    "branding_theme",
    "tracking_category",
    "tracking_option",
)
_REFERENCE_NAMESPACE = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
# The column each table keeps its Xero id in (a tax rate's id is its TaxType).
KEY_COLUMNS: dict[str, str] = {"tax_type": "taxtype"}
# Validation reads these per invoice: kept a few minutes, refreshed at once when a check fails.
REFERENCE_CACHE_SECONDS = 300.0
_VALIDATED_TABLES: tuple[ReferenceTable, ...] = (
    "tax_type",
    "account_code",
    "branding_theme",
    "tracking_option",
)
ACTIVE_STATE = {"statecode": 0, "statuscode": 1}
INACTIVE_STATE = {"statecode": 1, "statuscode": 2}


def reference_row_id(table: str, connection_id: UUID | None, key: str) -> UUID:
    """Deterministic primary key for a reference row, so re-imports upsert instead of duplicating."""
    return uuid.uuid5(_REFERENCE_NAMESPACE, f"{table}:{connection_id or '-'}:{key}")


def _column_value(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


class ReferenceDataRows(DataverseBase):
    def _connection_bind(self, table: str, connection_id: UUID) -> dict[str, str]:
        nav = self.schema.lookup(f"{table}_connection").schema_name
        return {f"{nav}@odata.bind": f"/{self.schema.table('connection').entity_set}({connection_id})"}

    async def upsert_reference_rows(
        self, table: str, rows: Sequence[Mapping[str, object]], connection_id: UUID | None = None
    ) -> int:
        """Upsert rows given as dicts: "key" (the Xero code or id), "name", and columns without the prefix
        (e.g. "taxtype", "rate", "code"). Change sets of up to 1000 upserts: one call per 1000 rows."""
        if table not in REFERENCE_TABLES:
            raise ValueError(f"unknown reference table {table!r}; use one of {REFERENCE_TABLES}")
        spec = self.schema.table(table)
        known = {column.logical_name for column in spec.columns}
        operations = []
        for row in rows:
            body: dict[str, Any] = {spec.primary_name: row["name"]}
            for key, value in row.items():
                if key in ("key", "name"):
                    continue
                column = self.schema.p(key.lower())
                if column not in known:
                    raise ValueError(f"{spec.logical_name} has no column {column!r}")
                body[column] = _column_value(value)
            if connection_id is not None:
                body.update(self._connection_bind(table, connection_id))
            row_id = reference_row_id(table, connection_id, str(row["key"]))
            operations.append(ChangeOperation("PATCH", f"{spec.entity_set}({row_id})", body))
        for start in range(0, len(operations), MAX_CHANGE_SET):
            await self.execute_change_set(operations[start : start + MAX_CHANGE_SET])
        self._forget_reference_data(connection_id)
        return len(operations)

    async def list_reference_rows(self, table: ReferenceTable, connection_id: UUID) -> list[ReferenceRow]:
        """Every row of the connection's table, active or not (one call per 5,000 rows)."""
        spec = self.schema.table(table)
        columns = [column.logical_name for column in spec.columns]
        params = {
            "$select": ",".join([spec.primary_id, spec.primary_name, "statecode", *columns]),
            "$filter": f"{self.schema.lookup(f'{table}_connection').value_name} eq {connection_id}",
        }
        if table == "tracking_option":
            category = self.schema.lookup("tracking_option_category").schema_name
            params["$expand"] = f"{category}($select={self.schema.p('xeroid')})"
        rows = await self.list_all(spec.entity_set, params, page_size=5000)
        return [self._row_from_json(table, row) for row in rows]

    def _row_from_json(self, table: ReferenceTable, row: Mapping[str, Any]) -> ReferenceRow:
        spec = self.schema.table(table)
        prefix = len(self.schema.prefix) + 1
        values: dict[str, Any] = {}
        for column in spec.columns:
            raw = row.get(column.logical_name)
            if column.kind == "decimal" and raw is not None:
                raw = Decimal(str(raw))
            values[column.logical_name[prefix:]] = raw
        key_column = KEY_COLUMNS.get(table, "xeroid")
        parent = None
        if table == "tracking_option":
            category = row.get(self.schema.lookup("tracking_option_category").schema_name) or {}
            parent = category.get(self.schema.p("xeroid"))
        return ReferenceRow(
            key=str(values.get(key_column) or values.get("code") or ""),
            name=str(row.get(spec.primary_name) or ""),
            values=values,
            active=row.get("statecode", 0) == 0,
            parent_key=parent,
            row_id=UUID(str(row[spec.primary_id])),
        )

    async def write_reference_rows(
        self, table: ReferenceTable, connection_id: UUID, rows: Sequence[ReferenceRow]
    ) -> int:
        """Upsert rows by Xero id with their state (inactive rows stay, for what points at them). Each
        change set of up to 500 rows is one call and commits whole."""
        spec = self.schema.table(table)
        operations: list[ChangeOperation] = []
        for row in rows:
            path = f"{spec.entity_set}({reference_row_id(table, connection_id, row.key)})"
            body: dict[str, Any] = {
                spec.primary_name: row.name,
                **self._connection_bind(table, connection_id),
            }
            body.update({self.schema.p(name): _column_value(value) for name, value in row.values.items()})
            if table == "tracking_option" and row.parent_key:
                nav = self.schema.lookup("tracking_option_category").schema_name
                parent = reference_row_id("tracking_category", connection_id, row.parent_key)
                entity_set = self.schema.table("tracking_category").entity_set
                body[f"{nav}@odata.bind"] = f"/{entity_set}({parent})"
            # The state goes in a write of its own: Dataverse sets a new row's state only after creating it.
            operations.append(ChangeOperation("PATCH", path, body))
            operations.append(ChangeOperation("PATCH", path, ACTIVE_STATE if row.active else INACTIVE_STATE))
        for start in range(0, len(operations), MAX_CHANGE_SET):
            await self.execute_change_set(operations[start : start + MAX_CHANGE_SET])
        self._forget_reference_data(connection_id)
        return len(rows)

    async def get_reference_data(self, connection_id: UUID, *, fresh: bool = False) -> ReferenceData:
        """What validation checks invoices against (four calls, then kept a few minutes)."""
        cache: dict[UUID, tuple[float, ReferenceData]] = self.__dict__.setdefault("_reference_cache", {})
        hit = cache.get(connection_id)
        now = time.monotonic()
        if hit is not None and hit[0] > now and not fresh:
            return hit[1]
        tables = {table: await self.list_reference_rows(table, connection_id) for table in _VALIDATED_TABLES}
        data = ReferenceData.from_rows(tables)
        cache[connection_id] = (now + REFERENCE_CACHE_SECONDS, data)
        return data

    def _forget_reference_data(self, connection_id: UUID | None) -> None:
        cache = self.__dict__.get("_reference_cache")
        if cache is None:
            return
        if connection_id is None:
            cache.clear()
        else:
            cache.pop(connection_id, None)

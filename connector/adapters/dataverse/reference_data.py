"""Reference data from Xero (tax types, chart of accounts, branding themes), upserted by Xero key."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.base import MAX_CHANGE_SET, DataverseBase
from connector.adapters.dataverse.batch import ChangeOperation

REFERENCE_TABLES = ("tax_type", "account_code", "branding_theme")
_REFERENCE_NAMESPACE = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")


def reference_row_id(table: str, connection_id: UUID | None, key: str) -> UUID:
    """Deterministic primary key for a reference row, so re-imports upsert instead of duplicating."""
    return uuid.uuid5(_REFERENCE_NAMESPACE, f"{table}:{connection_id or '-'}:{key}")


class ReferenceDataRows(DataverseBase):
    async def upsert_reference_rows(
        self, table: str, rows: Sequence[Mapping[str, object]], connection_id: UUID | None = None
    ) -> int:
        """Upsert tax types / chart of accounts / branding themes. Each row needs "key" (the Xero code or id)
        and "name"; other keys are column names without the prefix (e.g. "taxtype", "rate", "code").
        Sent as change sets of up to 1000 upserts: one call per 1000 rows."""
        if table not in REFERENCE_TABLES:
            raise ValueError(f"unknown reference table {table!r}; use one of {REFERENCE_TABLES}")
        spec = self.schema.table(table)
        known = {column.logical_name for column in spec.columns}
        connection_nav = self.schema.lookup(f"{table}_connection").schema_name
        operations = []
        for row in rows:
            body: dict[str, Any] = {spec.primary_name: row["name"]}
            for key, value in row.items():
                if key in ("key", "name"):
                    continue
                column = self.schema.p(key.lower())
                if column not in known:
                    raise ValueError(f"{spec.logical_name} has no column {column!r}")
                body[column] = str(value) if isinstance(value, Decimal) else value
            if connection_id is not None:
                body[f"{connection_nav}@odata.bind"] = (
                    f"/{self.schema.table('connection').entity_set}({connection_id})"
                )
            row_id = reference_row_id(table, connection_id, str(row["key"]))
            operations.append(ChangeOperation("PATCH", f"{spec.entity_set}({row_id})", body))
        for start in range(0, len(operations), MAX_CHANGE_SET):
            await self.execute_change_set(operations[start : start + MAX_CHANGE_SET])
        return len(operations)

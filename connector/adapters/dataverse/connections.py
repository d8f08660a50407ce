"""The connection table: one row per Xero organisation, exactly one of them the default."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from uuid import UUID

from connector.adapters.dataverse.base import REPRESENTATION, DataverseBase
from connector.adapters.dataverse.batch import ChangeOperation
from connector.adapters.dataverse.http import odata_string, parse_json
from connector.adapters.dataverse.mapping import connection_body, connection_columns, connection_from_json
from connector.domain.connection_rules import only_default
from connector.domain.dynamics import ConnectionSettings
from connector.errors import NotFoundError


class ConnectionRows(DataverseBase):
    async def list_connections(self) -> list[ConnectionSettings]:
        table = self.schema.table("connection")
        params = {"$select": ",".join(connection_columns(self.schema)), "$orderby": table.primary_name}
        rows = await self.list_all(table.entity_set, params)
        return [connection_from_json(self.schema, row) for row in rows]

    async def get_connection_by_tenant_id(self, tenant_id: str) -> ConnectionSettings | None:
        """Which connection a Xero webhook event belongs to."""
        table = self.schema.table("connection")
        params = {
            "$select": ",".join(connection_columns(self.schema)),
            "$filter": f"{self.schema.p('tenantid')} eq {odata_string(tenant_id)}",
            "$top": "1",
        }
        rows = (await self.get_json(table.entity_set, params))["value"]
        return connection_from_json(self.schema, rows[0]) if rows else None

    async def get_connection(self, connection_id: UUID) -> ConnectionSettings:
        table = self.schema.table("connection")
        row = await self.get_json(
            f"{table.entity_set}({connection_id})", {"$select": ",".join(connection_columns(self.schema))}
        )
        return connection_from_json(self.schema, row)

    async def get_default_connection(self) -> ConnectionSettings | None:
        """The default connection. Should two be marked (a change in Dynamics the webhook has not yet
        tidied up), the one made default last wins, never an arbitrary one."""
        table = self.schema.table("connection")
        params = {
            "$select": ",".join(connection_columns(self.schema)),
            "$filter": f"{self.schema.p('isdefault')} eq true",
            "$orderby": f"modifiedon desc,{table.primary_id}",
            "$top": "1",
        }
        rows = (await self.get_json(table.entity_set, params))["value"]
        return connection_from_json(self.schema, rows[0]) if rows else None

    async def set_default_connection(self, connection_id: UUID) -> None:
        """Exactly one default: one atomic change set sets this one and clears the others. Two calls, or
        one when nothing needs to change, so repeating it (or a webhook echoing it) is harmless."""
        table = self.schema.table("connection")
        column = self.schema.p("isdefault")
        where = f"{column} eq true or {table.primary_id} eq {connection_id}"
        rows = (
            await self.get_json(
                table.entity_set, {"$select": f"{table.primary_id},{column}", "$filter": where}
            )
        )["value"]
        marked = {str(row[table.primary_id]): bool(row.get(column)) for row in rows}
        if str(connection_id) not in marked:
            raise NotFoundError(f"connection {connection_id} does not exist")
        writes = only_default(marked, connection_id)
        operations = [
            ChangeOperation("PATCH", f"{table.entity_set}({row_id})", {column: value}, "*")
            for row_id, value in writes.items()
        ]
        if operations:
            await self.execute_change_set(operations)

    async def create_connection(
        self, name: str, tenant_id: str, *, make_default: bool | None = None, **settings: object
    ) -> ConnectionSettings:
        """Create a connection (C3 defaults unless given). The first connection becomes the default."""
        table = self.schema.table("connection")
        defaults = ConnectionSettings(id=uuid.uuid4(), name=name, tenant_id=tenant_id, **settings)
        values = defaults.model_dump(exclude={"id", "is_default"})
        body = connection_body(self.schema, values)
        body[self.schema.p("isdefault")] = False
        response = await self.transport.send(
            "POST",
            table.entity_set,
            json_body=body,
            headers=REPRESENTATION,
            params={"$select": table.primary_id},
        )
        created = UUID(str(parse_json(response)[table.primary_id]))
        if make_default is None:
            make_default = await self.get_default_connection() is None
        if make_default:
            await self.set_default_connection(created)
        return await self.get_connection(created)

    async def update_connection(self, connection_id: UUID, changes: Mapping[str, object]) -> None:
        table = self.schema.table("connection")
        await self._patch(f"{table.entity_set}({connection_id})", connection_body(self.schema, changes))

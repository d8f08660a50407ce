"""The sync history table: one record per attempt, kept even when its invoice is deleted."""

from __future__ import annotations

from connector.adapters.dataverse.base import DataverseBase
from connector.adapters.dataverse.batch import ChangeOperation
from connector.adapters.dataverse.mapping import sync_history_body
from connector.adapters.dataverse.schema import ConnectorSchema
from connector.domain.dynamics import SyncHistoryEntry
from connector.errors import NotFoundError


def history_change(schema: ConnectorSchema, entry: SyncHistoryEntry) -> ChangeOperation:
    return ChangeOperation("POST", schema.table("sync_history").entity_set, sync_history_body(schema, entry))


class HistoryRows(DataverseBase):
    def sync_history_change(self, entry: SyncHistoryEntry) -> ChangeOperation:
        return history_change(self.schema, entry)

    async def add_sync_history(self, entry: SyncHistoryEntry) -> None:
        """One record per attempt. If the invoice is gone (deleted), keep the record with the id as text."""
        operation = self.sync_history_change(entry)
        try:
            await self.transport.send("POST", operation.path, json_body=operation.body)
        except NotFoundError:
            body = {
                k: v
                for k, v in (operation.body or {}).items()
                if k != f"{self.schema.lookup('history_invoice').schema_name}@odata.bind"
            }
            await self.transport.send("POST", operation.path, json_body=body)

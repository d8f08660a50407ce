"""I1 backfill: give every existing invoice a Xero details record on the default connection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from connector.adapters.dataverse.client import DataverseClient


@dataclass
class BackfillReport:
    connection_id: UUID
    created: int
    already_had: int


class NoDefaultConnectionError(RuntimeError):
    """Backfill needs a default connection (C1)."""


async def backfill_xero_details(
    client: DataverseClient, progress: Callable[[int, int], None] | None = None
) -> BackfillReport:
    """Create missing Xero details (export status "No", default connection). Safe to re-run."""
    connection = await client.get_default_connection()
    if connection is None:
        raise NoDefaultConnectionError(
            "no default connection: create one first (python -m connector connect)"
        )
    missing = await client.list_invoice_ids_without_xero_details()
    for done, invoice_id in enumerate(missing, start=1):
        await client.create_xero_details(invoice_id, connection.id)
        if progress is not None:
            progress(done, len(missing))
    return BackfillReport(connection.id, len(missing), 0)

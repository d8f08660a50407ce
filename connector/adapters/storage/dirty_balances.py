"""Customers whose balances wait for the next refresh: one small JSON blob per connection, ETag-guarded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import cast
from uuid import UUID

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from connector.adapters.storage.blob import ensure_container
from connector.errors import RetryableError
from connector.ports import CustomerKind

CONTAINER = "balance-refresh"
MAX_ATTEMPTS = 20
Entry = tuple[CustomerKind, UUID, str]


class BlobDirtyBalances:
    def __init__(self, service: BlobServiceClient, container: str = CONTAINER) -> None:
        self._container = ensure_container(service, container)

    def _update(self, connection_id: UUID, change: set[str] | None) -> list[str]:
        """Add `change` (or take everything, when None) in one conditional write; returns what was there."""
        blob = self._container.get_blob_client(f"{connection_id}.json")
        for _ in range(MAX_ATTEMPTS):
            try:
                download = blob.download_blob()
                current, etag = set(json.loads(download.readall())), download.properties.etag
            except ResourceNotFoundError:
                current, etag = set(), None
            new = sorted(current | change) if change is not None else []
            if change is not None and new == sorted(current):
                return sorted(current)
            data = json.dumps(new)
            try:
                if etag is None:
                    blob.upload_blob(data, overwrite=False)
                else:
                    blob.upload_blob(
                        data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified
                    )
                return sorted(current)
            except (ResourceExistsError, ResourceModifiedError):
                continue  # another instance wrote first: read again
        raise RetryableError("balance-refresh list kept changing under us")

    async def add(self, connection_id: UUID, customers: Sequence[Entry]) -> None:
        entries = {f"{kind}|{customer_id}|{contact_id}" for kind, customer_id, contact_id in customers}
        if entries:
            await asyncio.to_thread(self._update, connection_id, entries)

    async def take(self, connection_id: UUID) -> list[Entry]:
        taken = await asyncio.to_thread(self._update, connection_id, None)
        result: list[Entry] = []
        for entry in taken:
            kind, customer_id, contact_id = entry.split("|", 2)
            result.append((cast(CustomerKind, kind), UUID(customer_id), contact_id))
        return result

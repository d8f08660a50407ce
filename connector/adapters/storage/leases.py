"""Work that must run once at a time across instances (one sweep per connection), as blob leases."""

from __future__ import annotations

import asyncio

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobLeaseClient, BlobServiceClient

from connector.adapters.storage.blob import ensure_container

LEASE_CONTAINER = "connector-leases"
# Azure's finite blob leases last 15-60 s; holders renew while they work.
LEASE_SECONDS = 60


class BlobLease:
    def __init__(self, client: BlobLeaseClient) -> None:
        self._client = client

    async def renew(self) -> None:
        await asyncio.to_thread(self._client.renew)

    async def release(self) -> None:
        try:
            await asyncio.to_thread(self._client.release)
        except HttpResponseError:
            pass  # expired or taken over meanwhile: it frees itself


class BlobLeases:
    """A lease per name on an empty blob; a crashed holder's lease expires within LEASE_SECONDS."""

    def __init__(self, service: BlobServiceClient, container: str = LEASE_CONTAINER) -> None:
        self._container = ensure_container(service, container)

    def _acquire(self, name: str) -> BlobLease | None:
        blob = self._container.get_blob_client(f"{name}.lease")
        try:
            blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            pass
        try:
            return BlobLease(blob.acquire_lease(lease_duration=LEASE_SECONDS))
        except HttpResponseError as exc:
            if exc.status_code == 409:  # leased by another instance
                return None
            raise

    async def acquire(self, name: str) -> BlobLease | None:
        """The lease, or None when another instance holds it."""
        return await asyncio.to_thread(self._acquire, name)

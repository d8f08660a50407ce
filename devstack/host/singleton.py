"""The timer singleton: when several instances run one app, only the holder of a blob lease fires a timer.

The Functions host does this with a lease on `azure-webjobs-hosts/locks/<host id>/<function>.Listener`
(docs: "Timer trigger ... only a single instance of a timer-triggered function is run across all
instances"). A crashed holder's lease runs out and another instance takes over.
"""

from __future__ import annotations

import asyncio
import logging
import os

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobClient, BlobLeaseClient, ContainerClient

from devstack.host.config import storage_connection

logger = logging.getLogger("devstack.host.singleton")

CONTAINER = "azure-webjobs-hosts"
# Azure Storage accepts leases of 15 to 60 seconds; the host's listener lock uses the short end.
LEASE_SECONDS = 15


def host_id() -> str:
    return os.environ.get("AzureFunctionsWebHost__hostid", "devstack-local")  # noqa: SIM112 (the host's name)


class ListenerLock:
    """Holds (or keeps trying to take) the lease on one function's listener blob."""

    def __init__(self, function_name: str, connection_name: str = "AzureWebJobsStorage") -> None:
        connection = storage_connection(connection_name)
        self.container = ContainerClient.from_connection_string(connection, CONTAINER)
        self.blob = BlobClient.from_connection_string(
            connection, CONTAINER, f"locks/{host_id()}/{function_name}.Listener"
        )
        self._lease: BlobLeaseClient | None = None

    @property
    def held(self) -> bool:
        return self._lease is not None

    def _ensure_blob(self) -> None:
        try:
            self.container.create_container()
        except ResourceExistsError:
            pass
        try:
            self.blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            pass

    def _acquire_or_renew(self) -> None:
        try:
            if self._lease is None:
                self._lease = self.blob.acquire_lease(lease_duration=LEASE_SECONDS)
                logger.info("Took the listener lock %s", self.blob.blob_name)
            else:
                self._lease.renew()
        except HttpResponseError:  # someone else holds it, or ours ran out and was taken
            self._lease = None

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.to_thread(self._ensure_blob)
        while not stop.is_set():
            await asyncio.to_thread(self._acquire_or_renew)
            try:
                await asyncio.wait_for(stop.wait(), timeout=LEASE_SECONDS / 3)
            except TimeoutError:
                pass
        if self._lease is not None:
            lease, self._lease = self._lease, None
            try:
                await asyncio.to_thread(lease.release)
            except HttpResponseError:
                pass

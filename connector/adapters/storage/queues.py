"""Storage queues through azure-storage-queue, base64-encoded as the Functions host expects."""

from __future__ import annotations

import threading

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy

from connector.settings import Settings


def queue_service_from_settings(settings: Settings) -> QueueServiceClient:
    """A connection string when set; otherwise the identity-based `__queueServiceUri`."""
    if settings.storage_connection is not None:
        return QueueServiceClient.from_connection_string(settings.storage_connection.get_secret_value())
    from azure.identity import DefaultAzureCredential

    assert settings.storage_queue_service_uri is not None  # guaranteed by Settings validation
    credential = DefaultAzureCredential(managed_identity_client_id=settings.storage_client_id)
    return QueueServiceClient(account_url=settings.storage_queue_service_uri, credential=credential)


class StorageQueueSender:
    """QueueSender on Azure Storage (Azurite locally). Creates each queue once, on first use."""

    def __init__(self, service: QueueServiceClient, queue_names: list[str]) -> None:
        self._service = service
        self._queue_names = queue_names
        self._clients: dict[str, QueueClient] = {}
        self._lock = threading.Lock()

    def _client(self, queue: str) -> QueueClient:
        with self._lock:
            client = self._clients.get(queue)
            if client is None:
                client = self._service.get_queue_client(queue, message_encode_policy=TextBase64EncodePolicy())
                try:
                    client.create_queue()
                except ResourceExistsError:
                    pass
                self._clients[queue] = client
            return client

    def send(self, queue: str, body: str, *, visibility_timeout: int | None = None) -> None:
        self._client(queue).send_message(body, visibility_timeout=visibility_timeout)

    def reachable(self) -> dict[str, bool]:
        status: dict[str, bool] = {}
        for name in self._queue_names:
            try:
                self._service.get_queue_client(name).get_queue_properties(timeout=5)
                status[name] = True
            except AzureError:
                status[name] = False
        return status

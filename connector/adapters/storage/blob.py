"""Blob service clients from settings: a connection string (Azurite) or a service URI + managed identity."""

from __future__ import annotations

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContainerClient

from connector.settings import Settings


def blob_service_from_settings(settings: Settings) -> BlobServiceClient:
    """The blob service the connector's state lives in (tokens, rate-limit budgets)."""
    if settings.storage_connection is not None:
        return BlobServiceClient.from_connection_string(settings.storage_connection.get_secret_value())
    if settings.storage_blob_service_uri is None:
        raise ValueError("set AzureWebJobsStorage or AzureWebJobsStorage__blobServiceUri for blob state")
    from azure.identity import (
        DefaultAzureCredential,  # imported late: only identity-based deployments need it
    )

    credential = DefaultAzureCredential(managed_identity_client_id=settings.storage_client_id)
    return BlobServiceClient(account_url=settings.storage_blob_service_uri, credential=credential)


def ensure_container(service: BlobServiceClient, name: str) -> ContainerClient:
    """The named container, created on first use."""
    container = service.get_container_client(name)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    return container

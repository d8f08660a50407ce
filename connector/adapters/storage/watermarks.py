"""B4: where each connection's reconcile pull got up to. One small blob per connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from connector.adapters.storage.blob import blob_service_from_settings, ensure_container
from connector.settings import Settings

WATERMARK_CONTAINER = "reconcile-watermarks"


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("watermarks are timezone-aware")
    return at.astimezone(UTC)


class BlobWatermarkStore:
    """WatermarkStore in blob storage: `<connection id>.txt` holds an ISO-8601 UTC time."""

    def __init__(self, service: BlobServiceClient, container: str = WATERMARK_CONTAINER) -> None:
        self._container = ensure_container(service, container)

    def _get(self, connection_id: UUID) -> datetime | None:
        try:
            text = self._container.download_blob(f"{connection_id}.txt").readall()
        except ResourceNotFoundError:
            return None
        raw = text.decode("utf-8") if isinstance(text, bytes) else str(text)
        return _utc(datetime.fromisoformat(raw.strip()))

    def _set(self, connection_id: UUID, at: datetime) -> None:
        self._container.upload_blob(f"{connection_id}.txt", _utc(at).isoformat(), overwrite=True)

    async def get(self, connection_id: UUID) -> datetime | None:
        return await asyncio.to_thread(self._get, connection_id)

    async def set(self, connection_id: UUID, at: datetime) -> None:
        await asyncio.to_thread(self._set, connection_id, at)


def blob_watermark_store(settings: Settings) -> BlobWatermarkStore:
    """The production store, in the connector's storage account."""
    return BlobWatermarkStore(blob_service_from_settings(settings))

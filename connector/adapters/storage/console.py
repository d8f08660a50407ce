"""What the admin console reads from storage: queue and poison depths, poison messages (and replaying
one or all), each tenant's shared rate-limit state, and when a token blob was last written."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient, TextBase64DecodePolicy

from connector.adapters.storage.poison import PoisonQueue, unwrap
from connector.adapters.storage.rate_limit import DEFAULT_CONTAINER
from connector.adapters.storage.rate_limit_state import LimiterState, RateLimits, counted, tidy
from connector.domain.connection_rules import Headroom, PoisonMessage
from connector.ports import QueueSender


class StorageOperations:
    """Queues and limiter state, read without changing anything (apart from replays)."""

    def __init__(
        self,
        queues: QueueServiceClient,
        blobs: BlobServiceClient,
        queue_names: list[str],
        sender: QueueSender,
        limits: RateLimits | None = None,
        limiter_container: str = DEFAULT_CONTAINER,
    ) -> None:
        self._queues = queues
        self._blobs = blobs
        self._names = queue_names
        self._sender = sender
        self._limits = limits or RateLimits()
        self._limiter_container = limiter_container

    def _count(self, queue: str) -> int:
        try:
            count = self._queues.get_queue_client(queue).get_queue_properties().approximate_message_count
            return int(count or 0)
        except ResourceNotFoundError:
            return 0

    def queue_depths(self) -> dict[str, int]:
        return {name: self._count(name) for name in self._names}

    def poison_counts(self) -> dict[str, int]:
        return {name: self._count(f"{name}-poison") for name in self._names}

    def poison_messages(self, queue: str, limit: int = 32) -> list[PoisonMessage]:
        if queue not in self._names:
            raise ValueError(f"unknown queue {queue!r}")
        try:
            found = PoisonQueue(self._queues, queue).peek(limit)
        except ResourceNotFoundError:
            return []
        return [PoisonMessage(m.id, queue, m.reason or "retries used up", m.inserted_on or "") for m in found]

    def replay_poison(self, queue: str, message_id: str | None = None) -> int:
        """Put one poison message (or all) back on its queue. Handlers are idempotent."""
        if queue not in self._names:
            raise ValueError(f"unknown queue {queue!r}")
        if message_id is None:
            try:
                return PoisonQueue(self._queues, queue).replay(self._sender)
            except ResourceNotFoundError:
                return 0
        client = self._queues.get_queue_client(
            f"{queue}-poison", message_decode_policy=TextBase64DecodePolicy()
        )
        # Receiving hides the others for a moment; give them back at once.
        for message in client.receive_messages(max_messages=32, visibility_timeout=30):
            if message.id == message_id:
                body, _reason = unwrap(message.content)
                self._sender.send(queue, body)
                client.delete_message(message.id, message.pop_receipt)
                return 1
            client.update_message(message.id, message.pop_receipt, visibility_timeout=0)
        return 0

    def headroom(self, tenant_id: str) -> Headroom | None:
        """None before the connector's first call to this tenant."""
        blob = self._blobs.get_container_client(self._limiter_container).get_blob_client(f"{tenant_id}.json")
        try:
            raw = blob.download_blob().readall()
        except ResourceNotFoundError:
            return None
        now = time.time()
        limits = self._limits
        state = tidy(LimiterState.model_validate(json.loads(raw)), now, limits)
        per_day = limits.per_day or 0
        return Headroom(
            minute_left=max(0, limits.per_window - counted(state)),
            minute_limit=limits.per_window,
            day_left=max(0, per_day - state.day_count),
            day_limit=per_day,
            concurrent_free=max(0, limits.concurrent - sum(hold.count for hold in state.holds.values())),
            concurrent_limit=limits.concurrent,
            blocked_until=datetime.fromtimestamp(state.blocked_until, UTC) if state.blocked_until else None,
        )


def blob_written_at(blobs: BlobServiceClient, container: str) -> Callable[[str], datetime | None]:
    """A function giving when `<key>.json` in `container` was last written (None when it is not there)."""

    def written_at(key: str) -> datetime | None:
        try:
            props = blobs.get_container_client(container).get_blob_client(f"{key}.json").get_blob_properties()
        except ResourceNotFoundError:
            return None
        modified = props.last_modified
        return modified.astimezone(UTC) if modified else None

    return written_at

"""O2: read and replay `<queue>-poison` messages (ours carry the reason; the host's are the bare body)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from azure.storage.queue import QueueServiceClient, TextBase64DecodePolicy

from connector.ports import QueueSender


@dataclass(frozen=True)
class PoisonedMessage:
    id: str
    body: str  # the original message, ready to put back
    reason: str | None  # why we poisoned it; None when the runtime did after its retries
    inserted_on: str | None


def unwrap(content: str) -> tuple[str, str | None]:
    """(original body, reason) from a poison message in either form."""
    try:
        data = json.loads(content)
    except ValueError:
        return content, None
    if isinstance(data, dict) and {"reason", "body"} <= set(data):
        return str(data["body"]), str(data["reason"])
    return content, None


class PoisonQueue:
    def __init__(self, service: QueueServiceClient, queue: str) -> None:
        self.queue = queue
        self._client = service.get_queue_client(
            f"{queue}-poison", message_decode_policy=TextBase64DecodePolicy()
        )

    def peek(self, limit: int = 32) -> list[PoisonedMessage]:
        messages = self._client.peek_messages(max_messages=min(limit, 32))
        return [
            PoisonedMessage(m.id, *unwrap(m.content), str(m.inserted_on) if m.inserted_on else None)
            for m in messages
        ]

    def replay(self, sender: QueueSender, limit: int = 100) -> int:
        """Put up to `limit` messages back on their queue; each is removed only after it was re-sent."""
        replayed = 0
        while replayed < limit:
            batch = list(
                self._client.receive_messages(max_messages=min(32, limit - replayed), visibility_timeout=60)
            )
            if not batch:
                break
            for message in batch:
                body, _reason = unwrap(message.content)
                sender.send(self.queue, body)
                self._client.delete_message(message.id, message.pop_receipt)
                replayed += 1
        return replayed

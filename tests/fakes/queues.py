"""Hand-written fakes of our own ports, for unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SentMessage:
    queue: str
    body: str
    visibility_timeout: int | None


@dataclass
class FakeQueueSender:
    """Records what would have been enqueued."""

    sent: list[SentMessage] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    queue_names: list[str] = field(
        default_factory=lambda: ["invoice-sync", "invoice-cancel", "xero-events", "sync-poll"]
    )

    def send(self, queue: str, body: str, *, visibility_timeout: int | None = None) -> None:
        self.sent.append(SentMessage(queue, body, visibility_timeout))

    def reachable(self) -> dict[str, bool]:
        return {name: name not in self.unreachable for name in self.queue_names}

    def on(self, queue: str) -> list[str]:
        return [message.body for message in self.sent if message.queue == queue]

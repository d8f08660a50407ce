"""Queue triggers: poll Azurite following host.json `extensions.queues`, poison after maxDequeueCount."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage as FunctionsQueueMessage
from azure.storage.queue import QueueClient, QueueMessage

from devstack.host.config import QueueOptions, resolve, storage_connection
from devstack.host.invocation import invoke

logger = logging.getLogger("devstack.host.queues")

MIN_POLL_SECONDS = 0.1
# While a message is being processed it stays hidden this long, renewed as it runs, as the WebJobs SDK does;
# after a crash it reappears when the lease runs out (10 minutes in Azure).
PROCESSING_LEASE_SECONDS = 600


class QueueListener:
    """One poller per queue-triggered function."""

    def __init__(
        self, function: Any, options: QueueOptions, lease_seconds: float = PROCESSING_LEASE_SECONDS
    ) -> None:
        trigger = function.get_trigger()
        self.function = function
        self.options = options
        self.lease_seconds = max(1, round(lease_seconds))
        self.arg_name: str = trigger.name
        self.queue_name = resolve(trigger.queue_name)
        connection = storage_connection(trigger.connection or "AzureWebJobsStorage")
        self.client = QueueClient.from_connection_string(connection, self.queue_name)
        self.poison = QueueClient.from_connection_string(connection, f"{self.queue_name}-poison")
        self._in_flight: set[asyncio.Task[None]] = set()

    def _ensure_queues(self) -> None:
        for client in (self.client, self.poison):
            try:
                client.create_queue()
            except ResourceExistsError:
                pass

    def _decode(self, content: str) -> bytes:
        if self.options.message_encoding == "base64":
            return base64.b64decode(content)
        return content.encode("utf-8")

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.to_thread(self._ensure_queues)
        delay = MIN_POLL_SECONDS
        max_delay = max(MIN_POLL_SECONDS, self.options.max_polling_interval.total_seconds())
        while not stop.is_set():
            received = 0
            if len(self._in_flight) <= self.options.new_batch_threshold:
                try:
                    messages = await asyncio.to_thread(self._receive)
                except Exception:  # as the Functions host does: a failed poll is logged and tried again
                    logger.warning("polling %r failed; trying again", self.queue_name, exc_info=True)
                    messages = []
                received = len(messages)
                for message in messages:
                    task = asyncio.create_task(self._process(message))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
            # The host's back-off: fast while there is work, exponential up to maxPollingInterval when idle.
            delay = MIN_POLL_SECONDS if received else min(delay * 2, max_delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _receive(self) -> list[QueueMessage]:
        return list(
            self.client.receive_messages(
                messages_per_page=self.options.batch_size,
                max_messages=self.options.batch_size,
                visibility_timeout=self.lease_seconds,
            )
        )

    async def _process(self, message: QueueMessage) -> None:
        try:
            body = self._decode(message.content)
        except (ValueError, TypeError):
            body = str(message.content).encode("utf-8")
        functions_message = FunctionsQueueMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        lease = _Lease(message.pop_receipt)
        renewal = asyncio.create_task(self._renew(message, lease))
        # Stopped, never cancelled: a renewal under way must land, or its new pop receipt is lost.
        try:
            await invoke(
                self.function,
                self.arg_name,
                functions_message,
                reason=f"New queue message detected on '{self.queue_name}'.",
            )
        except Exception:
            await lease.stop(renewal)
            await asyncio.to_thread(self._after_failure, message, lease.pop_receipt)
            return
        await lease.stop(renewal)
        await asyncio.to_thread(self.client.delete_message, message.id, lease.pop_receipt)

    async def _renew(self, message: QueueMessage, lease: _Lease) -> None:
        """Keep the message hidden while it is processed (the SDK renews at intervals of the lease)."""
        while True:
            try:
                await asyncio.wait_for(lease.done.wait(), timeout=self.lease_seconds / 3)
                return
            except TimeoutError:
                pass
            try:
                updated = await asyncio.to_thread(
                    self.client.update_message,
                    message.id,
                    lease.pop_receipt,
                    visibility_timeout=self.lease_seconds,
                )
            except Exception as exc:  # lost the message (lease ran out): the invocation carries on regardless
                logger.warning("Could not renew the lease of message %s: %s", message.id, exc)
                return
            lease.pop_receipt = updated.pop_receipt

    def _after_failure(self, message: QueueMessage, pop_receipt: str | None) -> None:
        if (message.dequeue_count or 0) >= self.options.max_dequeue_count:
            self.poison.send_message(message.content)  # same encoding as the original, as the host does
            self.client.delete_message(message.id, pop_receipt)
            logger.error(
                "Message %s on '%s' failed %s times: moved to '%s' at %s",
                message.id,
                self.queue_name,
                message.dequeue_count,
                f"{self.queue_name}-poison",
                datetime.now(UTC).isoformat(),
            )
            return
        self.client.update_message(
            message.id,
            pop_receipt,
            visibility_timeout=int(self.options.visibility_timeout.total_seconds()),
        )


class _Lease:
    """The message's current pop receipt: every renewal hands out a new one."""

    def __init__(self, pop_receipt: str | None) -> None:
        self.pop_receipt = pop_receipt
        self.done = asyncio.Event()

    async def stop(self, renewal: asyncio.Task[None]) -> None:
        self.done.set()
        await renewal

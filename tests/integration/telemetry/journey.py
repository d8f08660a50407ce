"""One invoice's journey in-process: the Dataverse webhook function, the queue hop, the sync handler.

The App is built from the fakes; the queue is FakeQueueSender, and "the runtime" is a loop that hands
each enqueued body to `process_queue_message`, as the Functions host would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

import azure.functions as func
from azure.functions.queue import QueueMessage
from pydantic import BaseModel

from connector.bootstrap import App
from connector.domain.dynamics import Invoice, XeroDetails
from connector.domain.messages import InvoiceSyncMessage, SweepMessage
from connector.entrypoints.queue_processing import process_queue_message
from connector.services.item_cache import ItemCache
from connector.services.sweep import SweepDependencies, sweep
from connector.services.sweep_requests import SweepRequests
from connector.services.sync_attempt import SyncDependencies
from connector.services.sync_invoice import sync_gave_up, sync_invoice
from connector.settings import get_settings
from connector.telemetry.queues import TraceContextQueues
from tests import factories as f
from tests.fakes.dataverse import FakeDataverse
from tests.fakes.queues import FakeQueueSender, SentMessage
from tests.fakes.xero import FakeXero
from tests.fixtures import dataverse_payloads as payloads
from tests.functions import user_function

WEBHOOK_URL = "http://localhost:7071/api/dataverse/invoices"


@dataclass
class Journey:
    app: App
    dataverse: FakeDataverse
    xero: FakeXero
    queues: FakeQueueSender

    async def dynamics_event(self, invoice_id: UUID, *, code: str = "test-dataverse-secret") -> int:
        """Dataverse posts its Create webhook for this invoice; returns the HTTP status."""
        body = payloads.encode(payloads.invoice_create()).replace(
            payloads.INVOICE_ID.encode(), str(invoice_id).encode()
        )
        request = func.HttpRequest("POST", WEBHOOK_URL, body=body, params={"code": code}, headers={})
        response = await user_function("dataverse_invoice_webhook")(request)
        return int(response.status_code)

    def take(self, queue: str = "invoice-sync") -> SentMessage:
        """The oldest message waiting on `queue` (removed from it)."""
        index = next(i for i, sent in enumerate(self.queues.sent) if sent.queue == queue)
        return self.queues.sent.pop(index)

    async def deliver(
        self, sent: SentMessage, dequeue_count: int = 1, message_type: type[BaseModel] = InvoiceSyncMessage
    ) -> None:
        """The runtime delivers one message to the queue trigger (raises what the trigger raises)."""
        message = QueueMessage(
            id=f"m-{dequeue_count}",
            body=sent.body.encode(),
            dequeue_count=dequeue_count,
            pop_receipt="pr",
            insertion_time=datetime.now(UTC),
        )
        await process_queue_message(message, message_type)

    async def deliver_until_done(self, sent: SentMessage, attempts: int = 5) -> None:
        """Delivered again after each failure, as the runtime does, up to `attempts` times."""
        for count in range(1, attempts + 1):
            try:
                await self.deliver(sent, count)
                return
            except Exception:
                if count == attempts:
                    raise


def make_journey() -> Journey:
    dataverse, xero, queues = FakeDataverse(), FakeXero(), FakeQueueSender()
    connection = f.connection(is_default=True, time_zone="Pacific/Auckland")
    dataverse.connections[connection.id] = connection
    xero.add_contact("A. Datum Corporation")
    deps = SyncDependencies(
        dataverse=dataverse,
        xero_for=lambda _connection: xero,
        queues=TraceContextQueues(queues),  # as bootstrap wires it
        cancel_queue="invoice-cancel",
        org_url=f.ORG_URL,
        clock=lambda: datetime.now(UTC),
        items=ItemCache(),
        sweeps=SweepRequests(TraceContextQueues(queues), "sync-poll", lambda: datetime.now(UTC)),
    )
    app = App(
        settings=get_settings(),
        queues=queues,
        handlers={
            InvoiceSyncMessage: partial(sync_invoice, deps=deps),
            SweepMessage: partial(sweep, deps=SweepDependencies(dataverse=dataverse, sync=deps)),
        },
        gave_up={InvoiceSyncMessage: partial(sync_gave_up, deps=deps, attempts=5)},
        max_dequeue_count=5,
    )
    return Journey(app, dataverse, xero, queues)


def add_invoice(journey: Journey, invoice_id: UUID, **overrides: Any) -> None:
    values: dict[str, Any] = {
        "id": invoice_id,
        "name": "Website rebuild",
        "number": f"INV-{str(invoice_id)[:5]}",
        "currency_code": "NZD",
        "customer": f.customer(),
        "date_delivered": date(2026, 1, 5),
        "connection_id": f.CONNECTION_ID,
        "lines": [f.write_in_line(1, "Design", quantity=Decimal(2), price_per_unit=Decimal("150.00"))],
        "total_amount": Decimal("345.00"),
        "version_number": 7,
    }
    values.update(overrides)
    details = XeroDetails.model_validate(
        {"id": f.uid(f"details-{invoice_id}"), "invoice_id": invoice_id, "connection_id": f.CONNECTION_ID}
    )
    journey.dataverse.add(Invoice.model_validate(values), details)

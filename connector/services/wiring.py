"""Builds the real service handlers from settings and adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage, SweepMessage, XeroEventMessage
from connector.ports import QueueSender
from connector.settings import Settings
from connector.telemetry import get_logger, log_step

if TYPE_CHECKING:
    from connector.runtime import Handlers

logger = get_logger("services.wiring")


def build_handlers(settings: Settings, queues: QueueSender) -> Handlers:
    from connector.runtime import Handlers

    async def sync_invoice(message: InvoiceSyncMessage) -> None:
        log_step(logger, "sync_invoice.received", invoice_id=message.invoice_id)

    async def cancel_invoice(message: InvoiceCancelMessage) -> None:
        log_step(logger, "cancel_invoice.received", invoice_id=message.invoice_id, reason=message.reason)

    async def apply_xero_event(message: XeroEventMessage) -> None:
        log_step(logger, "xero_event.received", resource_id=message.resource_id)

    async def sweep(message: SweepMessage) -> None:
        log_step(logger, "sweep.received", scheduled_for=message.scheduled_for)

    return Handlers(sync_invoice, cancel_invoice, apply_xero_event, sweep)

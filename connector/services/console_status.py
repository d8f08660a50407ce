"""O6: each connection's health for the console and the CLI, and the operator's actions on the work:
retry failed invoices, replay poison messages, sync now."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from connector.domain.connection_rules import ConnectionHealth, PoisonMessage, settings_problems
from connector.domain.dynamics import ConnectionSettings, ExportStatus
from connector.domain.messages import InvoiceSyncMessage, SweepMessage
from connector.services.connect_xero import ConsoleDependencies
from connector.telemetry import get_logger, log_step

logger = get_logger("services.console_status")
WINDOW = timedelta(hours=24)


async def connection_health(deps: ConsoleDependencies, connection: ConnectionSettings) -> ConnectionHealth:
    since = deps.clock() - WINDOW
    recent = await deps.queries.recent_history(connection.id, since)
    failed = await deps.queries.failed_invoices(connection.id)
    choices = await deps.queries.reference_choices(connection.id)
    token = await asyncio.to_thread(deps.xero.token_state, connection.id)
    headroom = (
        await asyncio.to_thread(deps.operations.headroom, connection.tenant_id)
        if connection.tenant_id
        else None
    )
    successes = [line for line in recent if line.outcome == "Success"]
    return ConnectionHealth(
        connection=connection,
        token=token,
        headroom=headroom,
        watermark=await deps.watermarks.get(connection.id),
        last_success=max((line.at for line in successes if line.at), default=None),
        synced_24h=len({line.invoice_id for line in successes if line.action in ("Create", "Update")}),
        failed_24h=len({line.invoice_id for line in recent if line.outcome == "Failed"}),
        failed=failed,
        problems=settings_problems(connection, choices),
        recent=recent[:20],
    )


@dataclass(frozen=True)
class QueueView:
    depths: dict[str, int]
    poison: dict[str, int]
    messages: list[PoisonMessage]


async def queue_view(deps: ConsoleDependencies, with_messages: bool = True) -> QueueView:
    depths = await asyncio.to_thread(deps.operations.queue_depths)
    poison = await asyncio.to_thread(deps.operations.poison_counts)
    messages: list[PoisonMessage] = []
    if with_messages:
        for queue, count in poison.items():
            if count:
                messages += await asyncio.to_thread(deps.operations.poison_messages, queue, 10)
    return QueueView(depths, poison, messages)


async def retry_failed(deps: ConsoleDependencies, connection_id: UUID, details_id: UUID | None = None) -> int:
    """Export status back to "No" (as a user would in Dynamics) and a sync message, for one failed
    invoice or all of the connection's. Returns how many."""
    failed = await deps.queries.failed_invoices(connection_id)
    chosen = [f for f in failed if details_id is None or f.details_id == details_id]
    correlation_id = str(uuid.uuid4())
    for invoice in chosen:
        await deps.dataverse.update_xero_details(invoice.details_id, {"export_status": ExportStatus.NO}, None)
        if invoice.invoice_id is not None:
            message = InvoiceSyncMessage(
                invoice_id=invoice.invoice_id,
                organization="",
                message_name="ConsoleRetry",
                correlation_id=correlation_id,
                event_time=deps.clock(),
            )
            await asyncio.to_thread(deps.queues.send, deps.sync_queue, message.model_dump_json())
    log_step(
        logger,
        "console.retried",
        connection_id=connection_id,
        count=len(chosen),
        correlation_id=correlation_id,
    )
    return len(chosen)


async def replay_poison(deps: ConsoleDependencies, queue: str, message_id: str | None = None) -> int:
    replayed = await asyncio.to_thread(deps.operations.replay_poison, queue, message_id)
    log_step(logger, "console.poison_replayed", queue=queue, count=replayed)
    return replayed


async def sync_now(deps: ConsoleDependencies, connection_id: UUID | None = None) -> str:
    """Queue a sweep (of one connection, or all); returns its correlation id."""
    message = SweepMessage(
        scheduled_for=deps.clock(), connection_id=connection_id, correlation_id=str(uuid.uuid4())
    )
    await asyncio.to_thread(deps.queues.send, deps.sweep_queue, message.model_dump_json())
    log_step(logger, "console.sync_now", connection_id=connection_id, correlation_id=message.correlation_id)
    return message.correlation_id

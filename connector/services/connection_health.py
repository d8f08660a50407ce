"""Connections that heal: one that Xero stops accepting is marked once, its invoices wait (no Failed
storm), and a reconnect sends them."""

from __future__ import annotations

import asyncio
import logging
import uuid

from connector.domain.dynamics import ConnectionSettings
from connector.domain.messages import SweepMessage
from connector.domain.sync import history
from connector.ports import Clock, DataverseConnectionHealth, DataverseConnections, QueueSender
from connector.telemetry import get_logger, log_step

logger = get_logger("services.connection_health")

RECONNECT_REASON = "Xero no longer accepts this connection's authorisation; reconnect it in the console."


async def connection_lost(
    dataverse: DataverseConnectionHealth,
    connection: ConnectionSettings,
    reason: str = RECONNECT_REASON,
    ctx: history.HistoryContext | None = None,
) -> None:
    """Mark the connection as needing a reconnect. Written once: the first invoice that saw it gets the
    sync-history line; the others simply wait, since eligibility skips connections needing a reconnect."""
    current = await dataverse.get_connection(connection.id)
    if current.needs_reconnect:
        return
    await dataverse.update_connection(connection.id, {"needs_reconnect": True, "reconnect_reason": reason})
    if ctx is not None:
        await dataverse.add_sync_history(history.reconnect_needed(ctx, connection.name))
    log_step(logger, "connection.needs_reconnect", logging.ERROR, connection=connection.name, reason=reason)


async def reconnected(
    dataverse: DataverseConnections,
    connection: ConnectionSettings,
    queues: QueueSender,
    sweep_queue: str,
    clock: Clock,
) -> None:
    """After a reconnect: clear the mark and sweep the connection, so the waiting invoices are sent now."""
    await dataverse.update_connection(connection.id, {"needs_reconnect": False, "reconnect_reason": None})
    message = SweepMessage(
        scheduled_for=clock(), connection_id=connection.id, correlation_id=str(uuid.uuid4())
    )
    await asyncio.to_thread(queues.send, sweep_queue, message.model_dump_json())
    log_step(
        logger, "connection.reconnected", connection=connection.name, correlation_id=message.correlation_id
    )

"""C1: exactly one default connection, also when someone ticks "Is default" on a connection in Dynamics.

The webhook only says which connection was made default. The handler re-reads the connections and, if
that one is still marked, clears the others; the console and the CLI use the same adapter call.
"""

from __future__ import annotations

import logging
from typing import Protocol
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings
from connector.domain.messages import ConnectionDefaultMessage
from connector.errors import NotFoundError
from connector.telemetry import get_logger, log_step

logger = get_logger("services.connection_default")


class DefaultConnections(Protocol):
    async def list_connections(self) -> list[ConnectionSettings]:
        """Read afresh, never from a cache: a default ticked seconds ago must be seen."""

    async def set_default_connection(self, connection_id: UUID) -> None:
        """Exactly one default afterwards (one atomic change set)."""


async def make_only_default(message: ConnectionDefaultMessage, deps: DefaultConnections) -> str:
    """Clear "Is default" on every connection but the one named. Idempotent: a replayed message, or the
    webhook of the clearing writes themselves, finds nothing to change. Returns what it did."""
    chosen = message.connection_id
    marked = [c.id for c in await deps.list_connections() if c.is_default]
    if chosen not in marked:
        # Unticked again (or removed) before the message ran: the admin changed their mind.
        log_step(logger, "connection_default.unmarked", connection_id=chosen)
        return "not default any more"
    if marked == [chosen]:
        return "already the only default"
    try:
        await deps.set_default_connection(chosen)
    except NotFoundError:
        log_step(logger, "connection_default.gone", logging.WARNING, connection_id=chosen)
        return "connection gone"
    log_step(
        logger,
        "connection_default.set",
        connection_id=chosen,
        cleared=len(marked) - 1,
        correlation_id=message.correlation_id,
    )
    return "made the only default"

"""Who the connector is in Dataverse: asked once per process, so webhooks can tell its own changes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from connector.telemetry import get_logger, log_step

logger = get_logger("adapters.dataverse.identity")


class OwnUser:
    """The connector's Dataverse user id (WhoAmI), remembered once known. None while it cannot be
    learnt: then nothing is taken for the connector's own change, which costs calls but loses nothing."""

    def __init__(self, who_am_i: Callable[[], Awaitable[UUID]]) -> None:
        self._who_am_i = who_am_i
        self._user_id: UUID | None = None

    async def __call__(self) -> UUID | None:
        if self._user_id is None:
            try:
                self._user_id = await self._who_am_i()
            except Exception as exc:
                log_step(logger, "dataverse.who_am_i_failed", logging.WARNING, error=type(exc).__name__)
        return self._user_id

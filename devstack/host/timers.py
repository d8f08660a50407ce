"""Timer triggers on their NCRONTAB schedules (6 fields, seconds first)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from azure.functions.timer import TimerRequest
from croniter import croniter

from devstack.host.config import resolve
from devstack.host.invocation import invoke
from devstack.host.singleton import ListenerLock

logger = logging.getLogger("devstack.host.timers")


class TimerSchedule:
    def __init__(self, function: Any, lock: ListenerLock | None = None) -> None:
        trigger = function.get_trigger()
        self.function = function
        self.lock = lock  # several instances: only the lock holder fires
        self.arg_name: str = trigger.name
        self.schedule = resolve(trigger.schedule)
        self.run_on_startup = bool(trigger.run_on_startup)
        croniter(self.schedule, second_at_beginning=True)  # fail early on a bad expression

    async def run(self, stop: asyncio.Event) -> None:
        if self.run_on_startup:
            await self._fire(past_due=False)
        schedule = croniter(self.schedule, datetime.now(UTC), second_at_beginning=True)
        while not stop.is_set():
            due: datetime = schedule.get_next(datetime)
            wait = (due - datetime.now(UTC)).total_seconds()
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, wait))
                return
            except TimeoutError:
                pass
            await self._fire(past_due=(datetime.now(UTC) - due).total_seconds() > 1)

    async def _fire(self, past_due: bool) -> None:
        if self.lock is not None and not self.lock.held:
            logger.debug("timer %s: another instance holds the lock", self.function.get_function_name())
            return
        try:
            await invoke(self.function, self.arg_name, TimerRequest(past_due=past_due), reason="Timer fired")
        except Exception:  # logged by invoke; a failing timer keeps its schedule, as in the real host
            logger.debug("timer %s failed", self.function.get_function_name())

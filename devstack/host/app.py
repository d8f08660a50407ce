"""The local Functions host: loads function_app.py and serves every trigger it declares."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from devstack.host.config import QueueOptions, load_local_settings
from devstack.host.http import admin_route, http_route, status_route
from devstack.host.queues import PROCESSING_LEASE_SECONDS, QueueListener
from devstack.host.singleton import ListenerLock
from devstack.host.timers import TimerSchedule
from devstack.paths import REPO_ROOT

logger = logging.getLogger("devstack.host")


def load_functions(app_dir: Path = REPO_ROOT, module: str = "function_app") -> dict[str, Any]:
    """Import the app the way the worker does and enumerate its functions (get_functions() once)."""
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    function_app = importlib.import_module(module)
    function_app.app.functions_bindings = (
        None  # get_functions() caches; a second host in one process rebuilds
    )
    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}


def is_disabled(function_name: str) -> bool:
    """The host's `AzureWebJobs.<FunctionName>.Disabled` app setting."""
    return os.environ.get(f"AzureWebJobs.{function_name}.Disabled", "").lower() in ("true", "1")


class LocalFunctionsHost:
    """HTTP triggers on Starlette, queue listeners and timers as background tasks of its lifespan."""

    def __init__(
        self,
        app_dir: Path = REPO_ROOT,
        *,
        load_settings_file: bool = True,
        queue_options: QueueOptions | None = None,
        queue_lease_seconds: float = PROCESSING_LEASE_SECONDS,
        timer_lock: bool = False,
        instance: str = "local",
    ) -> None:
        """`timer_lock`: fire timers only while holding their blob lease, as instances of one app do."""
        if load_settings_file:
            load_local_settings(app_dir / "local.settings.json")
        self.functions = load_functions(app_dir)
        self.queue_options = queue_options or QueueOptions.from_host_json(app_dir / "host.json")
        self.queue_lease_seconds = queue_lease_seconds
        self.timer_lock = timer_lock
        self.instance = instance
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _by_binding(self, binding: str) -> list[Any]:
        return [
            fn
            for name, fn in self.functions.items()
            if fn.get_trigger().get_binding_name() == binding and not is_disabled(name)
        ]

    def asgi_app(self) -> Starlette:
        routes = [http_route(fn) for fn in self._by_binding("httpTrigger")]
        routes.append(admin_route(self.functions))
        routes.append(status_route(self.instance))
        return Starlette(routes=routes, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._stop = asyncio.Event()
        listeners = [
            QueueListener(fn, self.queue_options, self.queue_lease_seconds)
            for fn in self._by_binding("queueTrigger")
        ]
        timers = []
        for fn in self._by_binding("timerTrigger"):
            lock = ListenerLock(fn.get_function_name()) if self.timer_lock else None
            if lock is not None:
                self._tasks.append(asyncio.create_task(lock.run(self._stop)))
            timers.append(TimerSchedule(fn, lock))
        for listener in listeners:
            self._tasks.append(asyncio.create_task(listener.run(self._stop)))
        for timer in timers:
            self._tasks.append(asyncio.create_task(timer.run(self._stop)))
        logger.info(
            "Host started: %d HTTP, %d queue, %d timer functions",
            len(self._by_binding("httpTrigger")),
            len(listeners),
            len(timers),
        )
        try:
            yield
        finally:
            self._stop.set()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()

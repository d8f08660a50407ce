"""Run an ASGI app (an emulator, the local host) with uvicorn, in a thread or in the foreground."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from devstack.free_ports import free_port


class BackgroundServer:
    """uvicorn on 127.0.0.1 in a daemon thread; `base_url` once started."""

    def __init__(self, app: Any, port: int | None = None, log_level: str = "warning") -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level=log_level, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"asgi-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} failed to start (see its log above)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on port {self.port} not started after {timeout:.0f}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextmanager
def serve_in_thread(app: Any, port: int | None = None) -> Iterator[BackgroundServer]:
    """Serve `app` on loopback for the duration of the block."""
    server = BackgroundServer(app, port).start()
    try:
        yield server
    finally:
        server.stop()


def serve_forever(app: Any, port: int, log_level: str = "info") -> None:
    """Foreground serving for `python -m devstack.<emulator>`; Ctrl-C stops it."""
    uvicorn.run(app, host="127.0.0.1", port=port, log_level=log_level)

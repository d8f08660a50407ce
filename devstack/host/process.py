"""A Functions host in its own process (`python -m devstack.host`): started, killed, restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from devstack.free_ports import free_port
from devstack.host.http import master_key
from devstack.host.queues import PROCESSING_LEASE_SECONDS
from devstack.paths import REPO_ROOT


@dataclass
class HostProcess:
    """One instance. The environment it gets is the caller's plus `env`; it logs to `log_path`."""

    instance: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    queue_lease_seconds: float = PROCESSING_LEASE_SECONDS
    timer_lock: bool = True
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: BinaryIO | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.alive and self.process is not None else None

    def start(self, timeout: float = 60.0) -> HostProcess:
        self.spawn()
        self.wait_ready(timeout)
        return self

    def spawn(self) -> None:
        """Start the process without waiting for it (start several, then wait for each)."""
        if self.alive:
            return
        command = [
            sys.executable,
            "-m",
            "devstack.host",
            "--port",
            str(self.port),
            "--instance",
            self.instance,
            "--queue-lease",
            str(self.queue_lease_seconds),
        ]
        if self.timer_lock:
            command.append("--timer-lock")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = self.log_path.open("ab")
        self._log.write(f"--- start {self.starts + 1} of {self.instance} ---\n".encode())
        self._log.flush()
        # A file, not a pipe: nobody reads a pipe while the host runs, and a full one would stall it.
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"host {self.instance} exited at start-up; see {self.log_path}")
            try:
                response = httpx.get(
                    f"{self.url}/admin/host/status", headers={"x-functions-key": master_key()}, timeout=2
                )
                if response.status_code == 200 and response.json().get("pid") == self.pid:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"host {self.instance} not ready after {timeout:.0f}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no finally blocks, leases left to run out. What a crash looks like."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> bool:
        """SIGTERM: the host finishes what it is doing. False when it had to be killed after `timeout`."""
        graceful = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                graceful = False
                self.kill()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return graceful

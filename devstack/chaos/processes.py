"""Which host sent a request, and killing hosts the way a crash does."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devstack.host.process import HostProcess

logger = logging.getLogger("devstack.chaos")


def _socket_inodes(port: int) -> set[str]:
    """Inodes of loopback TCP sockets whose local port is `port` (Linux /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _owns_socket(pid: int, inodes: set[str]) -> bool:
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
    except OSError:
        return False
    return False


def client_port(held: dict[str, Any]) -> int | None:
    """The sender's port, if the emulator reports the client of a held request."""
    client = held.get("client")
    if isinstance(client, list | tuple) and len(client) == 2:
        return int(client[1])
    if isinstance(client, str) and ":" in client:
        return int(client.rsplit(":", 1)[1])
    port = held.get("client_port")
    return int(port) if port is not None else None


def senders(held: dict[str, Any], hosts: list[HostProcess]) -> list[HostProcess]:
    """The host that sent a held request; every live host when that cannot be told."""
    live = [host for host in hosts if host.alive]
    port = client_port(held)
    if port is not None:
        inodes = _socket_inodes(port)
        owners = [host for host in live if host.pid is not None and _owns_socket(host.pid, inodes)]
        if owners:
            return owners
    return live


@dataclass
class KillLog:
    """Every SIGKILL of the run, for the figures."""

    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kills(self) -> int:
        return sum(len(event["instances"]) for event in self.events)

    def kill(self, point: str, victims: list[HostProcess], detail: str = "") -> None:
        for host in victims:
            host.kill()
        self.events.append(
            {
                "point": point,
                "instances": [host.instance for host in victims],
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "detail": detail,
            }
        )
        logger.info("SIGKILL %s (%s) %s", ", ".join(h.instance for h in victims), point, detail)


def restart(hosts: list[HostProcess]) -> None:
    for host in hosts:
        host.spawn()
    for host in hosts:
        host.wait_ready()

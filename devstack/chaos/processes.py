"""Which host sent a request, and killing hosts the way a crash does."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devstack.chaos.egress import XeroTaps
from devstack.host.process import HostProcess

logger = logging.getLogger("devstack.chaos")


def senders(held: dict[str, Any], hosts: list[HostProcess], taps: XeroTaps) -> list[HostProcess]:
    """The host that sent a held request (by its Idempotency-Key); every live host when that is unknown."""
    live = [host for host in hosts if host.alive]
    key = str(held.get("idempotency_key") or "")
    named = set(taps.senders(key)) if key else set()
    return [host for host in live if host.instance in named] or live


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

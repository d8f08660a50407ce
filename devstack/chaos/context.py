"""One run's shared state: the platform, the knobs, the Sales users and what has happened so far."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from devstack.chaos.config import ChaosConfig
from devstack.chaos.convergence import Queues
from devstack.chaos.faults import DataverseFaults, XeroFaults
from devstack.chaos.processes import KillLog
from devstack.chaos.workload import Workload
from devstack.local_platform import LocalPlatform
from devstack.scenario import Scenario


@dataclass
class Run:
    config: ChaosConfig
    platform: LocalPlatform
    scenario: Scenario
    workload: Workload
    xero: XeroFaults
    dataverse: DataverseFaults
    queues: Queues
    prefix: str
    rng: random.Random
    kills: KillLog = field(default_factory=KillLog)
    # Set while a kill point needs the Sales users to stop saving (so its request is the next one).
    pause: threading.Event = field(default_factory=threading.Event)
    notes: list[str] = field(default_factory=list)
    paid: list[str] = field(default_factory=list)  # Dynamics invoice ids paid in Xero
    cancelled: list[str] = field(default_factory=list)  # approved in Xero, then cancelled in Dynamics
    seconds: dict[str, float] = field(default_factory=dict)  # phase → duration
    converged: dict[str, bool] = field(default_factory=dict)

    @property
    def tenant_id(self) -> str:
        return self.scenario.tenant_id

    def note(self, text: str) -> None:
        self.notes.append(text)

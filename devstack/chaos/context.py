"""One run's shared state: the platform, the knobs, the Sales users and what has happened so far."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from devstack.chaos.config import ChaosConfig
from devstack.chaos.convergence import Queues
from devstack.chaos.egress import XeroTaps
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
    taps: XeroTaps
    kills: KillLog = field(default_factory=KillLog)
    notes: list[str] = field(default_factory=list)
    # Dynamics invoice id → the Xero invoice acted on: paid in full in Xero; approved, then cancelled.
    paid: dict[str, str] = field(default_factory=dict)
    cancelled: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # phase → duration
    converged: dict[str, bool] = field(default_factory=dict)

    @property
    def tenant_id(self) -> str:
        return self.scenario.tenant_id

    def note(self, text: str) -> None:
        self.notes.append(text)

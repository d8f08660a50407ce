"""Fault injection for Web API requests: counted faults for targeted tests, seeded random ones for chaos runs.

Faults answer before the request reaches the Web API, so nothing is committed by a faulted request.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

RANDOM_KINDS = frozenset({"429", "500", "502", "503", "504"})


@dataclass
class Fault:
    """Injected failure for the next `count` matching Web API requests."""

    kind: str  # "429" | "status" | "slow"
    count: int = 1
    status: int = 503
    retry_after: float = 1
    delay: float = 0.0
    path_contains: str | None = None
    method: str | None = None
    fired: int = 0
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def matches(self, method: str, path: str) -> bool:
        if self.count <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path_contains and self.path_contains not in path)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RandomFaults:
    """Each matching request draws once from a seeded `random.Random`: the same seed and the same
    request sequence give the same faults."""

    def __init__(
        self,
        seed: int,
        rates: dict[str, float],
        retry_after: float = 1,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("seed must be an integer")
        if not isinstance(rates, dict) or not rates:
            raise ValueError('rates must be an object such as {"429": 0.025, "503": 0.025}')
        unknown = set(rates) - RANDOM_KINDS
        if unknown:
            raise ValueError(f"unsupported fault kind(s) {sorted(unknown)}; use {sorted(RANDOM_KINDS)}")
        for kind, rate in rates.items():
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError(f"rate for {kind} must be between 0 and 1")
        if sum(rates.values()) > 1:
            raise ValueError("the rates add up to more than 1")
        if isinstance(retry_after, bool) or not isinstance(retry_after, int | float) or retry_after < 0:
            raise ValueError("retry_after must be a non-negative number of seconds")
        self.seed = seed
        # Sorted so that {"429": a, "503": b} and {"503": b, "429": a} draw the same faults.
        self.rates = {kind: float(rates[kind]) for kind in sorted(rates)}
        self.retry_after = retry_after
        self.method = method
        self.path_contains = path_contains
        self.seen = 0
        self.fired: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RandomFaults:
        unknown = set(data) - {"seed", "rates", "retry_after", "method", "path_contains"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        return cls(
            data.get("seed", 0),
            data.get("rates") or {},
            data.get("retry_after", 1),
            data.get("method"),
            data.get("path_contains"),
        )

    def draw(self, method: str, path: str) -> str | None:
        """The fault kind for this request ("429", "503", …) or None."""
        if self.method and self.method.upper() != method.upper():
            return None
        if self.path_contains and self.path_contains not in path:
            return None
        with self._lock:
            self.seen += 1
            roll = self._random.random()
            threshold = 0.0
            for kind, rate in self.rates.items():
                threshold += rate
                if roll < threshold:
                    self.fired[kind] += 1
                    return kind
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rates": self.rates,
            "retry_after": self.retry_after,
            "method": self.method,
            "path_contains": self.path_contains,
            "seen": self.seen,
            "fired": dict(self.fired),
            "fired_total": sum(self.fired.values()),
        }

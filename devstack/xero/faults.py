"""Fault injection: one-shot rules (match method/path, fire `count` times), a seeded random mix, and the
answers held back by `commit_then_hold` until a harness releases them."""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = (
    "status",
    "rate_limit",
    "slow",
    "commit_then_timeout",
    "commit_then_drop",
    "commit_then_hold",
    "drop",
)
# Requests outside the accounting API that a rule reaches only when its `path` names them.
IDENTITY_PREFIXES = ("/connect/", "/connections", "/Connections", "/identity/")
XERO_ERROR_TEXT = (
    "An error occurred in Xero. Check the API Status page http://status.developer.xero.com "
    "for current service status."
)


def _reaches(pattern: str, method_rule: str, method: str, path: str) -> bool:
    if method_rule not in ("*", method.upper()) or re.search(pattern, path) is None:
        return False
    # A catch-all rule is for the API; the token endpoint is hit only on purpose ("/connect/token").
    return not path.startswith(IDENTITY_PREFIXES) or "connect" in pattern.lower()


@dataclass
class FaultRule:
    """`kind`:
    - status: answer `status` (default 500) with `body`, without touching state;
    - rate_limit: a 429 with Retry-After `retry_after` and X-Rate-Limit-Problem `problem`;
    - slow: wait `delay` seconds, then handle normally;
    - commit_then_timeout: handle (the write is applied), then hold the answer `delay` seconds and drop it;
    - commit_then_drop: handle, then drop the connection without an answer;
    - commit_then_hold: handle, then hold the answer until released (or `hold_seconds` pass), then drop it;
    - drop: drop the connection without handling.
    """

    kind: str
    method: str = "*"
    path: str = ".*"  # regex, searched in the path (without query)
    count: int = 1
    status: int = 500
    body: str = XERO_ERROR_TEXT
    delay: float = 1.0
    retry_after: int = 1
    problem: str = "minute"
    hold_seconds: float = 600.0  # a held answer nobody releases is dropped after this, so runs end
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return _reaches(self.path, self.method, method, path)


@dataclass
class RandomFaults:
    """At most one fault per matching request, drawn from `rates` (kind → probability, summing to ≤ 1)
    by a `random.Random(seed)`: the same requests in the same order meet the same faults."""

    seed: int
    rates: dict[str, float]
    method: str = "*"
    path: str = ".*"
    count: int | None = None  # stop after this many faults; None: no limit
    status: int | list[int] = 500  # a list: one drawn per `status` fault
    body: str = XERO_ERROR_TEXT
    delay: float = 1.0
    retry_after: int = 1
    problem: str = "minute"
    hold_seconds: float = 600.0
    considered: int = 0  # matching requests seen
    fired: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; kinds are {KINDS}")
        if any(not 0 <= float(rate) <= 1 for rate in self.rates.values()):
            raise ValueError("each rate must be between 0 and 1")
        if sum(float(rate) for rate in self.rates.values()) > 1 + 1e-9:
            raise ValueError("rates must add up to at most 1")
        statuses = self.status if isinstance(self.status, list) else [self.status]
        if not statuses or not all(isinstance(s, int) and 400 <= s <= 599 for s in statuses):
            raise ValueError("status must be an HTTP error status or a list of them")
        self.method = self.method.upper()
        self._rng = random.Random(self.seed)

    def pick(self, method: str, path: str) -> FaultRule | None:
        if not _reaches(self.path, self.method, method, path):
            return None
        if self.count is not None and sum(self.fired.values()) >= self.count:
            return None
        self.considered += 1
        draw, threshold = self._rng.random(), 0.0
        for kind in KINDS:  # a fixed order, so a seed means the same thing whatever order `rates` came in
            threshold += float(self.rates.get(kind, 0))
            if draw < threshold:
                self.fired[kind] = self.fired.get(kind, 0) + 1
                status = self._rng.choice(self.status) if isinstance(self.status, list) else self.status
                return FaultRule(
                    kind=kind,
                    status=status,
                    body=self.body,
                    delay=self.delay,
                    retry_after=self.retry_after,
                    problem=self.problem,
                    hold_seconds=self.hold_seconds,
                    fired=1,
                )
        return None

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


@dataclass
class HeldRequest:
    """A committed request whose answer is kept back: what a client that crashed mid-call never saw."""

    id: str
    method: str
    path: str
    tenant: str | None
    idempotency_key: str | None
    status: int  # what the answer would have been
    since: str  # emulator time the hold began, ISO 8601
    held_from: float = field(default_factory=time.monotonic, repr=False)
    answer: bool = False
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop, repr=False)
    _event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def release(self, answer: bool) -> None:
        self.answer = answer
        try:
            self._loop.call_soon_threadsafe(self._event.set)
        except RuntimeError:  # the server's loop has already closed; nobody is waiting
            pass

    async def wait(self, timeout: float) -> bool:
        """True when released with `answer`; False when dropped or timed out."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return self.answer

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "tenant": self.tenant,
            "idempotency_key": self.idempotency_key,
            "status": self.status,
            "since": self.since,
            "held_seconds": round(time.monotonic() - self.held_from, 3),
        }


class FaultBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random: RandomFaults | None = None
        self._fired: Counter[str] = Counter()
        self._held: dict[str, HeldRequest] = {}

    def add(self, spec: dict[str, Any]) -> FaultRule:
        rule = FaultRule(**spec)
        if rule.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        rule.method = rule.method.upper()
        with self._lock:
            self._rules.append(rule)
        return rule

    def set_random(self, spec: dict[str, Any]) -> RandomFaults:
        if "seed" not in spec or "rates" not in spec:
            raise ValueError("random faults need a seed and rates")
        mix = RandomFaults(**{k: v for k, v in spec.items() if k not in ("considered", "fired")})
        with self._lock:
            self._random = mix
        return mix

    def stop_random(self) -> dict[str, Any] | None:
        with self._lock:
            mix, self._random = self._random, None
        return mix.describe() if mix else None

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first live rule matching this call, consuming one of its shots; else the random mix's draw."""
        with self._lock:
            for rule in self._rules:
                if rule.count > 0 and rule.matches(method, path):
                    rule.count -= 1
                    rule.fired += 1
                    self._fired[rule.kind] += 1
                    return rule
            drawn = self._random.pick(method, path) if self._random else None
            if drawn is not None:
                self._fired[drawn.kind] += 1
            return drawn

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._random = None
            self._fired.clear()
        self.release()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [asdict(rule) for rule in self._rules],
                "random": self._random.describe() if self._random else None,
                "fired": dict(self._fired),
                "held": len(self._held),
            }

    # ---- held answers -----------------------------------------------------------------------------------
    def hold(self, entry: dict[str, Any], status: int, since: str) -> HeldRequest:
        held = HeldRequest(
            id=str(uuid.uuid4()),
            method=entry["method"],
            path=entry["path"],
            tenant=entry.get("tenant"),
            idempotency_key=entry.get("idempotency_key"),
            status=status,
            since=since,
        )
        with self._lock:
            self._held[held.id] = held
        return held

    def forget(self, held: HeldRequest) -> None:
        with self._lock:
            self._held.pop(held.id, None)

    def held(self) -> list[dict[str, Any]]:
        with self._lock:
            return [h.describe() for h in self._held.values()]

    def release(self, ids: list[str] | None = None, answer: bool = False) -> int:
        """End held requests (all, or those in `ids`): dropped unanswered, or answered when `answer`."""
        with self._lock:
            chosen = [h for h in self._held.values() if ids is None or h.id in ids]
            for held in chosen:
                del self._held[held.id]
        for held in chosen:
            held.release(answer)
        return len(chosen)

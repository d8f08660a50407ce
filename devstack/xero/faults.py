"""Fault injection rules: match method/path, fire `count` times, then disappear."""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("status", "rate_limit", "slow", "commit_then_timeout", "commit_then_drop", "drop")


@dataclass
class FaultRule:
    """`kind`:
    - status: answer `status` (default 500) with `body`, without touching state;
    - rate_limit: a 429 with Retry-After `retry_after` and X-Rate-Limit-Problem `problem`;
    - slow: wait `delay` seconds, then handle normally;
    - commit_then_timeout: handle (the write is applied), then hold the answer `delay` seconds and drop it;
    - commit_then_drop: handle, then drop the connection without an answer;
    - drop: drop the connection without handling.
    """

    kind: str
    method: str = "*"
    path: str = ".*"  # regex, searched in the path (without query)
    count: int = 1
    status: int = 500
    body: str = (
        "An error occurred in Xero. Check the API Status page http://status.developer.xero.com "
        "for current service status."
    )
    delay: float = 1.0
    retry_after: int = 1
    problem: str = "minute"
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method.upper())) and re.search(self.path, path) is not None


class FaultBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, spec: dict[str, Any]) -> FaultRule:
        rule = FaultRule(**spec)
        if rule.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        rule.method = rule.method.upper()
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first live rule matching this call, consuming one of its shots."""
        with self._lock:
            for rule in self._rules:
                if rule.count > 0 and rule.matches(method, path):
                    rule.count -= 1
                    rule.fired += 1
                    return rule
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

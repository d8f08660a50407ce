"""Webhook delivery: intent-to-receive, signed batched events, bounded retries, in a background thread."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from devstack.xero.clock import Clock
from devstack.xero.config import EmulatorOptions


def sign(body: bytes, key: str) -> str:
    """x-xero-signature: base64(HMAC-SHA256(key as UTF-8, raw body))."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode()


@dataclass
class Subscription:
    url: str
    key: str
    status: str = "PENDING"  # OK once intent-to-receive passed, FAILED otherwise
    intent_results: list[dict[str, Any]] = field(default_factory=list)


class WebhookDispatcher:
    def __init__(
        self, options: EmulatorOptions, clock: Clock, api_base: str = "https://api.xero.com"
    ) -> None:
        self.options = options
        self.clock = clock
        self.api_base = api_base
        self.subscription: Subscription | None = None
        self.deliveries: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._retrying = 0
        self._sequence = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="xero-webhooks", daemon=True)
        self._thread.start()

    # ---- subscription -------------------------------------------------------------------------------------
    def subscribe(self, url: str, key: str) -> Subscription:
        """Run the intent-to-receive series (blocking; call from a worker thread)."""
        sub = Subscription(url=url, key=key)
        passed = True
        with httpx.Client(timeout=self.options.webhook_timeout_seconds) as client:
            for index in range(self.options.intent_to_receive_requests):
                correct = index % 2 == 0
                body = json.dumps(
                    {
                        "events": [],
                        "firstEventSequence": 0,
                        "lastEventSequence": 0,
                        "entropy": secrets.token_hex(10),
                    }
                ).encode()
                signature = sign(body, key) if correct else sign(body, key + "-wrong")
                try:
                    status = client.post(url, content=body, headers=_headers(signature)).status_code
                except httpx.HTTPError:
                    status = 0
                ok = status == (200 if correct else 401)
                passed = passed and ok
                sub.intent_results.append({"signed_correctly": correct, "status": status, "ok": ok})
        sub.status = "OK" if passed else "FAILED"
        with self._cond:
            self.subscription = sub
        return sub

    def unsubscribe(self) -> None:
        with self._cond:
            self.subscription = None
            self._pending.clear()

    # ---- events -------------------------------------------------------------------------------------------
    def emit(self, tenant_id: str, category: str, event_type: str, resource_id: str) -> None:
        with self._cond:
            if self.subscription is None or self.subscription.status != "OK":
                return
            plural = {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}[category]
            self._pending.append(
                {
                    "resourceUrl": f"{self.api_base}/api.xro/2.0/{plural}/{resource_id}",
                    "resourceId": resource_id,
                    "eventDateUtc": self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
                    "eventType": event_type,
                    "eventCategory": category,
                    "tenantId": tenant_id,
                    "tenantType": "ORGANISATION",
                }
            )
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event has been delivered or given up on."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._retrying:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def reset(self) -> None:
        self.flush(timeout=5)
        with self._cond:
            self.subscription = None
            self._pending.clear()
            self.deliveries.clear()
            self._sequence = 0

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    # ---- worker -------------------------------------------------------------------------------------------
    def _run(self) -> None:
        client = httpx.Client(timeout=self.options.webhook_timeout_seconds)
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    client.close()
                    return
            time.sleep(self.options.webhook_batch_window_seconds)  # let a burst of changes share one POST
            with self._cond:
                events, self._pending = self._pending, []
                sub = self.subscription
                if sub is None or not events:
                    self._cond.notify_all()
                    continue
                first = self._sequence + 1
                self._sequence += len(events)
                self._retrying += 1
            body = json.dumps(
                {
                    "events": events,
                    "firstEventSequence": first,
                    "lastEventSequence": first + len(events) - 1,
                    "entropy": secrets.token_hex(10).upper(),
                }
            ).encode()
            try:
                self._deliver(client, sub, body, len(events))
            finally:
                with self._cond:
                    self._retrying -= 1
                    self._cond.notify_all()

    def _deliver(self, client: httpx.Client, sub: Subscription, body: bytes, count: int) -> None:
        delay = self.options.webhook_retry_base_seconds
        for attempt in range(1, self.options.webhook_max_attempts + 1):
            try:
                status = client.post(sub.url, content=body, headers=_headers(sign(body, sub.key))).status_code
            except httpx.HTTPError:
                status = 0
            with self._cond:
                self.deliveries.append(
                    {"attempt": attempt, "status": status, "events": count, "body": body.decode()}
                )
            if status == 200:
                return
            if attempt < self.options.webhook_max_attempts:
                time.sleep(delay)
                delay *= 2


def _headers(signature: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "x-xero-signature": signature}

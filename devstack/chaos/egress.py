"""A pass-through in front of the Xero emulator, one per host, that knows which host sent which write.

The emulator's held requests carry their Idempotency-Key but not who sent them; each host's calls go
through its own tap, so the key names the host to kill. Everything is forwarded as it is, and an answer the
emulator drops is dropped here too (headers promising a body, then the connection closed), so the host
sees what it would have seen talking to Xero directly.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import httpx

from devstack.asgi_server import BackgroundServer

_SKIP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
TIMEOUT_SECONDS = 900.0  # longer than any hold: the emulator decides when an answer ends


class XeroTaps:
    """One tap server per host instance; `senders(key)` names the instances with that write in flight."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.servers: dict[str, BackgroundServer] = {}
        self._lock = threading.Lock()
        self._in_flight: dict[str, dict[str, int]] = defaultdict(dict)  # key → instance → count

    def url_for(self, instance: str) -> str:
        if instance not in self.servers:
            self.servers[instance] = BackgroundServer(self._app(instance)).start()
        return self.servers[instance].base_url

    def senders(self, key: str) -> list[str]:
        with self._lock:
            return [instance for instance, count in self._in_flight.get(key, {}).items() if count > 0]

    def _track(self, key: str | None, instance: str, step: int) -> None:
        if not key:
            return
        with self._lock:
            counts = self._in_flight[key]
            counts[instance] = counts.get(instance, 0) + step
            if counts[instance] <= 0:
                del counts[instance]
            if not counts:
                del self._in_flight[key]

    def _app(self, instance: str) -> Any:
        client: dict[str, httpx.AsyncClient] = {}

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        client["http"] = httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await client["http"].aclose()
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            headers = [
                (k.decode(), v.decode()) for k, v in scope["headers"] if k.decode().lower() not in _SKIP
            ]
            key = next((v for k, v in headers if k.lower() == "idempotency-key"), None)
            query = scope.get("query_string", b"").decode()
            url = self.upstream + scope["path"] + (f"?{query}" if query else "")
            self._track(key, instance, +1)
            try:
                answer = await client["http"].request(scope["method"], url, headers=headers, content=body)
            except httpx.HTTPError:
                # The emulator dropped the answer: promise a body and close, exactly as it does.
                await send(
                    {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
                )
                return
            finally:
                self._track(key, instance, -1)
            out = [
                (k.encode(), v.encode())
                for k, v in answer.headers.multi_items()
                if k.lower() not in _SKIP | {"content-encoding"}
            ]
            await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
            await send({"type": "http.response.body", "body": answer.content})

        return app

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

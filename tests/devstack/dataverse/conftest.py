"""Fixtures: one Dataverse emulator per module, reset per test, with sample data; a Web API client;
a loopback webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.asgi_server import serve_in_thread
from devstack.dataverse.testing import DataverseEmulatorHandle
from tests.dataverse_emulator import dv, emulator, seeded

__all__ = ["dv", "emulator", "seeded"]  # fixtures, shared with the other Dataverse tests


@pytest.fixture
def api(dv: DataverseEmulatorHandle) -> Iterator[httpx.Client]:
    """A Web API client with the emulator's bearer token and the documented OData headers."""
    headers = {"Authorization": f"Bearer {dv.token}", "Accept": "application/json", "OData-Version": "4.0"}
    with httpx.Client(base_url=dv.api_url, headers=headers, timeout=30) as client:
        yield client


def batch_body(base_url: str, requests: list[str], boundary: str = "batch_t") -> tuple[str, dict[str, str]]:
    """A $batch of independent GETs (paths relative to the Web API root)."""
    part = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    body = "".join(f"--{boundary}\r\n{part}GET {base_url}{path} HTTP/1.1\r\n\r\n" for path in requests)
    return body + f"--{boundary}--\r\n", {"Content-Type": f"multipart/mixed; boundary={boundary}"}


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Records every POST it gets; answers `status` (200 unless told otherwise)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self._lock = threading.Lock()

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.received.append(
                Received(request.url.path, request.url.query, dict(request.headers.items()), body)
            )
        return Response(status_code=self.status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._hook, methods=["POST"])])

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.status = 200


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with serve_in_thread(receiver.app()) as server:
        yield receiver, server.base_url


@pytest.fixture
def receiver(receiver_server: tuple[Receiver, str]) -> tuple[Receiver, str]:
    receiver_server[0].clear()
    return receiver_server

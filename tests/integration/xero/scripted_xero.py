"""A scripted HTTP server for adapter tests: records every request and answers from a queue.

It knows nothing about Xero's behaviour (that is the emulator's job); it lets a test say exactly what
the wire returns, so the adapter's handling of each status, header and body can be checked.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

RATE_HEADERS = {
    "X-MinLimit-Remaining": "59",
    "X-DayLimit-Remaining": "4999",
    "X-AppMinLimit-Remaining": "9999",
}


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class ScriptedXero:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.answers: list[Answer] = []

    def answer(
        self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None, **kw: Any
    ) -> None:
        self.answers.append(Answer(status, body, {**RATE_HEADERS, **(headers or {})}, **kw))

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        self.seen.append(
            Seen(
                request.method,
                request.url.path,
                dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()},
                json.loads(raw) if raw and raw[:1] in (b"{", b"[") else raw.decode(),
            )
        )
        answer = self.answers.pop(0) if self.answers else Answer(500, {"Message": "nothing scripted"})
        if answer.delay:
            await asyncio.sleep(answer.delay)
        content = answer.body if isinstance(answer.body, str) else json.dumps(answer.body or {})
        return Response(
            content, status_code=answer.status, headers=answer.headers, media_type="application/json"
        )

    def app(self) -> Starlette:
        methods = ["GET", "PUT", "POST", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=methods)])

"""`$batch` with change sets: each change set's writes commit or fail together, all in one HTTP call."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from connector.adapters.dataverse.http import API_PATH


@dataclass(frozen=True)
class ChangeOperation:
    """One write inside a change set. `path` is relative to the API root, e.g. "invoices(<id>)"."""

    method: str  # POST | PATCH | DELETE
    path: str
    body: Mapping[str, Any] | None = None
    if_match: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeResult:
    status: int
    entity_id: str | None
    etag: str | None
    body: Any = None


@dataclass(frozen=True)
class PartResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def encode_change_set(base_url: str, operations: Sequence[ChangeOperation]) -> tuple[str, bytes]:
    """Return (Content-Type, body) for a $batch with all operations in one change set."""
    return encode_change_sets(base_url, [operations])


def encode_change_sets(base_url: str, change_sets: Sequence[Sequence[ChangeOperation]]) -> tuple[str, bytes]:
    """Return (Content-Type, body) for a $batch of several change sets, each atomic on its own."""
    batch = f"batch_{uuid.uuid4()}"
    lines: list[str] = []
    for operations in change_sets:
        lines += _change_set_lines(batch, base_url, operations)
    lines += [f"--{batch}--", ""]
    return f"multipart/mixed; boundary={batch}", "\r\n".join(lines).encode()


def _change_set_lines(batch: str, base_url: str, operations: Sequence[ChangeOperation]) -> list[str]:
    changeset = f"changeset_{uuid.uuid4()}"
    lines = [f"--{batch}", f"Content-Type: multipart/mixed; boundary={changeset}", ""]
    for index, operation in enumerate(operations, start=1):
        lines += [
            f"--{changeset}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {index}",
            "",
        ]
        lines.append(
            f"{operation.method} {base_url.rstrip('/')}{API_PATH}{operation.path.lstrip('/')} HTTP/1.1"
        )
        lines.append("Content-Type: application/json; type=entry")
        if operation.if_match:
            lines.append(f"If-Match: {operation.if_match}")
        lines += [f"{name}: {value}" for name, value in operation.headers.items()]
        lines.append("")
        lines.append(json.dumps(operation.body, default=str) if operation.body is not None else "")
    lines += [f"--{changeset}--", ""]
    return lines


_BOUNDARY = re.compile(r'boundary="?([^";\s]+)"?', re.IGNORECASE)


def _headers_and_rest(block: bytes) -> tuple[dict[str, str], bytes]:
    text = block.replace(b"\r\n", b"\n").lstrip(b"\n")
    head, _, rest = text.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def decode_batch_response(response: httpx.Response) -> list[PartResponse]:
    """Flatten a $batch response (including nested change set responses) into HTTP part responses."""
    return _decode(response.content, response.headers.get("content-type", ""))


def _decode(body: bytes, content_type: str) -> list[PartResponse]:
    match = _BOUNDARY.search(content_type)
    if match is None:
        return []
    results: list[PartResponse] = []
    for chunk in body.split(b"--" + match.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        headers, rest = _headers_and_rest(chunk)
        if headers.get("content-type", "").startswith("multipart/mixed"):
            results += _decode(rest, headers["content-type"])
            continue
        status_line, _, after = rest.partition(b"\n")
        inner_headers, inner_body = _headers_and_rest(after)
        words = status_line.decode().split()
        status = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
        results.append(PartResponse(status, inner_headers, inner_body.strip()))
    return results

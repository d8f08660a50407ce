"""OData `$batch` (multipart/mixed): change sets are atomic; outside them, stop at the first failure
unless `Prefer: odata.continue-on-error` is sent."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from devstack.dataverse.store import ODataError
from devstack.dataverse.webapi import API_PREFIX, ApiRequest, ApiResponse, WebApi

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
MAX_REQUESTS = 1000
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


@dataclass
class Part:
    headers: dict[str, str]
    body: bytes


def _split_headers(block: bytes) -> tuple[dict[str, str], bytes]:
    text = block.replace(b"\r\n", b"\n")
    head, _, rest = text.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def split_multipart(body: bytes, boundary: str) -> list[Part]:
    delimiter = b"--" + boundary.encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        headers, content = _split_headers(chunk.lstrip(b"\r\n"))
        parts.append(Part(headers, content))
    return parts


def boundary_of(content_type: str) -> str:
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ODataError(400, "multipart/mixed requests need a boundary.", "0x80060891")
    return match.group(1)


def _inner_request(part: Part, outer: ApiRequest, content_ids: dict[str, str]) -> ApiRequest:
    text = part.body.replace(b"\r\n", b"\n")
    request_line, _, rest = text.partition(b"\n")
    headers, body = _split_headers(rest)
    words = request_line.decode().split()
    if len(words) < 2:
        raise ODataError(400, "Malformed request line in $batch part.", "0x80060891")
    method, url = words[0].upper(), words[1]
    if url.startswith("$"):
        reference, _, tail = url[1:].partition("/")
        if reference not in content_ids:
            raise ODataError(400, f"Unknown Content-ID reference ${reference}.", "0x80060891")
        url = content_ids[reference] + ("/" + tail if tail else "")
    parsed = urlsplit(url)
    path = parsed.path.split(API_PREFIX, 1)[-1].lstrip("/")
    if "content-id" in part.headers:
        headers["content-id"] = part.headers["content-id"]
    merged = {**{k: v for k, v in outer.headers.items() if k in {"authorization", "prefer"}}, **headers}
    return ApiRequest(
        method,
        path,
        dict(parse_qsl(parsed.query, keep_blank_values=True)),
        merged,
        body.rstrip(b"\n"),
        outer.base_url,
        outer.user_id,
    )


def _http_part(response: ApiResponse, content_id: str | None = None) -> bytes:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"HTTP/1.1 {response.status} {_REASONS.get(response.status, '')}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + response.body + b"\r\n"


class BatchProcessor:
    def __init__(self, api: WebApi) -> None:
        self.api = api

    def handle(self, request: ApiRequest) -> ApiResponse:
        try:
            return self._handle(request)
        except ODataError as error:
            return ApiResponse.error(error)

    def _handle(self, request: ApiRequest) -> ApiResponse:
        parts = split_multipart(request.body, boundary_of(request.headers.get("content-type", "")))
        continue_on_error = "odata.continue-on-error" in request.headers.get("prefer", "")
        if len(parts) > MAX_REQUESTS:
            raise ODataError(
                400, f"The number of requests in a batch is limited to {MAX_REQUESTS}.", "0x80060891"
            )
        response_boundary = f"batchresponse_{uuid.uuid4()}"
        chunks: list[bytes] = []
        for part in parts:
            content_type = part.headers.get("content-type", "")
            if content_type.startswith("multipart/mixed"):
                chunk, failed = self._change_set(part, request)
            else:
                inner = _inner_request(part, request, {})
                response = self.api.handle(inner)
                chunk, failed = _http_part(response), response.status >= 400
            chunks.append(f"--{response_boundary}\r\n".encode() + chunk)
            if failed and not continue_on_error:
                break
        body = b"".join(chunks) + f"--{response_boundary}--\r\n".encode()
        return ApiResponse(
            200,
            body,
            {"Content-Type": f"multipart/mixed; boundary={response_boundary}", "OData-Version": "4.0"},
        )

    def _change_set(self, part: Part, outer: ApiRequest) -> tuple[bytes, bool]:
        inner_parts = split_multipart(part.body, boundary_of(part.headers["content-type"]))
        responses: list[tuple[ApiResponse, str | None]] = []
        content_ids: dict[str, str] = {}
        failure: tuple[ApiResponse, str | None] | None = None
        state = self.api.state
        correlation = outer.headers.get("x-ms-correlation-request-id")
        try:
            with state.transaction(correlation, outer.user_id or self.api.emulator.app_user_id) as tx:
                for inner_part in inner_parts:
                    inner = _inner_request(inner_part, outer, content_ids)
                    if inner.method == "GET":
                        raise _Abort(
                            ApiResponse.error(
                                ODataError(400, "Change sets cannot contain GET requests.", "0x80060891")
                            ),
                            None,
                        )
                    response = self.api.handle(inner, tx)
                    content_id = inner.headers.get("content-id")
                    if response.status >= 400:
                        raise _Abort(response, content_id)
                    if content_id and content_id in tx.content_ids:
                        table, row_id = tx.content_ids[content_id]
                        content_ids[content_id] = f"{state.tables[table].entity_set}({row_id})"
                    responses.append((response, content_id))
        except _Abort as abort:
            failure = (abort.response, abort.content_id)
        if failure is not None:
            return _http_part(*failure), True
        boundary = f"changesetresponse_{uuid.uuid4()}"
        body = f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n".encode()
        for response, content_id in responses:
            body += f"--{boundary}\r\n".encode() + _http_part(response, content_id)
        body += f"--{boundary}--\r\n".encode()
        return body, False


class _Abort(Exception):
    """Rolls a change set back, carrying the failing response."""

    def __init__(self, response: ApiResponse, content_id: str | None) -> None:
        super().__init__("change set failed")
        self.response = response
        self.content_id = content_id

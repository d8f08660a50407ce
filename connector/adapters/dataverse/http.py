"""HTTP transport for the Dataverse Web API: auth header, retries, typed errors, call counting."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx
from azure.core.credentials import AccessToken, TokenCredential

from connector.adapters.dataverse.auth import scope_for
from connector.adapters.dataverse.budget import DataverseBudget
from connector.errors import (
    AuthorisationError,
    ConcurrencyConflictError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    RetryableError,
)
from connector.telemetry import record_dataverse_retry

API_PATH = "/api/data/v9.2/"
BASE_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
TOKEN_REFRESH_MARGIN = 300  # seconds before expiry


class DataverseRequestError(ConnectorError):
    """A 4xx the caller must fix (bad column, invalid value, read-only record...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Dataverse {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def odata_string(value: str) -> str:
    """An OData string literal: quotes doubled, so a value can never end the literal early."""
    return "'" + value.replace("'", "''") + "'"


def parse_json(response: httpx.Response) -> Any:
    """JSON with exact decimals (money is never a float)."""
    return json.loads(response.content, parse_float=Decimal) if response.content else None


def error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = (parse_json(response) or {}).get("error") or {}
        return str(error.get("code") or ""), str(error.get("message") or response.reason_phrase)
    except (ValueError, AttributeError):
        return "", response.text[:500] or response.reason_phrase


def retry_after_seconds(response: httpx.Response, default: float) -> float:
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else default
    except ValueError:
        return default


def raise_for_status(response: httpx.Response) -> None:
    """Map a final (non-retried) error response to the connector's error classes."""
    status = response.status_code
    if status < 400:
        return
    code, message = error_of(response)
    if status in (401, 403):
        raise AuthorisationError(f"Dataverse refused the request ({status}): {message}")
    if status == 404:
        raise NotFoundError(message)
    if status == 412:
        raise ConcurrencyConflictError(message)
    if status == 429:
        raise RateLimitedError(f"Dataverse throttled: {message}", retry_after_seconds(response, 5.0), code)
    if status >= 500:
        raise RetryableError(f"Dataverse {status}: {message}")
    raise DataverseRequestError(status, code, message)


class DataverseTransport:
    """One httpx.AsyncClient per org. Retries 429/5xx/network errors a bounded number of times."""

    def __init__(
        self,
        base_url: str,
        credential: TokenCredential,
        *,
        client: httpx.AsyncClient | None = None,
        max_attempts: int = 4,
        max_retry_wait: float = 60.0,
        backoff: float = 0.5,
        timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        budget: DataverseBudget | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + API_PATH
        self._credential = credential
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._owns_client = client is None
        self.max_attempts = max_attempts
        self.max_retry_wait = max_retry_wait
        self.backoff = backoff
        self._sleep = sleep
        self._token: AccessToken | None = None
        self._token_lock = asyncio.Lock()
        self.calls: Counter[str] = Counter()  # HTTP requests sent, by method (retries included)
        # O3: every request draws on the environment's service-protection budget, shared by all instances.
        self.budget = budget

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _bearer(self) -> str:
        async with self._token_lock:
            if self._token is None or self._token.expires_on - TOKEN_REFRESH_MARGIN < time.time():
                # azure-identity is synchronous: keep it off the event loop.
                self._token = await asyncio.to_thread(self._credential.get_token, scope_for(self.base_url))
            return self._token.token

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        """One HTTP request (a $batch is one), inside a permit from the budget when there is one."""
        budget = self.budget
        permit = await budget.acquire(self.max_retry_wait) if budget is not None else None
        self.calls[method] += 1
        response: httpx.Response | None = None
        try:
            response = await self._client.request(
                method, self.url(path), params=params, content=body, headers=headers
            )
            return response
        finally:
            if budget is not None and permit is not None:
                await budget.release(permit, response)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.api_url + path.lstrip("/")

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; returns a successful (< 400) response or raises a connector error."""
        merged = dict(BASE_HEADERS)
        if json_body is not None:
            merged["Content-Type"] = "application/json"
        merged.update(headers or {})
        body = (
            content
            if content is not None
            else (json.dumps(json_body, default=str).encode() if json_body is not None else None)
        )
        for attempt in range(1, self.max_attempts + 1):
            merged["Authorization"] = f"Bearer {await self._bearer()}"
            try:
                response = await self._request(method, path, params, body, merged)
            except httpx.TransportError as exc:
                if attempt == self.max_attempts:
                    raise RetryableError(f"Dataverse unreachable: {type(exc).__name__}: {exc}") from exc
                await self._sleep(self.backoff * 2 ** (attempt - 1))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                wait = retry_after_seconds(response, self.backoff * 2 ** (attempt - 1))
                record_dataverse_retry(method, response.status_code, wait)
                budget = self.budget
                if response.status_code == 429 and budget is not None:
                    await budget.throttled(wait)  # every instance waits: the next permit comes after it
                if attempt == self.max_attempts or wait > self.max_retry_wait:
                    raise_for_status(response)
                if response.status_code != 429 or budget is None:
                    await self._sleep(wait)
                continue
            raise_for_status(response)
            return response
        raise RetryableError(
            "Dataverse retries exhausted"
        )  # pragma: no cover - the loop always returns or raises

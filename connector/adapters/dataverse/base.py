"""What every table's client shares: the transport, the schema, paging, PATCH and atomic change sets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import httpx
from azure.core.credentials import TokenCredential

from connector.adapters.dataverse.batch import (
    ChangeOperation,
    ChangeResult,
    decode_batch_response,
    encode_change_sets,
)
from connector.adapters.dataverse.http import DataverseTransport, parse_json, raise_for_status
from connector.adapters.dataverse.schema import ConnectorSchema, build_schema

REPRESENTATION = {"Prefer": "return=representation"}
MAX_CHANGE_SET = 1000


class DataverseBase:
    """Errors: NotFoundError, ConcurrencyConflictError, AuthorisationError, RateLimitedError /
    RetryableError (after bounded retries), DataverseRequestError."""

    def __init__(
        self,
        base_url: str,
        credential: TokenCredential,
        *,
        prefix: str = "xc",
        client: httpx.AsyncClient | None = None,
        max_attempts: int = 4,
        max_retry_wait: float = 60.0,
        backoff: float = 0.5,
    ) -> None:
        self.transport = DataverseTransport(
            base_url,
            credential,
            client=client,
            max_attempts=max_attempts,
            max_retry_wait=max_retry_wait,
            backoff=backoff,
        )
        self.schema: ConnectorSchema = build_schema(prefix)

    @property
    def calls(self) -> Counter[str]:
        """HTTP requests sent so far, by method (retries count)."""
        return self.transport.calls

    async def close(self) -> None:
        await self.transport.close()

    async def get_json(
        self, path: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        return parse_json(await self.transport.send("GET", path, params=params, headers=headers))

    async def who_am_i(self) -> UUID:
        """The Dataverse user this client acts as (the connector's application user)."""
        return UUID(str((await self.get_json("WhoAmI"))["UserId"]))

    async def list_all(
        self, entity_set: str, params: Mapping[str, str], page_size: int = 500
    ) -> list[dict[str, Any]]:
        """Every row of a query, following @odata.nextLink (one call per page)."""
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        page = await self.get_json(entity_set, params, headers)
        rows: list[dict[str, Any]] = list(page["value"])
        while page.get("@odata.nextLink"):
            page = await self.get_json(page["@odata.nextLink"], None, headers)
            rows.extend(page["value"])
        return rows

    async def _patch(
        self,
        path: str,
        body: Mapping[str, Any],
        if_match: str | None = "*",
        representation: str | None = None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if if_match:
            headers["If-Match"] = if_match  # "*" also stops PATCH from creating (upsert) a missing row
        params = None
        if representation is not None:
            headers.update(REPRESENTATION)
            params = {"$select": representation}
        return await self.transport.send("PATCH", path, json_body=dict(body), headers=headers, params=params)

    async def execute_change_set(self, operations: Sequence[ChangeOperation]) -> list[ChangeResult]:
        """Send writes atomically in ONE $batch call. A failing write rolls all back and raises its error."""
        if not operations:
            return []
        return await self.execute_change_sets([operations])

    async def execute_change_sets(
        self, change_sets: Sequence[Sequence[ChangeOperation]]
    ) -> list[ChangeResult]:
        """Several change sets in ONE $batch call, each atomic on its own. The first failing part raises
        its error; change sets before it are committed, those after it are not run."""
        change_sets = [operations for operations in change_sets if operations]
        if not change_sets:
            return []
        content_type, body = encode_change_sets(self.transport.base_url, change_sets)
        response = await self.transport.send(
            "POST", "$batch", content=body, headers={"Content-Type": content_type}
        )
        results: list[ChangeResult] = []
        for part in decode_batch_response(response):
            if part.status >= 400:
                raise_for_status(httpx.Response(part.status, headers=part.headers, content=part.body))
            data = None
            if part.body:
                try:
                    data = parse_json(httpx.Response(part.status, content=part.body))
                except ValueError:
                    data = None
            results.append(
                ChangeResult(part.status, part.headers.get("odata-entityid"), part.headers.get("etag"), data)
            )
        return results

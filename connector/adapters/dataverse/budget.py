"""Dataverse's service protection limits as one budget shared by every instance (SPEC O3).

Per user: 6,000 requests in a 5-minute sliding window and 52 at once; over that, 429 with Retry-After
(reference dataverse.md, "Service protection limits"). The connector calls as one application user
per environment, so the budget is keyed by the environment's host. A $batch is one request, as
Dataverse counts it. The `x-ms-ratelimit-burst-remaining-xrm-requests` header tightens the shared view
as Xero's X-MinLimit-Remaining does; a 429 blocks every instance until Retry-After has passed.

Assumptions: the documents say the limits also apply per web server; servers are invisible to us, so
the whole environment is treated as one (stricter). The execution-time limit (20 minutes in 5) has no
count we can keep; its 429 is honoured like the others.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
from azure.storage.blob import BlobServiceClient

from connector.adapters.storage.rate_limit import Permit, RateLimiter, RateLimits
from connector.adapters.storage.rate_limit_blob import BlobLimiterBackend
from connector.adapters.storage.rate_limit_state import Headroom

DATAVERSE_LIMITS = RateLimits(
    per_window=6000,
    window_seconds=300.0,
    concurrent=52,
    per_day=None,
    lease_size=20,
    lease_seconds=2.0,
    resolution_seconds=1.0,  # keeps a full window's state to about 300 entries
    slot_ttl_seconds=60.0,  # longer than a request can take (the transport's timeout is 30 s)
)
# Paced in fifteenths of the window: any 5 minutes then hold at most fifteen slices' worth (6,000), and a
# spent budget holds requests back for at most 20 s, never minutes, so a backlog makes steady progress.
PACING_SLICES = 15
DEFAULT_CONTAINER = "dataverse-rate-limits"
BURST_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests"


def paced_limits(window_seconds: float = DATAVERSE_LIMITS.window_seconds) -> RateLimits:
    """Dataverse's limits as the connector keeps them: the window (300 s, less on a sped-up local clock)
    cut into PACING_SLICES, each allowed its share of the requests."""
    return replace(
        DATAVERSE_LIMITS,
        per_window=DATAVERSE_LIMITS.per_window // PACING_SLICES,
        window_seconds=window_seconds / PACING_SLICES,
    )


def budget_key(base_url: str) -> str:
    """The environment's host, as a blob name."""
    host = urlsplit(base_url).netloc or base_url
    return re.sub(r"[^A-Za-z0-9.-]", "-", host.lower())


def headroom_of(response: httpx.Response) -> Headroom | None:
    """Requests left in the window, from the diagnostic header (absent on some responses)."""
    raw = response.headers.get(BURST_HEADER)
    if raw is None:
        return None
    try:
        return Headroom(window_remaining=int(float(raw.replace(",", ""))))
    except ValueError:
        return None


class DataverseBudget:
    """The budget one DataverseTransport draws from: one permit per HTTP request."""

    def __init__(self, limiter: RateLimiter, base_url: str) -> None:
        self.limiter = limiter
        self.key = budget_key(base_url)

    async def acquire(self, max_wait: float) -> Permit:
        """A permit, waiting at most `max_wait` s; else RateLimitedError(problem="local")."""
        return await self.limiter.acquire(self.key, max_wait)

    async def release(self, permit: Permit, response: httpx.Response | None) -> None:
        await self.limiter.arelease(permit, headroom_of(response) if response is not None else None)

    async def throttled(self, retry_after: float) -> None:
        """Dataverse said 429: no instance sends before Retry-After has passed."""
        await self.limiter.arate_limited(self.key, retry_after)


def dataverse_budget(
    service: BlobServiceClient,
    base_url: str,
    limits: RateLimits = DATAVERSE_LIMITS,
    container: str = DEFAULT_CONTAINER,
) -> DataverseBudget:
    """The production budget: state in one blob per environment, in the connector's storage account."""
    return DataverseBudget(
        RateLimiter(BlobLimiterBackend(service, container), limits, service="Dataverse"), base_url
    )

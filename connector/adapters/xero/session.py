"""One connection's xero-python session: tokens, the rate-limit slot, headers and errors per call.

How headers are read: every SDK call is made with `_return_http_data_only=False`, which in xero-python
15.2.0 returns `(data, status, headers)` with headers as urllib3's case-insensitive HTTPHeaderDict.
`ApiClient.last_response` is not used: it is shared between threads and only set on success. On
errors, the SDK's HTTPStatusException carries the response, and `.headers` gives the same dict.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import certifi
import urllib3
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.exceptions import HTTPStatusException
from xero_python.identity import IdentityApi

from connector.adapters.storage.rate_limit import RateLimiter
from connector.adapters.storage.token_store import REFRESH_MARGIN_SECONDS, TokenSet, TokenStore
from connector.adapters.xero.auth import XeroTokenFetcher, configure_token_endpoints
from connector.adapters.xero.errors import headroom_from_headers, http_status, map_sdk_error
from connector.budget import XERO_SLOT_WAIT
from connector.domain.xero_records import RateLimitHeadroom
from connector.errors import AuthorisationError, RateLimitedError
from connector.settings import Settings
from connector.telemetry import record_xero_call


def build_api_client(settings: Settings) -> ApiClient:
    """An ApiClient with credentials set after construction and urllib3 retries off."""
    config = Configuration()  # no constructor args: they leak across instances (reference §2.3 pitfall a)
    secret = settings.xero_client_secret.get_secret_value() if settings.xero_client_secret else None
    config.oauth2_token = OAuth2Token(client_id=settings.xero_client_id, client_secret=secret)
    api_client = ApiClient(config, pool_threads=1)
    # urllib3's default Retry(3) repeats a timed-out PUT: a create could reach Xero four times.
    api_client.rest_client.pool_manager = urllib3.PoolManager(
        num_pools=4, maxsize=5, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), retries=False
    )
    return api_client


def request_timeout(seconds: int) -> tuple[int, int]:
    """xero-python honours only int or (connect, read) tuples; a float is silently ignored."""
    return (min(10, seconds), seconds)


class XeroSession:
    """The SDK for one connection (one organisation): every call goes through `_call`."""

    def __init__(
        self,
        settings: Settings,
        connection_id: str,
        tenant_id: str,
        token_store: TokenStore,
        *,
        custom_connection: bool = False,
        headroom_listener: Callable[[RateLimitHeadroom], None] | None = None,
        clock: Callable[[], float] = time.time,
        limiter: RateLimiter | None = None,
        max_wait_seconds: float = 5.0,
    ) -> None:
        self.connection_id = connection_id
        # O3: every call takes a slot from the organisation's budget, shared by all instances.
        self._limiter = limiter
        self._max_wait = max_wait_seconds
        # Custom connections need no xero-tenant-id; the SDK still wants the argument, so "".
        self.tenant_id = tenant_id
        self._store = token_store
        self._custom = custom_connection
        self._listener = headroom_listener
        self._clock = clock
        self._timeout = request_timeout(settings.xero_timeout_seconds)
        configure_token_endpoints(settings.xero_identity_base_url)
        self._api_client = build_api_client(settings)
        self._api_client.oauth2_token_getter(self._sdk_token)
        self._api_client.oauth2_token_saver(self._sdk_saved_token)
        self._accounting = AccountingApi(self._api_client, base_url=settings.xero_api_base_url)
        self._identity = IdentityApi(self._api_client, base_url=settings.xero_connections_base_url)
        self._fetcher = XeroTokenFetcher(
            self._api_client,
            settings.xero_client_id or "",
            settings.xero_client_secret.get_secret_value() if settings.xero_client_secret else "",
            clock=clock,
        )
        self._token: TokenSet | None = None
        self._lock = threading.Lock()
        self.call_counts: Counter[str] = Counter()
        self.last_headroom: RateLimitHeadroom | None = None

    # --- bookkeeping --------------------------------------------------------------------------

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self.call_counts.values())

    def _record(self, operation: str, headers: Mapping[str, Any] | None) -> None:
        headroom = headroom_from_headers(headers)
        record_xero_call(operation, self.connection_id, headers, headroom.day_remaining if headroom else None)
        with self._lock:
            self.call_counts[operation] += 1
            if headroom is not None:
                self.last_headroom = headroom
        if headroom is not None and self._listener is not None:
            self._listener(headroom)

    # --- tokens -------------------------------------------------------------------------------

    def _sdk_token(self) -> dict[str, Any]:
        token = self._token
        if token is None:  # only reachable if a call bypassed _ensure_token
            raise AuthorisationError("no Xero token loaded for this connection")
        return token.to_sdk()

    def _sdk_saved_token(self, token: dict[str, Any]) -> None:
        # The SDK cannot refresh by itself (to_sdk() withholds the refresh token); this hook must stay unused.
        raise AuthorisationError("unexpected token refresh inside xero-python")

    def _ensure_token(self, stale: TokenSet | None = None) -> TokenSet:
        """A usable token: cached, re-read from the store, or refreshed through its single flight."""
        now = self._clock()
        token = self._token
        if stale is None and token is not None and not token.expires_within(REFRESH_MARGIN_SECONDS, now):
            return token
        token = self._store.get(self.connection_id)
        if token is None:
            if not self._custom:
                raise AuthorisationError("no Xero token is stored for this connection: connect it first")
            token = self._fetcher.client_credentials()
            self._store.save(self.connection_id, token)
        if stale is not None or token.expires_within(REFRESH_MARGIN_SECONDS, now):
            token = self._store.refresh_single_flight(self.connection_id, self._fetcher.renew, stale=stale)
        self._token = token
        return token

    def refresh_token_now(self) -> TokenSet:
        """Force a refresh (single flight) of the connection's token."""
        return self._ensure_token(stale=self._ensure_token())

    # --- the one call path --------------------------------------------------------------------

    def _call(self, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call: token, timeout, headers, counting, error mapping; one retry after a 401."""
        token = self._ensure_token()
        for attempt in (1, 2):
            try:
                data, _status, headers = self._send(method, *args, **kwargs)
            except RateLimitedError:
                raise  # our own budget said wait: nothing was sent
            except Exception as exc:
                headers = exc.headers if isinstance(exc, HTTPStatusException) else None
                self._record(operation, headers)
                status = http_status(exc) if isinstance(exc, HTTPStatusException) else None
                if status == 401 and attempt == 1:
                    # Perhaps another instance rotated the token; a 401 means nothing was written: retry once.
                    token = self._ensure_token(stale=token)
                    continue
                raise map_sdk_error(exc, operation) from None
            self._record(operation, headers)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One HTTP request inside a rate-limit slot; Xero's headers and 429s tighten the shared budget."""
        limiter = self._limiter
        if limiter is None:
            return method(*args, _return_http_data_only=False, _request_timeout=self._timeout, **kwargs)
        wait = XERO_SLOT_WAIT.get()
        permit = limiter.acquire_blocking(self.tenant_id, self._max_wait if wait is None else wait)
        headroom: RateLimitHeadroom | None = None
        try:
            result = method(*args, _return_http_data_only=False, _request_timeout=self._timeout, **kwargs)
            headroom = headroom_from_headers(result[2])
            return result
        except HTTPStatusException as exc:
            headroom = headroom_from_headers(exc.headers)
            if http_status(exc) == 429:
                mapped = map_sdk_error(exc, "rate limit")
                if isinstance(mapped, RateLimitedError):
                    limiter.rate_limited(self.tenant_id, mapped.retry_after)
            raise
        finally:
            limiter.release(permit, headroom)

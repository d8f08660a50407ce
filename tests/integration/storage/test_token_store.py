"""Token store: blob persistence, single-flight refresh under a lease, rotation, invalid_grant."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobLeaseClient, BlobServiceClient
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration

from connector.adapters.storage.token_store import BlobTokenStore, TokenSet, TokenStore
from connector.adapters.xero.auth import XeroTokenFetcher, configure_token_endpoints
from connector.errors import AuthorisationError
from devstack.asgi_server import serve_in_thread
from tests.fakes.storage import MemoryTokenStore

CONTAINER = "tokens-under-test"


def expiring_token(access: str = "old-access", refresh: str = "old-refresh") -> TokenSet:
    return TokenSet(
        access_token=SecretStr(access),
        refresh_token=SecretStr(refresh),
        expires_at=time.time() + 10,  # inside the refresh margin
        scope="offline_access accounting.invoices",
    )


def fresh_token(access: str, refresh: str) -> TokenSet:
    return TokenSet(
        access_token=SecretStr(access),
        refresh_token=SecretStr(refresh),
        expires_at=time.time() + 1800,
        scope=["offline_access", "accounting.invoices"],
    )


@pytest.fixture
def blob_store(azurite: Any) -> BlobTokenStore:
    return BlobTokenStore(BlobServiceClient.from_connection_string(azurite.connection_string), CONTAINER)


@pytest.fixture
def other_instance(azurite: Any) -> BlobTokenStore:
    """A second store with its own client, as another Functions instance would have."""
    return BlobTokenStore(BlobServiceClient.from_connection_string(azurite.connection_string), CONTAINER)


def test_c2_token_set_keeps_scope_as_a_list_and_hides_secrets() -> None:
    token = expiring_token()
    assert token.scope == ["offline_access", "accounting.invoices"]
    assert "old-access" not in repr(token)
    assert "old-refresh" not in str(token)
    assert "refresh_token" not in token.to_sdk()  # the SDK must never refresh behind the store's back


@pytest.mark.integration
def test_c2_blob_store_saves_and_loads(blob_store: BlobTokenStore, other_instance: BlobTokenStore) -> None:
    connection = str(uuid.uuid4())
    assert blob_store.get(connection) is None
    saved = fresh_token("a1", "r1")
    blob_store.save(connection, saved)
    loaded = other_instance.get(connection)
    assert loaded is not None
    assert loaded.access_token.get_secret_value() == "a1"
    assert loaded.refresh_token is not None and loaded.refresh_token.get_secret_value() == "r1"
    assert loaded.scope == saved.scope
    assert loaded.expires_at == pytest.approx(saved.expires_at)
    blob_store.delete(connection)
    assert other_instance.get(connection) is None


def _concurrent_refresh(store_a: TokenStore, store_b: TokenStore) -> None:
    connection = str(uuid.uuid4())
    store_a.save(connection, expiring_token())
    calls: list[str] = []
    calls_lock = threading.Lock()

    def refresh(current: TokenSet) -> TokenSet:
        with calls_lock:
            calls.append(current.refresh_token.get_secret_value() if current.refresh_token else "")
        time.sleep(0.5)  # long enough for the other thread to arrive and wait
        return fresh_token("new-access", "new-refresh")

    results: dict[str, TokenSet] = {}

    def run(name: str, store: TokenStore) -> None:
        results[name] = store.refresh_single_flight(connection, refresh)

    threads = [threading.Thread(target=run, args=(n, s)) for n, s in (("a", store_a), ("b", store_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert calls == ["old-refresh"]
    assert {r.access_token.get_secret_value() for r in results.values()} == {"new-access"}
    stored = store_b.get(connection)
    assert stored is not None and stored.refresh_token is not None
    assert stored.refresh_token.get_secret_value() == "new-refresh"


@pytest.mark.integration
def test_c2_two_instances_refreshing_at_once_refresh_once(
    blob_store: BlobTokenStore, other_instance: BlobTokenStore
) -> None:
    _concurrent_refresh(blob_store, other_instance)


def test_c2_memory_store_refreshes_once_too() -> None:
    store = MemoryTokenStore()
    _concurrent_refresh(store, store)


@pytest.mark.integration
def test_c2_rotated_refresh_token_is_saved_before_the_new_access_token_is_returned(
    blob_store: BlobTokenStore, other_instance: BlobTokenStore
) -> None:
    connection = str(uuid.uuid4())
    blob_store.save(connection, expiring_token())

    def refresh(current: TokenSet) -> TokenSet:
        return fresh_token("new-access", "rotated-refresh")

    token = blob_store.refresh_single_flight(connection, refresh)
    # The moment the caller holds the new access token, another instance already reads the rotated one.
    stored = other_instance.get(connection)
    assert stored is not None and stored.refresh_token is not None
    assert token.access_token.get_secret_value() == "new-access"
    assert stored.refresh_token.get_secret_value() == "rotated-refresh"


@pytest.mark.integration
def test_c2_a_refresh_that_cannot_be_saved_is_never_used(blob_store: BlobTokenStore, azurite: Any) -> None:
    """If the rotated token cannot be written (our lease was lost), the new access token is not handed out."""
    connection = str(uuid.uuid4())
    blob_store.save(connection, expiring_token())
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    blob = service.get_blob_client(CONTAINER, f"{connection}.json")

    def refresh_then_lose_the_lease(current: TokenSet) -> TokenSet:
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
        blob.acquire_lease(lease_duration=15)  # someone else holds it now
        return fresh_token("unsaved-access", "unsaved-refresh")

    with pytest.raises(HttpResponseError):
        blob_store.refresh_single_flight(connection, refresh_then_lose_the_lease)
    stored = blob_store.get(connection)
    assert stored is not None
    assert stored.access_token.get_secret_value() == "old-access"


@pytest.mark.integration
def test_c2_a_fresh_token_from_another_instance_is_reused_not_refreshed(
    blob_store: BlobTokenStore, other_instance: BlobTokenStore
) -> None:
    connection = str(uuid.uuid4())
    stale = fresh_token("got-401-with-this", "r1")
    blob_store.save(connection, stale)
    other_instance.save(connection, fresh_token("already-refreshed", "r2"))

    def must_not_run(current: TokenSet) -> TokenSet:
        raise AssertionError("refresh should not run: the stored token is already new")

    token = blob_store.refresh_single_flight(connection, must_not_run, stale=stale)
    assert token.access_token.get_secret_value() == "already-refreshed"


@pytest.mark.integration
def test_c2_refresh_without_a_stored_token_asks_for_reconnection(blob_store: BlobTokenStore) -> None:
    with pytest.raises(AuthorisationError):
        blob_store.refresh_single_flight(str(uuid.uuid4()), lambda current: current)


# --- the token endpoint, for real over HTTP --------------------------------------------------------


class TokenEndpoint:
    """A scripted /connect/token: records the forms it got and answers from a queue."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []

    async def token(self, request: Request) -> JSONResponse:
        form = parse_qs((await request.body()).decode())
        self.forms.append({name: values[0] for name, values in form.items()})
        status, body = self.answers.pop(0)
        return JSONResponse(body, status_code=status)


@pytest.fixture
def token_endpoint() -> Iterator[tuple[TokenEndpoint, str]]:
    endpoint = TokenEndpoint()
    app = Starlette(routes=[Route("/connect/token", endpoint.token, methods=["POST"])])
    with serve_in_thread(app) as server:
        configure_token_endpoints(server.base_url)
        yield endpoint, server.base_url
    configure_token_endpoints("https://identity.xero.com")


def fetcher() -> XeroTokenFetcher:
    return XeroTokenFetcher(ApiClient(Configuration()), "client-id", "client-secret")


def test_c2_refresh_sends_rotating_grant_and_stores_the_new_refresh_token(
    token_endpoint: tuple[TokenEndpoint, str],
) -> None:
    endpoint, _ = token_endpoint
    endpoint.answers.append(
        (
            200,
            {
                "access_token": "at-2",
                "refresh_token": "rt-2",
                "expires_in": 1800,
                "token_type": "Bearer",
                "scope": "offline_access accounting.invoices",
            },
        )
    )
    store = MemoryTokenStore()
    store.save("c1", expiring_token())
    token = store.refresh_single_flight("c1", fetcher().renew)
    assert endpoint.forms[0]["grant_type"] == "refresh_token"
    assert endpoint.forms[0]["refresh_token"] == "old-refresh"
    assert endpoint.forms[0]["scope"] == "offline_access accounting.invoices"
    assert token.scope == ["offline_access", "accounting.invoices"]
    stored = store.get("c1")
    assert stored is not None and stored.refresh_token is not None
    assert stored.refresh_token.get_secret_value() == "rt-2"


def test_c2_invalid_grant_raises_authorisation_error_without_secrets(
    token_endpoint: tuple[TokenEndpoint, str],
) -> None:
    endpoint, _ = token_endpoint
    endpoint.answers.append((400, {"error": "invalid_grant"}))
    store = MemoryTokenStore()
    store.save("c1", expiring_token())
    with pytest.raises(AuthorisationError) as caught:
        store.refresh_single_flight("c1", fetcher().renew)
    assert "invalid_grant" in str(caught.value)
    for secret in ("old-refresh", "client-secret", "old-access"):
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value.__cause__)


@pytest.mark.integration
def test_c2_invalid_grant_through_the_blob_lease_leaves_the_lease_free(
    blob_store: BlobTokenStore, token_endpoint: tuple[TokenEndpoint, str]
) -> None:
    endpoint, _ = token_endpoint
    endpoint.answers.append((400, {"error": "invalid_grant"}))
    connection = str(uuid.uuid4())
    blob_store.save(connection, expiring_token())
    with pytest.raises(AuthorisationError):
        blob_store.refresh_single_flight(connection, fetcher().renew)
    blob_store.save(connection, fresh_token("after-reconnect", "r9"))  # would wait on a held lease
    stored = blob_store.get(connection)
    assert stored is not None and stored.access_token.get_secret_value() == "after-reconnect"


def test_c2_custom_connection_uses_client_credentials_and_has_no_refresh_token(
    token_endpoint: tuple[TokenEndpoint, str],
) -> None:
    endpoint, _ = token_endpoint
    endpoint.answers.append((200, {"access_token": "cc-1", "expires_in": 1800, "token_type": "Bearer"}))
    endpoint.answers.append((200, {"access_token": "cc-2", "expires_in": 1800, "token_type": "Bearer"}))
    first = fetcher().client_credentials()
    assert first.grant_type == "client_credentials"
    assert first.refresh_token is None
    store = MemoryTokenStore()
    store.save("custom", first.model_copy(update={"expires_at": time.time()}))
    second = store.refresh_single_flight("custom", fetcher().renew)
    assert second.access_token.get_secret_value() == "cc-2"
    assert [form["grant_type"] for form in endpoint.forms] == ["client_credentials", "client_credentials"]
    assert endpoint.forms[0]["client_id"] == "client-id"


@pytest.mark.integration
def test_o3_store_and_limiter_from_settings_use_the_configured_storage(
    azurite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.adapters.storage.rate_limit import rate_limiter_from_settings
    from connector.adapters.storage.token_store import token_store_from_settings
    from connector.settings import load_settings

    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("TOKEN_CONTAINER", "tokens-from-settings")
    settings = load_settings()
    token_store_from_settings(settings).save("c-settings", fresh_token("s1", "r1"))
    direct = BlobTokenStore(
        BlobServiceClient.from_connection_string(azurite.connection_string), "tokens-from-settings"
    )
    loaded = direct.get("c-settings")
    assert loaded is not None and loaded.access_token.get_secret_value() == "s1"
    assert rate_limiter_from_settings(settings).try_acquire("tenant-from-settings").permit is not None

"""Xero OAuth2 token sets, one per connection, and single-flight refresh across instances.

Xero rotates refresh tokens: each refresh returns a new one and the old one dies (after a short grace
period). If two instances refresh with the same refresh token, one of them ends up holding a dead token
(`invalid_grant`). So a refresh runs under a lock that every instance honours (a blob lease in Azure),
the others wait and re-read, and the rotated token is saved before anyone uses the new access token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, Protocol

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient, ContentSettings
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connector.adapters.storage.blob import blob_service_from_settings, ensure_container
from connector.errors import AuthorisationError, RetryableError
from connector.settings import Settings

GrantType = Literal["authorization_code", "client_credentials"]

# Refresh this long before expiry. More than the SDK's own 60 s buffer, so the SDK never tries itself.
REFRESH_MARGIN_SECONDS = 120.0

Clock = Callable[[], float]
RefreshFn = Callable[["TokenSet"], "TokenSet"]


class TokenSet(BaseModel):
    """One connection's tokens. Secrets stay wrapped so they never reach a log or a repr."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: float = Field(description="Unix time the access token stops working.")
    token_type: str = "Bearer"  # noqa: S105  (a scheme name, not a secret)
    # The SDK joins scope with " ".join(...): a string would be sent one character at a time.
    scope: list[str] = Field(default_factory=list)
    grant_type: GrantType = "authorization_code"

    @field_validator("scope", mode="before")
    @classmethod
    def _scope_as_list(cls, value: object) -> object:
        return value.split() if isinstance(value, str) else value

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at <= now + seconds

    def to_sdk(self) -> dict[str, Any]:
        """The dict xero-python's token getter must return.

        The refresh token is left out on purpose: without it the SDK cannot refresh behind our back,
        so every refresh goes through the store's single flight.
        """
        return {
            "access_token": self.access_token.get_secret_value(),
            "token_type": self.token_type,
            "expires_in": max(0, int(self.expires_at - time.time())),
            "expires_at": self.expires_at,
            "scope": list(self.scope),
        }

    @classmethod
    def from_token_response(cls, data: Mapping[str, Any], now: float, grant_type: GrantType) -> TokenSet:
        """Build from Xero's /connect/token JSON (expires_in is relative to when we asked)."""
        expires_in = float(data.get("expires_in") or 1800)
        refresh = data.get("refresh_token")
        return cls(
            access_token=SecretStr(str(data["access_token"])),
            refresh_token=SecretStr(str(refresh)) if refresh else None,
            expires_at=now + expires_in,
            token_type=str(data.get("token_type") or "Bearer"),
            scope=data.get("scope") or [],
            grant_type=grant_type,
        )

    def to_storage(self) -> bytes:
        return json.dumps(
            {
                "access_token": self.access_token.get_secret_value(),
                "refresh_token": self.refresh_token.get_secret_value() if self.refresh_token else None,
                "expires_at": self.expires_at,
                "token_type": self.token_type,
                "scope": self.scope,
                "grant_type": self.grant_type,
            }
        ).encode()

    @classmethod
    def from_storage(cls, raw: bytes) -> TokenSet:
        return cls.model_validate(json.loads(raw))


class TokenStore(Protocol):
    """Where token sets live; `refresh_single_flight` guarantees one refresh at a time per connection."""

    def get(self, connection_id: str) -> TokenSet | None: ...

    def save(self, connection_id: str, tokens: TokenSet) -> None: ...

    def delete(self, connection_id: str) -> None: ...

    def refresh_single_flight(
        self, connection_id: str, refresh_fn: RefreshFn, stale: TokenSet | None = None
    ) -> TokenSet: ...


def needs_refresh(current: TokenSet, stale: TokenSet | None, now: float) -> bool:
    """Decide, under the lock, whether a refresh is still needed.

    `stale` is the token the caller found unusable (e.g. it got a 401 with it). If the stored token is
    already a different one, someone else refreshed while we waited: use theirs if it is still fresh.
    """
    if current.expires_within(REFRESH_MARGIN_SECONDS, now):
        return True
    if stale is None:
        return False
    return current.access_token.get_secret_value() == stale.access_token.get_secret_value()


class SingleFlightStore:
    """The refresh algorithm; subclasses provide storage and the cross-instance lock."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock

    def get(self, connection_id: str) -> TokenSet | None:
        raise NotImplementedError

    def _locked(self, connection_id: str) -> Any:
        """A context manager yielding a saver that writes under the lock."""
        raise NotImplementedError

    def refresh_single_flight(
        self, connection_id: str, refresh_fn: RefreshFn, stale: TokenSet | None = None
    ) -> TokenSet:
        with self._locked(connection_id) as save_locked:
            current = self.get(connection_id)
            if current is None:
                raise AuthorisationError("no Xero token is stored for this connection: connect it first")
            if not needs_refresh(current, stale, self._clock()):
                return current
            fresh = refresh_fn(current)
            # Persist the rotated refresh token before the new access token is handed to anyone.
            save_locked(fresh)
            return fresh


class BlobTokenStore(SingleFlightStore):
    """One JSON blob per connection; a refresh holds the blob's lease so only one instance refreshes."""

    def __init__(
        self,
        service: BlobServiceClient,
        container: str,
        *,
        lease_seconds: int = 30,
        wait_seconds: float = 45.0,
        poll_seconds: float = 0.2,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock)
        self._container = ensure_container(service, container)
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds

    def _blob(self, connection_id: str) -> BlobClient:
        return self._container.get_blob_client(f"{connection_id}.json")

    def get(self, connection_id: str) -> TokenSet | None:
        try:
            raw = self._blob(connection_id).download_blob().readall()
        except ResourceNotFoundError:
            return None
        return TokenSet.from_storage(raw)

    def save(self, connection_id: str, tokens: TokenSet) -> None:
        """Write outside a refresh (first connect). Waits while another instance holds the lease."""
        deadline = time.monotonic() + self._wait_seconds
        while True:
            try:
                self._upload(connection_id, tokens, lease=None)
                return
            except HttpResponseError as exc:
                if exc.status_code != 412 or time.monotonic() > deadline:
                    raise RetryableError("could not save the Xero token: the blob stays leased") from None
                time.sleep(self._poll_seconds)

    def delete(self, connection_id: str) -> None:
        try:
            self._blob(connection_id).delete_blob()
        except ResourceNotFoundError:
            pass

    def _upload(self, connection_id: str, tokens: TokenSet, lease: BlobLeaseClient | None) -> None:
        self._blob(connection_id).upload_blob(
            tokens.to_storage(),
            overwrite=True,
            lease=lease,
            content_settings=ContentSettings(content_type="application/json"),
        )

    def _acquire(self, connection_id: str) -> BlobLeaseClient:
        deadline = time.monotonic() + self._wait_seconds
        while True:
            try:
                return self._blob(connection_id).acquire_lease(lease_duration=self._lease_seconds)
            except ResourceNotFoundError:
                raise AuthorisationError(
                    "no Xero token is stored for this connection: connect it first"
                ) from None
            except HttpResponseError as exc:
                # 409 LeaseAlreadyPresent: another instance is refreshing; wait, then re-read its result.
                if exc.status_code != 409:
                    raise
                if time.monotonic() > deadline:
                    raise RetryableError("another instance is still refreshing the Xero token") from None
                time.sleep(self._poll_seconds)

    @contextmanager
    def _locked(self, connection_id: str) -> Iterator[Callable[[TokenSet], None]]:
        lease = self._acquire(connection_id)
        try:
            yield lambda tokens: self._upload(connection_id, tokens, lease=lease)
        finally:
            try:
                lease.release()
            except HttpResponseError:
                pass  # the lease expired on its own; nothing to give back


def token_store_from_settings(settings: Settings) -> BlobTokenStore:
    """The production store: `settings.token_container` in the connector's storage account."""
    return BlobTokenStore(blob_service_from_settings(settings), settings.token_container)

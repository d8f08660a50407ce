"""The emulator object: options, state, clock, limiter, faults, webhooks and the parsed spec,
shared by routes."""

from __future__ import annotations

import copy
import dataclasses
import secrets
from collections import deque
from typing import Any

from devstack.xero.clock import Clock
from devstack.xero.config import EmulatorOptions
from devstack.xero.faults import FaultBook
from devstack.xero.limits import RateLimiter
from devstack.xero.spec import load_spec
from devstack.xero.store import AccessToken, Client, RefreshToken, State, new_id
from devstack.xero.webhooks import WebhookDispatcher

DEFAULT_SCOPE = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "accounting.transactions",
    "accounting.contacts",
    "accounting.settings",
]


class Emulator:
    def __init__(self, options: EmulatorOptions | None = None) -> None:
        self.options = options or EmulatorOptions()
        self._initial_options = copy.deepcopy(self.options)
        self.state = State(request_log=deque(maxlen=self.options.request_log_size))
        self.clock = Clock()
        self.limiter = RateLimiter(self.options)
        self.faults = FaultBook()
        self.webhooks = WebhookDispatcher(self.options, self.clock)
        self.spec: Any = load_spec(self.options.spec_dir)

    def reset(self) -> None:
        self.webhooks.reset()
        self.faults.clear()
        self.state.clear()
        self.clock.reset()
        self.limiter.reset()
        # Undo /_emulator/limits changes, keeping the same object.
        for option in dataclasses.fields(self.options):
            setattr(self.options, option.name, getattr(self._initial_options, option.name))
        if self.state.request_log.maxlen != self.options.request_log_size:
            self.state.resize_request_log(self.options.request_log_size)

    def emitter(self, tenant_id: str) -> Any:
        return lambda category, event_type, resource_id: self.webhooks.emit(
            tenant_id, category, event_type, resource_id
        )

    # ---- tokens -------------------------------------------------------------------------------------------
    def issue_tokens(self, client: Client, scope: list[str], with_refresh: bool = True) -> dict[str, Any]:
        now = self.clock.timestamp()
        access = AccessToken(
            token=secrets.token_urlsafe(32),
            client_id=client.client_id,
            expires_at=now + self.options.access_token_lifetime,
            scope=scope,
            tenant_id=client.custom_connection_tenant if not with_refresh else None,
        )
        self.state.access_tokens[access.token] = access
        body: dict[str, Any] = {
            "id_token": secrets.token_urlsafe(24),
            "access_token": access.token,
            "expires_in": self.options.access_token_lifetime,
            "token_type": "Bearer",
            "scope": " ".join(scope),
        }
        if with_refresh and "offline_access" in scope:
            refresh = RefreshToken(
                token=secrets.token_urlsafe(32),
                client_id=client.client_id,
                scope=scope,
                expires_at=now + self.options.refresh_token_lifetime_days * 86400,
            )
            self.state.refresh_tokens[refresh.token] = refresh
            body["refresh_token"] = refresh.token
        return body

    def register_client(self, client_id: str | None = None, client_secret: str | None = None) -> Client:
        client = Client(
            client_id=client_id or secrets.token_hex(16).upper(),
            client_secret=client_secret or secrets.token_urlsafe(24),
        )
        self.state.clients[client.client_id] = client
        return client

    def connect(self, client: Client, tenant_id: str, auth_event_id: str | None = None) -> dict[str, Any]:
        for connection in client.connections.values():
            if connection["tenantId"] == tenant_id:
                return connection
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")
        tenant = self.state.tenants[tenant_id]
        connection = {
            "id": new_id(),
            "authEventId": auth_event_id or new_id(),
            "tenantId": tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": tenant.organisation["Name"],
            "createdDateUtc": now,
            "updatedDateUtc": now,
        }
        client.connections[connection["id"]] = connection
        return connection

    def sdk_token(self, body: dict[str, Any]) -> dict[str, Any]:
        """A token endpoint answer in the shape xero-python keeps (expires_at set, scope as a list)."""
        token = dict(body)
        token["expires_at"] = self.clock.timestamp() + int(body["expires_in"])
        token["scope"] = str(body.get("scope", "")).split()
        return token

"""O6: the admin console's use cases behind one object, so the blueprint makes one call per request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import UUID

from connector.domain.connection_rules import (
    ConnectionHealth,
    ReferenceChoices,
    SettingsForm,
    TokenState,
    XeroOrganisation,
    settings_problems,
)
from connector.domain.dynamics import ConnectionSettings
from connector.ports import SignInPort
from connector.services import connect_xero, console_status
from connector.services.connect_xero import Connected, ConsoleDependencies
from connector.services.console_status import QueueView


@dataclass(frozen=True)
class ConnectionSummary:
    connection: ConnectionSettings
    token: TokenState | None
    problems: list[str]


class AdminConsole:
    def __init__(self, deps: ConsoleDependencies) -> None:
        self.deps = deps

    @property
    def signin(self) -> SignInPort | None:
        return self.deps.signin

    # Xero's consent -------------------------------------------------------------------------------
    def consent_url(self, redirect_uri: str, state: str, code_challenge: str) -> str:
        return self.deps.xero.consent_url(redirect_uri, state, code_challenge)

    async def authorise(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        return await asyncio.to_thread(self.deps.xero.authorise, code, redirect_uri, code_verifier)

    async def organisations(self, pending: str) -> list[XeroOrganisation]:
        return await asyncio.to_thread(self.deps.xero.organisations, pending)

    async def discard(self, pending: str) -> None:
        await asyncio.to_thread(self.deps.xero.discard, pending)

    async def connect_organisation(self, pending: str, tenant_id: str) -> Connected:
        return await connect_xero.connect_organisation(self.deps, pending, tenant_id)

    async def reconnect(self, pending: str, connection_id: UUID) -> ConnectionSettings:
        return await connect_xero.reconnect(self.deps, pending, connection_id)

    async def connect_custom(self, name: str) -> Connected:
        return await connect_xero.connect_custom(self.deps, name)

    # Connections ----------------------------------------------------------------------------------
    async def summaries(self) -> list[ConnectionSummary]:
        connections = await self.deps.dataverse.list_connections()
        tokens = [await asyncio.to_thread(self.deps.xero.token_state, c.id) for c in connections]
        return [
            ConnectionSummary(connection, token, settings_problems(connection))
            for connection, token in zip(connections, tokens, strict=True)
        ]

    async def connection(self, connection_id: UUID) -> ConnectionSettings:
        return await self.deps.dataverse.get_connection(connection_id)

    async def health(self, connection_id: UUID) -> ConnectionHealth:
        return await console_status.connection_health(self.deps, await self.connection(connection_id))

    async def reference_choices(self, connection_id: UUID) -> ReferenceChoices:
        return await self.deps.queries.reference_choices(connection_id)

    async def make_default(self, connection_id: UUID) -> None:
        await connect_xero.make_default(self.deps, connection_id)

    async def edit_settings(
        self, connection_id: UUID, form: dict[str, str]
    ) -> tuple[ConnectionSettings, SettingsForm]:
        return await connect_xero.edit_settings(self.deps, connection_id, form)

    async def disconnect(self, connection_id: UUID, by: str) -> None:
        await connect_xero.disconnect(self.deps, connection_id, by)

    # The work -------------------------------------------------------------------------------------
    async def queues(self) -> QueueView:
        return await console_status.queue_view(self.deps)

    async def retry_failed(self, connection_id: UUID, details_id: UUID | None = None) -> int:
        return await console_status.retry_failed(self.deps, connection_id, details_id)

    async def replay_poison(self, queue: str, message_id: str | None = None) -> int:
        return await console_status.replay_poison(self.deps, queue, message_id)

    async def sync_now(self, connection_id: UUID | None = None) -> str:
        return await console_status.sync_now(self.deps, connection_id)

"""C1/C2 from the admin console and the CLI: connect an organisation (the same organisation always maps
to the same connection record), reconnect, connect a custom connection, disconnect, make default, and
edit a connection's settings with validation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import UUID

from connector.domain.connection_rules import SettingsForm, XeroOrganisation, read_settings_form
from connector.domain.dynamics import ConnectionSettings
from connector.errors import AuthorisationError
from connector.ports import (
    Clock,
    ConsoleQueriesPort,
    DataverseConsole,
    OperationsPort,
    QueueSender,
    SignInPort,
    WatermarkStore,
    XeroOnboardingPort,
)
from connector.services.connection_health import reconnected
from connector.telemetry import get_logger, log_step

logger = get_logger("services.connect_xero")


@dataclass
class ConsoleDependencies:
    dataverse: DataverseConsole
    queries: ConsoleQueriesPort
    xero: XeroOnboardingPort
    operations: OperationsPort
    watermarks: WatermarkStore
    queues: QueueSender
    sweep_queue: str
    sync_queue: str
    clock: Clock
    signin: SignInPort | None = None  # None until Entra sign-in is configured


@dataclass(frozen=True)
class Connected:
    connection: ConnectionSettings
    created: bool  # False: the organisation already had a connection, which now has the new tokens


def _covered(organisations: list[XeroOrganisation], tenant_id: str) -> XeroOrganisation:
    for organisation in organisations:
        if organisation.tenant_id == tenant_id:
            return organisation
    raise AuthorisationError(
        "Xero's authorisation does not cover that organisation: pick it on Xero's page and try again."
    )


async def connect_organisation(
    deps: ConsoleDependencies, pending: str, tenant_id: str, name: str | None = None
) -> Connected:
    """Give the organisation the pending token set. An organisation that already has a connection keeps
    its record (same id, same invoices); one waiting for a reconnect is swept at once."""
    organisation = _covered(await asyncio.to_thread(deps.xero.organisations, pending), tenant_id)
    existing = await deps.dataverse.get_connection_by_tenant_id(tenant_id)
    if existing is None:
        connection = await deps.dataverse.create_connection(name or organisation.name, tenant_id)
    else:
        connection = existing
    await asyncio.to_thread(deps.xero.adopt, pending, connection.id)
    # Swept at once: waiting invoices go, and a new connection gets its reference data.
    await reconnected(deps.dataverse, connection, deps.queues, deps.sweep_queue, deps.clock)
    connection = await deps.dataverse.get_connection(connection.id)
    log_step(
        logger,
        "console.connected",
        connection=connection.name,
        tenant_id=tenant_id,
        new_record=existing is None,
    )
    return Connected(connection, created=existing is None)


async def reconnect(deps: ConsoleDependencies, pending: str, connection_id: UUID) -> ConnectionSettings:
    """A new consent for an existing connection: its organisation must be among those authorised."""
    connection = await deps.dataverse.get_connection(connection_id)
    if not connection.tenant_id:
        raise AuthorisationError("This connection has no Xero organisation: connect one instead.")
    _covered(await asyncio.to_thread(deps.xero.organisations, pending), connection.tenant_id)
    await asyncio.to_thread(deps.xero.adopt, pending, connection.id)
    await reconnected(deps.dataverse, connection, deps.queues, deps.sweep_queue, deps.clock)
    return await deps.dataverse.get_connection(connection.id)


async def connect_custom(deps: ConsoleDependencies, name: str | None = None) -> Connected:
    """A custom connection (client_credentials): its one organisation comes from GET /connections."""
    pending = await asyncio.to_thread(deps.xero.authorise_custom)
    organisations = await asyncio.to_thread(deps.xero.organisations, pending)
    if len(organisations) != 1:
        await asyncio.to_thread(deps.xero.discard, pending)
        raise AuthorisationError(
            f"A custom connection covers exactly one organisation; Xero lists {len(organisations)}."
        )
    return await connect_organisation(deps, pending, organisations[0].tenant_id, name)


async def disconnect(deps: ConsoleDependencies, connection_id: UUID, by: str) -> None:
    """Revoke at Xero and remove the tokens. The record stays (its invoices point at it) and its
    invoices wait, as for a lost connection, until someone connects it again."""
    connection = await deps.dataverse.get_connection(connection_id)
    await asyncio.to_thread(deps.xero.disconnect, connection.id, connection.tenant_id)
    reason = f"Disconnected from Xero in the console by {by}; reconnect it to sync again."
    await deps.dataverse.update_connection(
        connection.id, {"needs_reconnect": True, "reconnect_reason": reason}
    )
    log_step(logger, "console.disconnected", connection=connection.name, by=by)


async def make_default(deps: ConsoleDependencies, connection_id: UUID) -> None:
    await deps.dataverse.set_default_connection(connection_id)
    log_step(logger, "console.default_set", connection_id=connection_id)


async def edit_settings(
    deps: ConsoleDependencies, connection_id: UUID, form: dict[str, str]
) -> tuple[ConnectionSettings, SettingsForm]:
    """Validate and write the changed settings; nothing is written when any field is wrong."""
    connection = await deps.dataverse.get_connection(connection_id)
    choices = await deps.queries.reference_choices(connection_id)
    result = read_settings_form(form, connection, choices)
    if result.changes:
        await deps.dataverse.update_connection(connection_id, result.changes)
        connection = await deps.dataverse.get_connection(connection_id)
        log_step(
            logger, "console.settings_changed", connection=connection.name, fields=sorted(result.changes)
        )
    return connection, result

"""`python -m connector …`: operator commands. Output with rich; long work shows progress."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from connector.adapters.dataverse.client import DataverseClient, client_from_settings
from connector.adapters.storage.blob import blob_service_from_settings
from connector.adapters.storage.console import StorageOperations
from connector.adapters.storage.poison import PoisonQueue
from connector.adapters.storage.queues import StorageQueueSender, queue_service_from_settings
from connector.adapters.storage.token_store import token_store_from_settings
from connector.domain.connection_rules import XeroOrganisation, settings_problems
from connector.domain.messages import SweepMessage
from connector.errors import AuthorisationError, ConnectorError
from connector.services import connect_xero
from connector.settings import SettingsError, get_settings
from connector.setup.backfill import BackfillFilters, NoDefaultConnectionError
from connector.setup.backfill_command import run_backfill
from connector.setup.connect import (
    DEFAULT_LISTEN_PORT,
    connect_with_code,
    deps_for,
    listen_for_answer,
    read_answer,
    start_consent,
)
from connector.setup.customizations import provision_what_users_see
from connector.setup.provision import SchemaProvisioner
from connector.setup.reference_data import run_reference_sync
from connector.setup.webhooks import WebhookRegistrar

app = typer.Typer(help="Dynamics 365 → Xero connector: set-up and operations.", no_args_is_help=True)
console = Console()
T = TypeVar("T")


def _run(work: Callable[[DataverseClient], Awaitable[T]]) -> T:
    """Run `work` with a Dataverse client from settings; print connector errors instead of tracebacks."""

    async def main() -> T:
        async with client_from_settings(get_settings()) as client:
            return await work(client)

    try:
        return asyncio.run(main())
    except (ConnectorError, SettingsError, NoDefaultConnectionError, LookupError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@app.command("provision-schema")
def provision_schema(
    force: Annotated[
        bool, typer.Option(help="Also replace the connector's forms and views that were changed in Dynamics.")
    ] = False,
    assign_role: Annotated[
        str | None,
        typer.Option(help="Give this user (id, application id or full name) the integration security role."),
    ] = None,
) -> None:
    """Create the connector's Dataverse tables and columns, forms, views and roles (idempotent)."""
    settings = get_settings()

    async def work(client: DataverseClient) -> None:
        with console.status("Checking the Dataverse schema…"):
            report = await SchemaProvisioner(client, settings.dataverse_solution, console.log).run()
        if report.changed:
            console.print(f"[green]Created {len(report.created)} item(s)[/green]; published customizations.")
        else:
            console.print(
                f"[green]No changes[/green]: all {len(report.existing)} tables and columns already exist."
            )
        with console.status("Checking forms, views and security roles…"):
            lines = await provision_what_users_see(
                client, settings.dataverse_solution, force=force, assign_to=assign_role
            )
        for line in lines:
            console.print(line)

    _run(work)


@app.command("register-webhooks")
def register_webhooks(
    url: Annotated[str, typer.Option(help="Function URL of the Dataverse webhook endpoint.")],
    key: Annotated[str | None, typer.Option(help="Function key; default DATAVERSE_WEBHOOK_SECRET.")] = None,
    name: Annotated[str, typer.Option(help="Service endpoint name.")] = "xero-connector",
    auth: Annotated[
        str,
        typer.Option(
            help="header: the secret in an HTTP header (recommended); "
            "webhook-key: as ?code= in the URL, where HTTP logs keep it."
        ),
    ] = "header",
) -> None:
    """Register the Dataverse service endpoint and invoice steps (idempotent)."""
    if auth not in ("header", "webhook-key"):
        raise typer.BadParameter("use header or webhook-key", param_hint="--auth")
    settings = get_settings()
    secret = key or settings.dataverse_webhook_secret.get_secret_value()
    header = settings.dataverse_webhook_header if auth == "header" else None

    async def work(client: DataverseClient) -> None:
        with console.status("Registering webhook…"):
            report = await WebhookRegistrar(client, name).run(url, secret, header=header)
        console.print(f"Service endpoint [bold]{name}[/bold] ({report.endpoint_id})")
        for label, items, style in (
            ("created", report.created, "green"),
            ("updated", report.updated, "yellow"),
            ("unchanged", report.unchanged, "dim"),
        ):
            for item in items:
                console.print(f"  [{style}]{label}[/{style}] {item}")

    _run(work)


@app.command("backfill-xero-details")
def backfill(
    created_since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Only invoices created on or after this day."),
    ] = None,
    delivered_since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Only invoices with Date Delivered on or after this day."),
    ] = None,
    connection: Annotated[
        str | None, typer.Option(help="A connection's name or id (default: the default connection).")
    ] = None,
    customer: Annotated[
        str | None, typer.Option(help="Only this account's or contact's (name or id).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Show what would happen, and how many; write nothing.")
    ] = False,
) -> None:
    """Xero details for existing invoices. Ones already in Xero are linked, never sent again."""
    filters = BackfillFilters(
        created_since=created_since.date() if created_since else None,
        delivered_since=delivered_since.date() if delivered_since else None,
        connection=connection,
        customer=customer,
    )
    _run(lambda client: run_backfill(client, console, filters, dry_run=dry_run))


@app.command("connect")
def connect(
    name: Annotated[str | None, typer.Option(help="A name for a new connection (default: Xero's).")] = None,
    code: Annotated[str | None, typer.Option(help="An authorization code you already have.")] = None,
    redirect_uri: Annotated[
        str | None, typer.Option(help="The redirect URI registered for the Xero app.")
    ] = None,
    tenant_id: Annotated[
        str | None, typer.Option(help="Organisation to use when the consent covers several.")
    ] = None,
    custom: Annotated[
        bool, typer.Option(help="A custom connection (client_credentials, one organisation).")
    ] = False,
    listen: Annotated[
        bool, typer.Option(help="Wait for Xero's redirect on 127.0.0.1 (headless set-ups).")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --listen.")] = DEFAULT_LISTEN_PORT,
) -> None:
    """Connect a Xero organisation. The same organisation always keeps the same connection."""
    settings = get_settings()

    names: dict[str, str] = {}

    def choose(organisations: list[XeroOrganisation]) -> XeroOrganisation:
        names.update({o.tenant_id: o.name for o in organisations})
        matching = [o for o in organisations if tenant_id in (None, o.tenant_id)]
        if len(matching) == 1:
            return matching[0]
        if not matching:
            raise AuthorisationError(f"the consent does not cover organisation {tenant_id}")
        for number, organisation in enumerate(matching, 1):
            console.print(f"  {number}. {organisation.name} ({organisation.tenant_id})")
        picked = int(typer.prompt("Which organisation", type=int, default=1))
        return matching[max(1, min(picked, len(matching))) - 1]

    async def work(client: DataverseClient) -> None:
        deps = deps_for(settings, client)
        if custom:
            connected = await connect_xero.connect_custom(deps, name)
        elif code is not None:
            connected = await connect_with_code(deps, code, redirect_uri or "", "", choose, name)
        else:
            uri = redirect_uri or f"http://127.0.0.1:{port}/callback"
            consent = start_consent(deps, uri)
            console.print(f"Open this address in a browser and allow access:\n{consent.url}")
            answer = listen_for_answer(port) if listen else typer.prompt("Paste the address Xero sent you to")
            verifier = consent.verifier
            connected = await connect_with_code(
                deps, read_answer(consent, answer), uri, verifier, choose, name
            )
        c = connected.connection
        verb = "Connected" if connected.created else "Reconnected (same connection record)"
        console.print(
            f"[green]{verb}[/green] {c.name} → Xero organisation "
            f"{names.get(c.tenant_id, c.name)} ({c.tenant_id})"
            f"{' as the default' if c.is_default else ''}."
        )

    _run(work)


@app.command("status")
def status() -> None:
    """Connections (tokens, reconnect, problems, rate-limit headroom), the queues and their poison."""
    settings = get_settings()
    store = token_store_from_settings(settings)
    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    operations = StorageOperations(
        queue_service_from_settings(settings),
        blob_service_from_settings(settings),
        settings.queue_names,
        queues,
    )

    async def work(client: DataverseClient) -> None:
        table = Table(title="Connections")
        for column in (
            "Name",
            "Tenant",
            "Default",
            "Token",
            "Needs reconnect",
            "Headroom (min/day/concurrent)",
        ):
            table.add_column(column, overflow="fold")
        for connection in await client.list_connections():
            tokens = store.get(str(connection.id))
            token = (
                "missing"
                if tokens is None
                else f"expires {time.strftime('%H:%M', time.localtime(tokens.expires_at))}"
            )
            room = operations.headroom(connection.tenant_id) if connection.tenant_id else None
            headroom = (
                f"{room.minute_left}/{room.minute_limit}, {room.day_left}/{room.day_limit}, "
                f"{room.concurrent_free}/{room.concurrent_limit}"
                if room
                else "no calls yet"
            )
            problems = "; ".join(settings_problems(connection))
            table.add_row(
                connection.name,
                connection.tenant_id or "[red]none[/red]",
                "yes" if connection.is_default else "",
                token,
                f"YES: {connection.reconnect_reason or ''}" if connection.needs_reconnect else problems,
                headroom,
            )
        console.print(table)

    _run(work)
    reachable, depths, poison = queues.reachable(), operations.queue_depths(), operations.poison_counts()
    for queue, ok in reachable.items():
        state = "[green]reachable[/green]" if ok else "[red]unreachable[/red]"
        console.print(
            f"queue {queue}: {state}, {depths.get(queue, 0)} waiting, {poison.get(queue, 0)} poison"
        )


@app.command("sync-now")
def sync_now() -> None:
    """Run the sweep now (every connection's eligible invoices, then reconcile)."""
    settings = get_settings()
    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    message = SweepMessage(scheduled_for=datetime.now(UTC), correlation_id=str(uuid.uuid4()))
    queues.send(settings.sync_poll_queue, message.model_dump_json())
    console.print(f"Sweep queued on {settings.sync_poll_queue} (correlation id {message.correlation_id}).")


@app.command("sync-reference-data")
def sync_reference_data(
    connection: Annotated[
        str | None, typer.Option(help="A connection's name or id; every connection when left out.")
    ] = None,
) -> None:
    """Tax rates, accounts, branding themes and tracking categories from Xero into Dynamics."""
    if not _run(lambda client: run_reference_sync(client, console, connection)):
        raise typer.Exit(1)


poison = typer.Typer(help="Messages that failed all their retries.", no_args_is_help=True)
app.add_typer(poison, name="poison")


@poison.command("list")
def poison_list(
    queue: Annotated[str, typer.Option(help="The queue whose poison messages to show.")] = "invoice-sync",
) -> None:
    """Show the first messages of `<queue>-poison`, with the reason when the connector poisoned them."""
    settings = get_settings()
    messages = PoisonQueue(queue_service_from_settings(settings), queue).peek()
    table = Table(title=f"{queue}-poison")
    for column in ("Id", "Inserted", "Reason", "Body"):
        table.add_column(column, overflow="fold")
    for message in messages:
        table.add_row(
            message.id, message.inserted_on or "", message.reason or "retries used up", message.body
        )
    console.print(table if messages else f"{queue}-poison is empty.")


@poison.command("replay")
def poison_replay(
    queue: Annotated[str, typer.Option(help="The queue to put the messages back on.")] = "invoice-sync",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
) -> None:
    """Put poison messages back on their queue, once the cause is fixed. Handlers are idempotent."""
    settings = get_settings()
    service = queue_service_from_settings(settings)
    replayed = PoisonQueue(service, queue).replay(StorageQueueSender(service, settings.queue_names), limit)
    console.print(f"Replayed {replayed} message(s) onto {queue}.")


def main() -> None:
    app()

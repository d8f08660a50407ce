"""`python -m connector …`: operator commands (O4). Output with rich; long work shows progress."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from connector.adapters.dataverse.client import DataverseClient, client_from_settings
from connector.adapters.storage.poison import PoisonQueue
from connector.adapters.storage.queues import StorageQueueSender, queue_service_from_settings
from connector.adapters.storage.token_store import token_store_from_settings
from connector.adapters.xero.onboarding import XeroTenant, client_credentials, exchange_code, list_tenants
from connector.domain.messages import SweepMessage
from connector.errors import ConnectorError
from connector.settings import SettingsError, get_settings
from connector.setup.backfill import NoDefaultConnectionError, backfill_xero_details
from connector.setup.provision import SchemaProvisioner
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
def provision_schema() -> None:
    """C5: create the connector's Dataverse tables and columns (idempotent)."""
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

    _run(work)


@app.command("register-webhooks")
def register_webhooks(
    url: Annotated[str, typer.Option(help="Function URL of the Dataverse webhook endpoint.")],
    key: Annotated[str | None, typer.Option(help="Function key; default DATAVERSE_WEBHOOK_SECRET.")] = None,
    name: Annotated[str, typer.Option(help="Service endpoint name.")] = "xero-connector",
) -> None:
    """C6: register the service endpoint and invoice steps (idempotent)."""
    secret = key or get_settings().dataverse_webhook_secret.get_secret_value()

    async def work(client: DataverseClient) -> None:
        with console.status("Registering webhook…"):
            report = await WebhookRegistrar(client, name).run(url, secret)
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
def backfill() -> None:
    """I1: create missing Xero details records for existing invoices, on the default connection."""

    async def work(client: DataverseClient) -> None:
        with Progress(console=console) as progress:
            task = progress.add_task("Creating Xero details", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = await backfill_xero_details(client, advance)
        console.print(
            f"[green]Created {report.created} Xero details record(s)[/green] "
            f"on connection {report.connection_id}."
        )

    _run(work)


@app.command("connect")
def connect(
    name: Annotated[str, typer.Option(help="A name for this connection, shown to users.")],
    code: Annotated[str | None, typer.Option(help="Authorization code from Xero's consent redirect.")] = None,
    redirect_uri: Annotated[
        str | None, typer.Option(help="The redirect URI the code was issued for.")
    ] = None,
    tenant_id: Annotated[
        str | None, typer.Option(help="Organisation to use when the consent covers several.")
    ] = None,
    custom: Annotated[
        bool, typer.Option(help="A custom connection (client_credentials, one organisation).")
    ] = False,
    default: Annotated[bool, typer.Option(help="Make this the default connection.")] = True,
) -> None:
    """C1/C2: store Xero tokens for an organisation and create its connection record."""
    settings = get_settings()
    try:
        if custom:
            tokens = client_credentials(settings)
            tenants = [XeroTenant(tenant_id or "", name)]
        else:
            if code is None or redirect_uri is None:
                console.print("[red]error:[/red] give --code and --redirect-uri (or --custom)")
                raise typer.Exit(2)
            tokens = exchange_code(settings, code, redirect_uri)
            tenants = [t for t in list_tenants(settings, tokens) if tenant_id in (None, t.tenant_id)]
    except ConnectorError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if len(tenants) != 1:
        listed = ", ".join(f"{t.name} ({t.tenant_id})" for t in tenants) or "none"
        console.print(f"[red]error:[/red] pick one organisation with --tenant-id: {listed}")
        raise typer.Exit(2)
    tenant = tenants[0]

    async def work(client: DataverseClient) -> None:
        connection = await client.create_connection(name, tenant.tenant_id, make_default=default)
        token_store_from_settings(settings).save(str(connection.id), tokens)
        console.print(
            f"[green]Connected[/green] {connection.name} → Xero organisation {tenant.name} "
            f"({tenant.tenant_id}){' as the default' if connection.is_default else ''}."
        )

    _run(work)


@app.command("status")
def status() -> None:
    """Connections, their tokens, and the queues (O4)."""
    settings = get_settings()
    store = token_store_from_settings(settings)

    async def work(client: DataverseClient) -> None:
        table = Table(title="Connections")
        for column in ("Name", "Tenant", "Default", "Token", "Needs reconnect"):
            table.add_column(column)
        for connection in await client.list_connections():
            tokens = store.get(str(connection.id))
            token = (
                "missing"
                if tokens is None
                else f"expires {time.strftime('%H:%M', time.localtime(tokens.expires_at))}"
            )
            table.add_row(
                connection.name,
                connection.tenant_id,
                "yes" if connection.is_default else "",
                token,
                "YES" if connection.needs_reconnect else "",
            )
        console.print(table)

    _run(work)
    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    for queue, ok in queues.reachable().items():
        console.print(f"queue {queue}: {'[green]reachable[/green]' if ok else '[red]unreachable[/red]'}")


@app.command("sync-now")
def sync_now() -> None:
    """I2: run the sweep now (every connection's eligible invoices, then reconcile)."""
    settings = get_settings()
    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    message = SweepMessage(scheduled_for=datetime.now(UTC), correlation_id=str(uuid.uuid4()))
    queues.send(settings.sync_poll_queue, message.model_dump_json())
    console.print(f"Sweep queued on {settings.sync_poll_queue} (correlation id {message.correlation_id}).")


poison = typer.Typer(help="O2: messages that failed all their retries.", no_args_is_help=True)
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

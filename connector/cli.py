"""`python -m connector …`: operator commands (O4). Output with rich; long work shows progress."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress

from connector.adapters.dataverse import DataverseClient, client_from_settings
from connector.errors import ConnectorError
from connector.provisioning.backfill import NoDefaultConnectionError, backfill_xero_details
from connector.provisioning.provision import SchemaProvisioner
from connector.provisioning.webhooks import WebhookRegistrar
from connector.settings import SettingsError, get_settings

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


def main() -> None:
    app()

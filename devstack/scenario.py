"""Set-up a new customer would do, on the local platform: schema, webhooks, a Xero organisation, a
connection with its tokens, and sample Dynamics data. Used by the demo, the e2e tests and the benchmark."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.client import DataverseClient, client_from_settings
from connector.adapters.storage.blob import blob_service_from_settings
from connector.adapters.storage.token_store import BlobTokenStore, TokenSet
from connector.domain.dynamics import ConnectionSettings, XeroDetails
from connector.settings import get_settings
from connector.setup.customizations import provision_customizations
from connector.setup.provision import SchemaProvisioner
from connector.setup.webhooks import WebhookRegistrar
from devstack.local_platform import LocalPlatform


@dataclass
class Scenario:
    platform: LocalPlatform
    connection: ConnectionSettings
    tenant_id: str
    dynamics: dict[str, Any]  # ids of the seeded Dynamics records

    def account_id(self, name: str) -> str:
        return str(self.dynamics["accounts"][name])

    def contact_id(self, name: str) -> str:
        return str(self.dynamics["contacts"][name])


def run(work: Any) -> Any:
    """Run an async function with a Dataverse client from settings."""

    async def main() -> Any:
        async with client_from_settings(get_settings()) as client:
            return await work(client)

    return asyncio.run(main())


def set_up(
    platform: LocalPlatform,
    *,
    connection_settings: dict[str, Any] | None = None,
    xero_webhooks: bool = True,
) -> Scenario:
    """Provision (C5), register webhooks (C6), seed both sides and connect one Xero organisation (C1, C2).
    With `xero_webhooks`, the Xero organisation's webhooks are subscribed to the Functions host (B1)."""
    assert platform.xero is not None and platform.dataverse is not None
    settings = get_settings()
    dynamics = platform.dataverse.seed()
    organisation = platform.xero.seed_organisation(
        name="Demo Company (NZ)",
        client_id=settings.xero_client_id,
        client_secret=settings.xero_client_secret.get_secret_value() if settings.xero_client_secret else None,
        currencies=["NZD", "USD", "AUD"],
    )

    async def work(client: DataverseClient) -> ConnectionSettings:
        await SchemaProvisioner(client, settings.dataverse_solution).run()
        await provision_customizations(client, settings.dataverse_solution)  # forms, views, roles
        await WebhookRegistrar(client).run(
            f"{platform.host_url}/api/dataverse/invoices",
            settings.dataverse_webhook_secret.get_secret_value(),
            header=settings.dataverse_webhook_header,  # the secret never in a URL
        )
        values: dict[str, Any] = {
            "default_sales_account_code": "200",
            "default_purchase_account_code": "300",
            "time_zone": settings.time_zone,
            **(connection_settings or {}),
        }
        return await client.create_connection("Demo NZ", organisation.tenant_id, make_default=True, **values)

    connection = run(work)
    store = BlobTokenStore(blob_service_from_settings(settings), settings.token_container)
    store.save(
        str(connection.id),
        TokenSet.from_token_response(organisation.token, time.time(), "authorization_code"),
    )
    if xero_webhooks:
        subscription = platform.xero.subscribe_webhooks(
            f"{platform.host_url}/api/xero/webhook", settings.xero_webhook_key.get_secret_value()
        )
        if subscription["status"] != "OK":
            raise RuntimeError(f"Xero's intent-to-receive check failed: {subscription}")
    return Scenario(platform, connection, organisation.tenant_id, dynamics)


def xero_details(invoice_id: str | UUID) -> XeroDetails | None:
    async def work(client: DataverseClient) -> XeroDetails | None:
        return await client.get_xero_details(UUID(str(invoice_id)))

    result: XeroDetails | None = run(work)
    return result


def sync_history(invoice_id: str | UUID) -> list[str]:
    """The invoice's sync-history details, oldest first (kept by invoice id, even after a delete)."""
    prefix = get_settings().dataverse_publisher_prefix

    async def work(client: DataverseClient) -> list[str]:
        rows = await client.get_json(
            f"{prefix}_synchistories",
            {
                "$select": f"{prefix}_detail",
                "$filter": f"{prefix}_dynamicsinvoiceid eq '{invoice_id}'",
                "$orderby": f"{prefix}_occurredon asc,createdon asc",
            },
        )
        return [str(row[f"{prefix}_detail"]) for row in rows["value"]]

    result: list[str] = run(work)
    return result


def invoice_state(invoice_id: str | UUID) -> tuple[int, int]:
    """statecode and statuscode of a Dynamics invoice."""

    async def work(client: DataverseClient) -> tuple[int, int]:
        snapshot = await client.get_invoice_snapshot(UUID(str(invoice_id)))
        return int(snapshot.invoice.state), int(snapshot.invoice.status_reason)

    result: tuple[int, int] = run(work)
    return result


def wait_for(condition: Any, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll until `condition()` returns something truthy; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"not done within {timeout:.0f}s")

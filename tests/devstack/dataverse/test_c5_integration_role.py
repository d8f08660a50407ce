"""C5: the integration role grants every right the connector's own calls need, and nothing more. The
connector runs as an application user who holds only that role; the emulator enforces it."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from connector.adapters.dataverse.auth import StaticTokenCredential
from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.console_queries import ConsoleQueries
from connector.domain.dynamics import (
    ExportStatus,
    InvoiceState,
    InvoiceTotals,
    LineTrackingOption,
    SyncAction,
    SyncHistoryEntry,
    SyncOutcome,
)
from connector.domain.reference_data import ReferenceRow
from connector.errors import AuthorisationError
from connector.ports import SyncWrite
from connector.setup.backfill import backfill_xero_details
from connector.setup.customizations import provision_customizations
from connector.setup.provision import SchemaProvisioner
from connector.setup.roles import INTEGRATION_ROLE, assign_role, integration_grants, privilege_names
from connector.setup.webhooks import WebhookRegistrar
from devstack.dataverse.testing import DataverseEmulatorHandle
from tests.devstack.dataverse.conftest import Receiver

# Plumbing every method goes through, not calls of their own.
PLUMBING = {"close", "get_json", "list_all", "execute_change_set", "execute_change_sets"}


@pytest.fixture
async def admin(dv: DataverseEmulatorHandle) -> AsyncIterator[DataverseClient]:
    async with DataverseClient(dv.base_url, StaticTokenCredential(dv.token), backoff=0.01) as client:
        yield client


@pytest.fixture
async def integration(
    dv: DataverseEmulatorHandle, admin: DataverseClient, seeded: dict[str, Any]
) -> AsyncIterator[tuple[str, DataverseClient]]:
    """Schema, forms, views and roles provisioned by an administrator; an application user that holds
    only the integration role, as `provision-schema --assign-role` leaves it."""
    await SchemaProvisioner(admin, "XeroConnector").run()
    _, roles = await provision_customizations(admin, "XeroConnector")
    application_id = str(uuid.uuid4())
    user_id = await asyncio.to_thread(dv.create_user, "Xero Connector app", application_id)
    assigned, added = await assign_role(admin, application_id, roles[INTEGRATION_ROLE])
    assert (assigned, added) == (user_id, True)
    token = await asyncio.to_thread(dv.issue_token, user_id)
    dv.clear_privilege_checks()
    async with DataverseClient(
        dv.base_url, StaticTokenCredential(token), backoff=0.01, max_attempts=1
    ) as client:
        yield user_id, client


class Journey:
    """Calls every adapter method once as the integration user, noting which ones it called."""

    def __init__(self, client: DataverseClient, dv: DataverseEmulatorHandle, ids: dict[str, Any]) -> None:
        self.client, self.dv, self.ids = client, dv, ids
        self.called: set[str] = set()

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.called.add(name)
        return await getattr(self.client, name)(*args, **kwargs)

    async def invoice(self, **extra: Any) -> UUID:
        body = {"account_id": self.ids["accounts"]["Contoso Ltd"], "name": "Role check", "currency": "NZD"}
        body["lines"] = [{"write_in": "Work", "quantity": 1, "price": "100.00", "tax": "15.00"}]
        return UUID((await asyncio.to_thread(self.dv.ui_create_invoice, **{**body, **extra}))["id"])

    def history(self, invoice_id: UUID, connection_id: UUID, detail: str) -> SyncHistoryEntry:
        return SyncHistoryEntry(
            invoice_id=invoice_id,
            action=SyncAction.CREATE,
            detail=detail,
            outcome=SyncOutcome.SUCCESS,
            at=datetime.now(UTC),
            correlation_id="role-check",
            connection_id=connection_id,
        )

    async def connections_and_reference_data(self) -> UUID:
        connection = await self.call("create_connection", "Role NZ", "tenant-role", make_default=True)
        await self.call("create_connection", "Role AU", "tenant-role-au", make_default=False)
        await self.call("set_default_connection", connection.id)
        for table, rows in {
            "tax_type": [
                {"key": "OUTPUT2", "name": "GST on Income", "taxtype": "OUTPUT2", "rate": Decimal("15")}
            ],
            "account_code": [{"key": "200", "name": "Sales", "code": "200", "xeroid": "acc-200"}],
            "branding_theme": [{"key": "theme-1", "name": "Standard", "xeroid": "theme-1"}],
        }.items():
            for _ in range(2):  # imported, then imported again over the same rows
                await self.call("upsert_reference_rows", table, rows, connection.id)
        category = ReferenceRow(key="cat-1", name="Region", values={"xeroid": "cat-1"})
        await self.call("write_reference_rows", "tracking_category", connection.id, [category])
        option = ReferenceRow(key="opt-1", name="North", values={"xeroid": "opt-1"}, parent_key="cat-1")
        await self.call("write_reference_rows", "tracking_option", connection.id, [option])
        options = await self.call("list_reference_rows", "tracking_option", connection.id)
        accounts = await self.call("list_reference_rows", "account_code", connection.id)
        themes = await self.call("list_reference_rows", "branding_theme", connection.id)
        defaults = {
            "default_sales_account_id": accounts[0].row_id,
            "default_purchase_account_id": accounts[0].row_id,
            "default_branding_theme_row_id": themes[0].row_id,
            "default_tracking": (LineTrackingOption(option_row_id=options[0].row_id),),
        }
        await self.call("update_connection", connection.id, defaults)
        await self.call(
            "update_connection", connection.id, {"needs_reconnect": True, "reconnect_reason": "test"}
        )
        await self.call("get_reference_data", connection.id, fresh=True)
        await self.call("list_connections")
        await self.call("get_connection", connection.id)
        await self.call("get_default_connection")
        await self.call("get_connection_by_tenant_id", "tenant-role")
        return UUID(str(connection.id))

    async def invoices(self, connection_id: UUID) -> None:
        first, second, third = [await self.invoice(date_delivered=date.today().isoformat()) for _ in range(3)]
        claim = {"claimed_until": datetime.now(UTC) + timedelta(minutes=5), "claimed_by": "role-check"}
        details = await self.call("set_up_invoice", first, connection_id, set_connection=True, claim=claim)
        await self.call("create_xero_details", second, connection_id)
        await self.call("set_invoice_connection", second, connection_id)
        await self.call("get_invoice_snapshot", first)
        await self.call("get_invoice_snapshots", [first, second])
        await self.call("list_eligible_invoice_ids", connection_id, date.today())
        await self.call("list_invoice_ids_without_xero_details")
        await self.call(
            "list_recent_invoice_ids_without_xero_details", datetime.now(UTC) - timedelta(hours=1)
        )
        assert (await backfill_xero_details(self.client)).created == 1  # the third invoice
        etag = await self.call("update_xero_details", details.id, {"xero_invoice_id": "xi-1"}, details.etag)
        totals = InvoiceTotals(invoice_id=first, total_tax=Decimal("15"), total_amount=Decimal("115"))
        changes = {
            "export_status": ExportStatus.YES,
            "xero_invoice_number": "INV-1",
            "amount_due": Decimal("115"),
        }
        await self.call(
            "commit_sync_result", details.id, changes, totals, [self.history(first, connection_id, "sent")]
        )
        other = await self.call("get_xero_details", second)
        write = SyncWrite(
            other.id,
            {"export_status": ExportStatus.FAILED},
            None,
            [self.history(second, connection_id, "no")],
        )
        await self.call("commit_sync_results", [write])
        await self.call("add_sync_history", self.history(third, connection_id, "noted"))
        assert etag and (await self.call("find_tracked_invoice", "xi-1")) is not None
        await self.call("find_tracked_invoices", ["xi-1", "unknown"])
        await self.call("find_xero_details_by_credit_note_id", "cn-1")
        await self.call(
            "update_invoice_totals", second, total_tax=Decimal("1"), total_amount=Decimal("2"), due_date=None
        )
        await self.call("set_date_delivered", third, date.today())
        await self.call("set_invoice_state", first, InvoiceState.PAID, 100001)
        await self.call("list_overdue_candidates", connection_id, date.today())
        await self.call("list_emails_pending", connection_id)
        await self.call("list_missing_online_urls", connection_id, 25)

    async def customers(self) -> None:
        account, contact = UUID(self.ids["accounts"]["Contoso Ltd"]), UUID(self.ids["contacts"]["Jane Doe"])
        for kind, customer_id in (("account", account), ("contact", contact)):
            await self.call("get_customer", kind, customer_id)
            await self.call(
                "update_customer_xero", kind, customer_id, xero_contact_id="xc-1", amount_owed=Decimal("5")
            )
        await self.call("find_customers_by_xero_contact_id", "xc-1")
        await self.call("list_linked_customers")

    async def console(self, connection_id: UUID) -> None:
        queries = ConsoleQueries(self.client)
        await queries.recent_history(connection_id, datetime.now(UTC) - timedelta(days=1))
        await queries.failed_invoices(connection_id)
        await queries.reference_choices(connection_id)


def drift(dv: DataverseEmulatorHandle) -> None:
    for step in dv.state.rows["sdkmessageprocessingstep"].values():
        step["filteringattributes"] = "name"
    for image in dv.state.rows["sdkmessageprocessingstepimage"].values():
        image["attributes"] = "name"


def adapter_methods() -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(DataverseClient)
        if not name.startswith("_") and inspect.iscoroutinefunction(member) and name not in PLUMBING
    }


async def test_c5_the_connector_works_as_a_user_holding_only_the_integration_role_and_uses_all_of_it(
    dv: DataverseEmulatorHandle,
    seeded: dict[str, Any],
    receiver: tuple[Receiver, str],
    integration: tuple[str, DataverseClient],
) -> None:
    user_id, client = integration
    journey = Journey(client, dv, seeded)
    registrar = WebhookRegistrar(client, "role-check")
    await registrar.run(f"{receiver[1]}/hook", "key")
    drift(dv)  # someone changed the steps by hand: registering again puts them right
    await registrar.run(f"{receiver[1]}/hook", "key")
    connection_id = await journey.connections_and_reference_data()
    await journey.invoices(connection_id)
    await journey.customers()
    await journey.console(connection_id)
    assert str(await journey.call("who_am_i")) == user_id  # how webhooks tell the connector's own changes

    assert adapter_methods() - journey.called == set(), (
        "call every new adapter method here, as the role's user"
    )
    checks = dv.privilege_checks(user_id)[user_id]
    assert checks["denied"] == []
    granted = set(privilege_names(client.schema, integration_grants(client.schema)))
    assert set(checks["used"]) == granted  # every privilege the role grants was needed by some call


async def test_c5_without_one_privilege_the_matching_call_is_refused_with_dataverse_403(
    dv: DataverseEmulatorHandle,
    admin: DataverseClient,
    seeded: dict[str, Any],
    integration: tuple[str, DataverseClient],
) -> None:
    user_id, client = integration
    journey = Journey(client, dv, seeded)
    connection = await client.create_connection("Role NZ", "tenant-role", make_default=True)
    invoice_id = await journey.invoice(date_delivered=date.today().isoformat())
    details = await client.create_xero_details(invoice_id, connection.id)
    role_id = next(row["roleid"] for row in dv.state.rows["role"].values() if row["name"] == INTEGRATION_ROLE)
    privilege_id = next(
        row["privilegeid"]
        for row in dv.state.rows["privilege"].values()
        if row["name"] == "prvWritexc_XeroDetail"
    )
    await admin.transport.send(
        "POST",
        f"roles({role_id})/Microsoft.Dynamics.CRM.RemovePrivilegeRole",
        json_body={"PrivilegeId": privilege_id},
    )
    dv.clear_requests()

    with pytest.raises(AuthorisationError) as refused:
        await client.update_xero_details(details.id, {"export_status": ExportStatus.YES}, details.etag)

    assert "(403)" in str(refused.value) and "is missing prvWritexc_XeroDetail privilege" in str(
        refused.value
    )
    [request] = [r for r in dv.requests() if r["method"] == "PATCH"]
    assert request["status"] == 403 and request["user"] == user_id
    stored = dv.state.rows["xc_xerodetail"][str(details.id)]
    assert stored["xc_exportstatus"] == 100000000  # still "No"
    assert (await client.get_xero_details(invoice_id)) is not None  # reading is still allowed

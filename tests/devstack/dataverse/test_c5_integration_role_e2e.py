"""C5 end to end: the whole app on devstack, talking to Dataverse as an application user that holds only
the integration role. An invoice syncs to Xero and a payment comes back; no call is refused."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.schema import build_schema
from connector.bootstrap import use_app
from connector.domain.dynamics import ExportStatus
from connector.settings import get_settings
from connector.setup.customizations import provision_customizations
from connector.setup.roles import INTEGRATION_ROLE, assign_role, integration_grants, privilege_names
from devstack.local_platform import LocalPlatform, PlatformPorts
from devstack.scenario import Scenario, invoice_state, run, set_up, wait_for, xero_details

pytestmark = pytest.mark.e2e
PLATFORM_ENV = (
    "AzureWebJobsStorage",
    "DATAVERSE_URL",
    "DATAVERSE_STATIC_TOKEN",
    "XERO_API_BASE_URL",
    "XERO_CONNECTIONS_BASE_URL",
    "XERO_IDENTITY_BASE_URL",
    "XERO_LOGIN_BASE_URL",
)


@pytest.fixture
def as_integration_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Scenario, str]]:
    """Set up by an administrator (schema, webhooks, connection, forms, views, roles); then the Functions
    host signs in as the application user, which holds the integration role and nothing else."""
    for name in PLATFORM_ENV:
        monkeypatch.setenv(name, "placeholder")  # restored afterwards: the platform overwrites them
    monkeypatch.setenv("DATAVERSE_WEBHOOK_SECRET", "local-dataverse-webhook-secret")
    monkeypatch.setenv("XERO_CLIENT_ID", "local-xero-client")
    monkeypatch.setenv("XERO_CLIENT_SECRET", "local-xero-secret")
    platform = LocalPlatform(ports=PlatformPorts.free()).start()
    try:
        scenario = set_up(platform)
        dataverse = platform.dataverse
        assert dataverse is not None

        async def roles(client: DataverseClient) -> dict[str, str]:
            _, ids = await provision_customizations(client, get_settings().dataverse_solution)
            return ids

        role_id = run(roles)[INTEGRATION_ROLE]
        application_id = str(uuid.uuid4())
        user_id = dataverse.create_user("Xero Connector (application user)", application_id)
        run(lambda client: assign_role(client, application_id, role_id))
        os.environ["DATAVERSE_STATIC_TOKEN"] = dataverse.issue_token(user_id)
        get_settings.cache_clear()
        use_app(None)  # the host builds its app again, with the application user's token
        dataverse.clear_privilege_checks()
        yield scenario, user_id
    finally:
        platform.stop()
        use_app(None)
        get_settings.cache_clear()


def test_c5_the_sync_journey_passes_as_a_user_holding_only_the_integration_role(
    as_integration_user: tuple[Scenario, str],
) -> None:
    scenario, user_id = as_integration_user
    dataverse, xero = scenario.platform.dataverse, scenario.platform.xero
    assert dataverse is not None and xero is not None
    created = dataverse.ui_create_invoice(
        account_id=scenario.account_id("Contoso Ltd"),
        name="Role journey",
        currency="NZD",
        date_delivered=date.today().isoformat(),
        lines=[{"write_in": "Consulting", "quantity": "1", "price": "100.00", "tax": "15.00"}],
    )
    details = wait_for(
        lambda: (d := xero_details(created["id"])) and d.export_status == ExportStatus.YES and d
    )
    assert details.xero_invoice_id is not None
    xero.approve(scenario.tenant_id, details.xero_invoice_id)
    xero.pay(scenario.tenant_id, details.xero_invoice_id, "115.00")
    wait_for(lambda: invoice_state(created["id"]) == (2, 100001), timeout=60)  # paid in Xero → Paid here
    paid = xero_details(created["id"])
    assert paid is not None and paid.amount_due == Decimal("0.00")

    refused = [r for r in dataverse.requests() if r.get("user") == user_id and r.get("status") == 403]
    assert refused == []
    checks = dataverse.privilege_checks(user_id)[user_id]
    assert checks["denied"] == []
    schema = build_schema(get_settings().dataverse_publisher_prefix)
    assert set(checks["used"]) <= set(privilege_names(schema, integration_grants(schema)))

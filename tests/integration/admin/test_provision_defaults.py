"""C3: provisioned yes/no columns carry the spec's defaults, so a connection made in the Dynamics UI gets
Yes where the spec says Yes; columns provisioned before that are fixed on the next run."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from connector.domain.dynamics import ConnectionSettings
from tests.integration.admin.console_stack import ConsoleStack

pytestmark = pytest.mark.timeout(120)
YES_BY_SPEC = (
    "use_xero_invoice_number",
    "create_contacts",
    "create_products",
    "create_credit_note_on_cancel",
)


def test_c3_a_connection_made_in_dynamics_gets_the_spec_defaults(stack: ConsoleStack) -> None:
    from connector.adapters.dataverse.client import client_from_settings
    from connector.settings import get_settings
    from connector.setup.provision import CRM, SchemaProvisioner

    settings = get_settings()

    async def work() -> tuple[ConnectionSettings, bool, bool]:
        async with client_from_settings(settings) as client:
            table = client.schema.table("connection")
            # An older provisioning left one column defaulting to No
            entity = f"EntityDefinitions(LogicalName='{table.logical_name}')"
            path = f"{entity}/Attributes(LogicalName='xc_createcontacts')"
            old = await client.get_json(f"{path}/{CRM}BooleanAttributeMetadata")
            await client.transport.send("PUT", path, json_body={**old, "DefaultValue": False})
            fixed = await SchemaProvisioner(client, settings.dataverse_solution).run()
            again = await SchemaProvisioner(client, settings.dataverse_solution).run()
            # What the Dynamics form sends: a name and the organisation, nothing else
            response = await client.transport.send(
                "POST",
                table.entity_set,
                json_body={table.primary_name: "Made in Dynamics", "xc_tenantid": "t-1"},
                headers={"Prefer": "return=representation"},
            )
            made = await client.get_connection(UUID(response.json()[table.primary_id]))
            return made, fixed.changed, again.changed

    made, fixed, again = asyncio.run(work())
    assert fixed and not again
    assert all(getattr(made, name) for name in YES_BY_SPEC)
    assert not made.use_invoice_name and not made.allow_invoice_update and not made.send_email

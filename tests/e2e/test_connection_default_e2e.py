"""C1 end to end on devstack: an admin ticks "Is default" on a second connection in Dynamics; the webhook
step on the connection table, the sync-poll queue and its handler clear it on the first one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest

from connector.adapters.dataverse.client import DataverseClient
from connector.domain.dynamics import ConnectionSettings
from devstack.dataverse.seed import SALES_USER_ID
from devstack.scenario import Scenario, run, wait_for

pytestmark = pytest.mark.e2e


def connections() -> dict[UUID, ConnectionSettings]:
    async def work(client: DataverseClient) -> list[ConnectionSettings]:
        return await client.list_connections()

    listed: list[ConnectionSettings] = run(work)
    return {connection.id: connection for connection in listed}


def tick_is_default(scenario: Scenario, connection_id: UUID) -> None:
    """What saving the connection form with "Is default" ticked sends, as a Sales user (an admin)."""
    dataverse = scenario.platform.dataverse
    assert dataverse is not None
    entity_set = "xc_xeroconnections"
    response = httpx.patch(
        f"{dataverse.api_url}{entity_set}({connection_id})",
        json={"xc_isdefault": True},
        headers={"Authorization": f"Bearer {dataverse.issue_token(SALES_USER_ID)}", "If-Match": "*"},
        timeout=10,
    )
    assert response.status_code == 204, response.text


def test_c1_is_default_ticked_in_dynamics_clears_it_on_the_other_connection(scenario: Scenario) -> None:
    first = scenario.connection
    assert first.is_default

    async def add_second(client: DataverseClient) -> ConnectionSettings:
        return await client.create_connection("Demo AU", "tenant-au", make_default=False)

    second: ConnectionSettings = run(add_second)
    assert {c.id for c in connections().values() if c.is_default} == {first.id}
    dataverse = scenario.platform.dataverse
    assert dataverse is not None and dataverse.wait_for_deliveries(10)
    before = len(dataverse.deliveries)

    tick_is_default(scenario, second.id)

    def settled() -> dict[UUID, Any] | None:
        now = connections()
        return now if not now[first.id].is_default else None

    after = wait_for(settled, timeout=30)
    assert {c.id for c in after.values() if c.is_default} == {second.id}
    assert dataverse.wait_for_deliveries(10)
    # The admin's tick (202: queued) and the echo of the connector's own clearing write (200: ignored).
    delivered = [(d.entity, d.record_id, d.status_code) for d in dataverse.deliveries[before:]]
    assert delivered == [
        ("xc_xeroconnection", str(second.id), 202),
        ("xc_xeroconnection", str(first.id), 200),
    ]

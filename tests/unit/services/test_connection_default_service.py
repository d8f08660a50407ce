"""C1: a connection made default in Dynamics becomes the only default, once, whatever replays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from connector.domain.connection_rules import only_default
from connector.domain.messages import ConnectionDefaultMessage
from connector.errors import NotFoundError
from connector.services.connection_default import make_only_default
from tests import factories as f
from tests.fakes.dataverse import FakeDataverse

NZ, AU, UK = f.uid("nz"), f.uid("au"), f.uid("uk")


@dataclass
class DefaultsDataverse(FakeDataverse):
    """FakeDataverse with the adapter's set_default_connection: the same rule, one change set of writes."""

    change_sets: list[dict[str, bool]] = field(default_factory=list)

    async def set_default_connection(self, connection_id: UUID) -> None:
        self.calls["set_default_connection"] += 1
        if connection_id not in self.connections:
            raise NotFoundError(f"connection {connection_id} does not exist")
        marked = {str(c.id): c.is_default for c in self.connections.values()}
        writes = only_default(marked, connection_id)
        if writes:
            self.change_sets.append(writes)
        for row_id, value in writes.items():
            current = self.connections[UUID(row_id)]
            self.connections[current.id] = current.model_copy(update={"is_default": value})

    def defaults(self) -> set[UUID]:
        return {c.id for c in self.connections.values() if c.is_default}


def world(*marked: UUID) -> DefaultsDataverse:
    dataverse = DefaultsDataverse()
    for connection_id, name in ((NZ, "NZ"), (AU, "AU"), (UK, "UK")):
        dataverse.connections[connection_id] = f.connection(
            id=connection_id, name=name, tenant_id=f"t-{name}", is_default=connection_id in marked
        )
    return dataverse


def made_default(connection_id: UUID) -> ConnectionDefaultMessage:
    return ConnectionDefaultMessage(
        connection_id=connection_id,
        organization="contoso",
        message_name="Update",
        correlation_id="c-1",
        event_time=datetime(2026, 11, 21, tzinfo=UTC),
    )


async def test_c1_the_connection_ticked_in_dynamics_becomes_the_only_default() -> None:
    dataverse = world(NZ, AU)  # NZ was the default; someone ticked AU
    assert await make_only_default(made_default(AU), dataverse) == "made the only default"
    assert dataverse.defaults() == {AU}
    assert dataverse.change_sets == [{str(NZ): False}]  # one change set, AU itself already marked


async def test_c1_a_replay_or_the_echo_of_the_clearing_writes_changes_nothing() -> None:
    dataverse = world(NZ, AU)
    await make_only_default(made_default(AU), dataverse)
    dataverse.calls.clear()
    assert await make_only_default(made_default(AU), dataverse) == "already the only default"
    assert dataverse.defaults() == {AU}
    assert dataverse.calls == {"list_connections": 1}  # one read, no write


async def test_c1_a_connection_unticked_again_before_the_message_runs_changes_nothing() -> None:
    dataverse = world(NZ)  # AU was ticked, then unticked: the admin changed their mind
    assert await make_only_default(made_default(AU), dataverse) == "not default any more"
    assert dataverse.defaults() == {NZ}
    assert dataverse.calls["set_default_connection"] == 0


async def test_c1_two_ticked_in_a_row_settle_on_exactly_one_default() -> None:
    dataverse = world(NZ, AU, UK)  # AU and UK ticked before either message ran
    await make_only_default(made_default(AU), dataverse)
    await make_only_default(made_default(UK), dataverse)  # UK was cleared by AU's: nothing more
    assert dataverse.defaults() == {AU}


async def test_c1_a_connection_removed_before_the_message_runs_changes_nothing() -> None:
    dataverse = world(NZ)
    assert await make_only_default(made_default(f.uid("gone")), dataverse) == "not default any more"
    assert dataverse.defaults() == {NZ}


async def test_c1_a_connection_removed_while_the_message_runs_is_not_retried() -> None:
    dataverse = world(NZ, AU)

    async def removed_meanwhile(connection_id: UUID) -> None:
        del dataverse.connections[connection_id]
        await DefaultsDataverse.set_default_connection(dataverse, connection_id)

    dataverse.set_default_connection = removed_meanwhile  # type: ignore[method-assign]
    assert await make_only_default(made_default(AU), dataverse) == "connection gone"
    assert dataverse.defaults() == {NZ}

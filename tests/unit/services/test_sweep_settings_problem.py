"""C3: a connection whose settings are invalid is marked in Dynamics with a plain message, once, and skipped;
the others keep syncing; the mark is cleared once the settings are fixed."""

from __future__ import annotations

import pytest

from connector.domain.messages import SweepMessage
from connector.services.sweep import SweepDependencies, sweep
from tests import factories as f
from tests.unit.services.test_sweep_service import backlog
from tests.unit.services.test_sync_invoice_service import NOW, make_world


def sweep_message() -> SweepMessage:
    return SweepMessage(scheduled_for=NOW, correlation_id="sweep-1")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "America", "X" * 300], ids=["unknown", "region", "long"])
async def test_c3_any_bad_time_zone_marks_that_connection_and_the_others_keep_syncing(zone: str) -> None:
    world = make_world()
    broken = f.connection(id=f.uid("broken"), name="Broken", tenant_id="t-2", time_zone=zone)
    world.dataverse.connections[broken.id] = broken
    backlog(world, 1)
    assert await sweep(sweep_message(), SweepDependencies(dataverse=world.dataverse, sync=world.deps)) == {
        "created": 1
    }
    assert "is not an IANA time zone" in (world.dataverse.connections[broken.id].settings_problem or "")


async def test_c3_a_misconfigured_connection_is_marked_once_in_dynamics_and_cleared_once_fixed() -> None:
    world = make_world()
    deps = SweepDependencies(dataverse=world.dataverse, sync=world.deps)
    broken = f.connection(id=f.uid("broken"), name="Broken", tenant_id="t-2", time_zone="Mars/Olympus")
    world.dataverse.connections[broken.id] = broken
    backlog(world, 1)
    assert await sweep(sweep_message(), deps) == {"created": 1}  # the good connection syncs
    marked = world.dataverse.connections[broken.id].settings_problem
    assert marked == 'Time zone "Mars/Olympus" is not an IANA time zone, e.g. Pacific/Auckland.'
    assert world.dataverse.connections[f.CONNECTION_ID].settings_problem is None
    assert world.dataverse.calls["update_connection"] == 1
    await sweep(sweep_message(), deps)
    assert world.dataverse.calls["update_connection"] == 1  # still broken: not written again
    await world.dataverse.update_connection(broken.id, {"time_zone": "Pacific/Auckland"})  # the admin's fix
    await sweep(sweep_message(), deps)
    assert world.dataverse.connections[broken.id].settings_problem is None
    assert world.dataverse.calls["update_connection"] == 3  # the fix, then the sweep's one clearing write
    await sweep(sweep_message(), deps)
    assert world.dataverse.calls["update_connection"] == 3


async def test_c3_the_settings_problem_fits_its_column() -> None:
    from connector.adapters.dataverse.schema import CONNECTION_MAX_LENGTHS, build_schema
    from connector.services.sweep import SETTINGS_PROBLEM_MAX_LENGTH, settings_problem

    column = next(
        c for c in build_schema("xc").table("connection").columns if c.logical_name == "xc_settingsproblem"
    )
    assert column.max_length == CONNECTION_MAX_LENGTHS["settings_problem"] == SETTINGS_PROBLEM_MAX_LENGTH
    worst = f.connection(tenant_id="", time_zone="X" * 2000)  # a value pasted into Dynamics by mistake
    problem = settings_problem(worst)
    assert problem is not None and problem.startswith("No Xero organisation is set")
    assert len(problem) == column.max_length

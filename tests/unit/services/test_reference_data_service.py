"""sync_reference_data (C4) with fakes: order, upsert by Xero id, deactivation, If-Modified-Since, no writes
when nothing changed, when each table was last synced, one connection's failure contained."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from connector.domain.dynamics import ConnectionSettings
from connector.domain.messages import ReferenceDataSyncMessage
from connector.domain.reference_data import ReferenceTable
from connector.domain.xero_records import (
    XeroAccount,
    XeroBrandingTheme,
    XeroTaxRate,
    XeroTrackingCategory,
    XeroTrackingOption,
)
from connector.errors import AuthorisationError
from connector.services.reference_data import (
    ReferenceDataDependencies,
    TableResult,
    last_synced,
    sync_reference_data,
    sync_reference_data_message,
)
from tests import factories as f
from tests.fakes.reference_data import FakeDataverseWithReferenceData, FakeXeroWithReferenceData
from tests.fakes.storage import MemoryWatermarkStore

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
SEEDED = NOW - timedelta(days=30)


def organisation() -> FakeXeroWithReferenceData:
    xero = FakeXeroWithReferenceData()
    xero.tax_rates = [
        XeroTaxRate(tax_type="OUTPUT2", name="15% GST on Income", effective_rate=Decimal("15")),
        XeroTaxRate(tax_type="TAX001", name="Old GST", effective_rate=Decimal("12.5"), status="ARCHIVED"),
    ]
    xero.account_records = [
        XeroAccount(code="200", name="Sales", account_id="a-200", updated_at=SEEDED),
        XeroAccount(
            code="999", name="Archived Sundry", account_id="a-999", status="ARCHIVED", updated_at=SEEDED
        ),
    ]
    xero.branding_themes = [XeroBrandingTheme(branding_theme_id="t-1", name="Standard", sort_order=0)]
    xero.tracking_categories = [
        XeroTrackingCategory(
            category_id="c-region",
            name="Region",
            options=(
                XeroTrackingOption(option_id="o-north", name="North"),
                XeroTrackingOption(option_id="o-east", name="East", status="ARCHIVED"),
            ),
        )
    ]
    return xero


@dataclass
class World:
    dataverse: FakeDataverseWithReferenceData
    xero: FakeXeroWithReferenceData
    state: MemoryWatermarkStore
    clock: list[datetime]
    deps: ReferenceDataDependencies
    connection: ConnectionSettings


def make_world(*connections: ConnectionSettings) -> World:
    dataverse, xero, state, clock = (
        FakeDataverseWithReferenceData(),
        organisation(),
        MemoryWatermarkStore(),
        [NOW],
    )
    for connection in connections or (f.connection(),):
        dataverse.connections[connection.id] = connection
    deps = ReferenceDataDependencies(dataverse, lambda _c: xero, state, lambda: clock[0])
    return World(dataverse, xero, state, clock, deps, next(iter(dataverse.connections.values())))


async def test_c4_tables_in_order_rows_by_xero_id_archived_rows_inactive() -> None:
    world = make_world()
    seen: list[tuple[ReferenceTable, bool]] = []

    def progress(_c: ConnectionSettings, table: ReferenceTable, done: TableResult | None) -> None:
        seen.append((table, done is not None))

    [result] = await sync_reference_data(world.deps, progress=progress)
    order = ["tax_type", "account_code", "branding_theme", "tracking_category", "tracking_option"]
    assert seen == [(table, done) for table in order for done in (False, True)]
    assert result.error is None and result.written == 8  # 2 tax rates, 2 accounts, 1 theme, 1 + 2 tracking
    cid = world.connection.id
    assert not world.dataverse.row("tax_type", cid, "TAX001").active
    assert world.dataverse.row("account_code", cid, "a-200").values["code"] == "200"
    assert not world.dataverse.row("account_code", cid, "a-999").active
    north, east = (world.dataverse.row("tracking_option", cid, key) for key in ("o-north", "o-east"))
    assert (north.name, north.active, north.parent_key, east.active) == (
        "Region: North",
        True,
        "c-region",
        False,
    )


async def test_c4_a_second_run_with_nothing_changed_makes_no_dataverse_writes() -> None:
    world = make_world()
    await sync_reference_data(world.deps)
    writes_before = list(world.dataverse.writes)
    [again] = await sync_reference_data(world.deps)
    assert world.dataverse.writes == writes_before
    assert again.written == 0
    # The chart of accounts was read only for changes since the newest account Xero had shown.
    assert world.xero.accounts_asked_since == [None, SEEDED]


async def test_c4_archived_and_deleted_in_xero_are_deactivated_never_deleted() -> None:
    world = make_world()
    await sync_reference_data(world.deps)
    world.xero.tax_rates = world.xero.tax_rates[:1]  # TAX001 deleted
    world.xero.branding_themes = []
    region = world.xero.tracking_categories[0]
    world.xero.tracking_categories = [region.model_copy(update={"status": "ARCHIVED"})]
    await sync_reference_data(world.deps)
    cid = world.connection.id
    gone = world.dataverse.row("tax_type", cid, "TAX001")
    assert (gone.active, gone.values["status"]) == (False, "DELETED")
    assert not world.dataverse.row("branding_theme", cid, "t-1").active
    assert not world.dataverse.row("tracking_option", cid, "o-north").active
    assert len(world.dataverse.rows("tax_type", cid)) == 2


async def test_c4_accounts_changed_since_the_watermark_then_a_weekly_full_read_catches_deletions() -> None:
    world = make_world()
    await sync_reference_data(world.deps)
    renamed = XeroAccount(
        code="200", name="Sales (NZ)", account_id="a-200", updated_at=NOW + timedelta(hours=1)
    )
    world.xero.account_records = [renamed]  # and 999 deleted: If-Modified-Since never says so
    world.clock[0] = NOW + timedelta(days=1)
    [result] = await sync_reference_data(world.deps)
    accounts = next(t for t in result.tables if t.table == "account_code")
    assert (accounts.incremental, accounts.updated, accounts.deactivated) == (True, 1, 0)
    cid = world.connection.id
    assert world.dataverse.row("account_code", cid, "a-200").name == "200 - Sales (NZ)"
    assert world.dataverse.row("account_code", cid, "a-999").active is False  # archived already
    world.xero.account_records = [renamed, XeroAccount(code="400", name="Ads", account_id="a-400")]
    world.clock[0] = NOW + timedelta(days=8)
    await sync_reference_data(world.deps)
    assert world.xero.accounts_asked_since[-1] is None
    assert world.dataverse.row("account_code", cid, "a-400").active


async def test_c4_when_each_table_was_last_synced_is_kept_outside_dataverse() -> None:
    world = make_world()
    assert set((await last_synced(world.state, world.connection.id)).values()) == {None}
    await sync_reference_data(world.deps)
    assert set((await last_synced(world.state, world.connection.id)).values()) == {NOW}


async def test_c4_one_connection_losing_its_authorisation_does_not_stop_the_others() -> None:
    first, second = f.connection(id=f.uid("a"), name="A"), f.connection(id=f.uid("b"), name="B")
    world = make_world(first, second)
    world.xero.fail_next["get_tax_rates"] = AuthorisationError("refresh token revoked")
    message = ReferenceDataSyncMessage(requested_at=NOW, correlation_id="c-1")
    results = await sync_reference_data_message(message, world.deps)
    assert [r.error is None for r in results] == [False, True]
    assert world.dataverse.connections[first.id].needs_reconnect
    assert world.dataverse.rows("tax_type", second.id)

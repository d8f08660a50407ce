"""sync_reference_data (C4): per connection, Xero's tax rates, chart of accounts, branding themes and
tracking categories with their options into the connector's Dataverse tables, in that order.

A routine run costs few calls: the chart of accounts is read with If-Modified-Since (the only one of
these four that Xero filters by it), the others are small lists read whole. Only rows that differ are
written, so a run with nothing changed in Xero makes no Dataverse writes; when each table was last
synced is kept outside Dataverse (blob storage) for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings
from connector.domain.messages import ReferenceDataSyncMessage
from connector.domain.reference_data import (
    SYNC_ORDER,
    ReferenceRow,
    ReferenceTable,
    TableChanges,
    account_rows,
    branding_theme_rows,
    changes_for,
    tax_rate_rows,
    tracking_category_rows,
    tracking_option_rows,
)
from connector.domain.xero_records import XeroAccount, XeroBrandingTheme, XeroTaxRate, XeroTrackingCategory
from connector.errors import AuthorisationError, ConnectorError
from connector.ports import Clock, DataverseConnectionHealth, WatermarkStore
from connector.services.connection_health import connection_lost
from connector.telemetry import get_logger, log_step

logger = get_logger("services.reference_data")

# A full read of the chart of accounts this often, so that accounts deleted in Xero (which
# If-Modified-Since never returns) are deactivated too.
FULL_ACCOUNTS_READ_EVERY = timedelta(days=7)
_STATE_NAMESPACE = uuid.UUID("5b0f6d1e-3c4a-4e8e-9a61-2f7d1c0b9e42")


class ReferenceDataSource(Protocol):
    """What the sync reads from one Xero organisation. Synchronous, like xero-python."""

    def get_tax_rates(self) -> list[XeroTaxRate]: ...

    def get_accounts(self, modified_since: datetime | None = None) -> list[XeroAccount]: ...

    def get_branding_themes(self) -> list[XeroBrandingTheme]: ...

    def get_tracking_categories(self) -> list[XeroTrackingCategory]: ...


class ReferenceDataStore(DataverseConnectionHealth, Protocol):
    """The connector's reference tables in Dataverse, one set of rows per connection."""

    async def list_reference_rows(self, table: ReferenceTable, connection_id: UUID) -> list[ReferenceRow]:
        """Every row of the connection's table, inactive ones included."""

    async def write_reference_rows(
        self, table: ReferenceTable, connection_id: UUID, rows: Sequence[ReferenceRow]
    ) -> int:
        """Upsert by Xero id, with each row's state; never deletes."""


@dataclass
class ReferenceDataDependencies:
    dataverse: ReferenceDataStore
    xero_for: Callable[[ConnectionSettings], ReferenceDataSource]
    state: WatermarkStore  # when each table was last synced, and the chart of accounts' watermark
    clock: Clock


@dataclass
class TableResult:
    table: ReferenceTable
    read: int  # rows Xero returned
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    incremental: bool = False  # read with If-Modified-Since


@dataclass
class ConnectionResult:
    connection: ConnectionSettings
    tables: list[TableResult] = field(default_factory=list)
    error: str | None = None

    @property
    def written(self) -> int:
        return sum(t.created + t.updated + t.deactivated for t in self.tables)


# (connection, table, result): result None when the table starts, then the table's result when done.
Progress = Callable[[ConnectionSettings, ReferenceTable, TableResult | None], None]


def state_key(connection_id: UUID, name: str) -> UUID:
    """Where a connection's sync state is kept: "<table>" (last synced), "accounts-watermark",
    "accounts-full" (last full read of the chart of accounts)."""
    return uuid.uuid5(_STATE_NAMESPACE, f"{connection_id}:{name}")


async def last_synced(state: WatermarkStore, connection_id: UUID) -> dict[ReferenceTable, datetime | None]:
    """When each of the connection's tables was last synced (None: never), for the console and status."""
    return {table: await state.get(state_key(connection_id, table)) for table in SYNC_ORDER}


async def sync_reference_data_message(
    message: ReferenceDataSyncMessage, deps: ReferenceDataDependencies
) -> list[ConnectionResult]:
    """The timer's (and the console's) entry point: one connection, or all of them."""
    ids = [message.connection_id] if message.connection_id is not None else None
    return await sync_reference_data(deps, connection_ids=ids, correlation_id=message.correlation_id)


async def sync_reference_data(
    deps: ReferenceDataDependencies,
    *,
    connection_ids: Sequence[UUID] | None = None,
    progress: Progress | None = None,
    correlation_id: str | None = None,
) -> list[ConnectionResult]:
    """Every connection (or those given), one after the other; one failing does not stop the others."""
    if connection_ids is None:
        connections = await deps.dataverse.list_connections()
    else:
        connections = [await deps.dataverse.get_connection(i) for i in connection_ids]
    results = []
    for connection in connections:
        if connection.needs_reconnect:
            results.append(ConnectionResult(connection, error="the connection needs a reconnect"))
            continue
        results.append(await _sync_connection(connection, deps, progress, correlation_id))
    return results


async def _sync_connection(
    connection: ConnectionSettings,
    deps: ReferenceDataDependencies,
    progress: Progress | None,
    correlation_id: str | None,
) -> ConnectionResult:
    result = ConnectionResult(connection)
    run = _Run(connection, deps, progress or (lambda *_: None))
    try:
        result.tables += [await run.tax_rates(), await run.accounts(), await run.branding_themes()]
        result.tables += await run.tracking()
    except AuthorisationError:
        await connection_lost(deps.dataverse, connection)
        result.error = "Xero no longer accepts this connection's authorisation; reconnect it"
    except ConnectorError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    log_step(
        logger,
        "reference_data.synced" if result.error is None else "reference_data.failed",
        logging.INFO if result.error is None else logging.WARNING,
        connection=connection.name,
        written=result.written,
        error=result.error,
        correlation_id=correlation_id,
        **{f"n_{t.table}": t.read for t in result.tables},
    )
    return result


@dataclass
class _Run:
    """One connection's sync, table by table."""

    connection: ConnectionSettings
    deps: ReferenceDataDependencies
    progress: Progress

    @property
    def xero(self) -> ReferenceDataSource:
        return self.deps.xero_for(self.connection)

    async def _apply(
        self, table: ReferenceTable, rows: list[ReferenceRow], *, complete: bool, incremental: bool = False
    ) -> TableResult:
        """Diff against what Dataverse holds and write only the differences (one change set per 500)."""
        dataverse, connection_id = self.deps.dataverse, self.connection.id
        existing = await dataverse.list_reference_rows(table, connection_id) if rows or complete else []
        changes: TableChanges = changes_for(table, rows, existing, complete=complete)
        if changes.writes:
            await dataverse.write_reference_rows(table, connection_id, changes.writes)
        await self.deps.state.set(state_key(connection_id, table), self.deps.clock())
        done = TableResult(
            table,
            read=len(rows),
            created=changes.created,
            updated=changes.updated,
            deactivated=changes.deactivated,
            unchanged=changes.unchanged,
            incremental=incremental,
        )
        self.progress(self.connection, table, done)
        return done

    async def tax_rates(self) -> TableResult:
        self.progress(self.connection, "tax_type", None)
        rates = await asyncio.to_thread(self.xero.get_tax_rates)
        return await self._apply("tax_type", tax_rate_rows(rates), complete=True)

    async def accounts(self) -> TableResult:
        """Changes since the last account Xero showed us, or everything once a week (and the first time)."""
        self.progress(self.connection, "account_code", None)
        state, connection_id, now = self.deps.state, self.connection.id, self.deps.clock()
        watermark = await state.get(state_key(connection_id, "accounts-watermark"))
        last_full = await state.get(state_key(connection_id, "accounts-full"))
        incremental = (
            watermark is not None and last_full is not None and now - last_full < FULL_ACCOUNTS_READ_EVERY
        )
        accounts = await asyncio.to_thread(self.xero.get_accounts, watermark if incremental else None)
        done = await self._apply(
            "account_code", account_rows(accounts), complete=not incremental, incremental=incremental
        )
        # Xero's own UpdatedDateUTC, not our clock: a skewed clock can then never skip a change.
        seen = [account.updated_at for account in accounts if account.updated_at is not None]
        if seen and (watermark is None or max(seen) > watermark):
            await state.set(state_key(connection_id, "accounts-watermark"), max(seen))
        if not incremental:
            await state.set(state_key(connection_id, "accounts-full"), now)
        return done

    async def branding_themes(self) -> TableResult:
        self.progress(self.connection, "branding_theme", None)
        themes = await asyncio.to_thread(self.xero.get_branding_themes)
        return await self._apply("branding_theme", branding_theme_rows(themes), complete=True)

    async def tracking(self) -> list[TableResult]:
        """Categories, then their options: one Xero call for both."""
        self.progress(self.connection, "tracking_category", None)
        categories = await asyncio.to_thread(self.xero.get_tracking_categories)
        done = [await self._apply("tracking_category", tracking_category_rows(categories), complete=True)]
        self.progress(self.connection, "tracking_option", None)
        done.append(await self._apply("tracking_option", tracking_option_rows(categories), complete=True))
        return done

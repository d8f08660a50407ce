"""Reference data (C4) in memory: a FakeDataverse with the reference tables, and a FakeXero with an
organisation's settings. Separate classes, so the other tests keep a Dataverse without reference data
(where nothing is checked before sending, as before C4 existed)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from connector.domain.reference_data import ReferenceData, ReferenceRow, ReferenceTable
from connector.domain.xero_records import XeroAccount, XeroBrandingTheme, XeroTaxRate, XeroTrackingCategory
from tests.fakes.dataverse import FakeDataverse
from tests.fakes.xero import FakeXero

_NAMESPACE = uuid.UUID("7d2f3f0e-8c1b-4b52-9f3e-0a4c5d6e7f80")


def row_id(table: str, connection_id: UUID, key: str) -> UUID:
    """Like the adapter's: one row per table, connection and Xero id."""
    return uuid.uuid5(_NAMESPACE, f"{table}:{connection_id}:{key}")


@dataclass
class FakeDataverseWithReferenceData(FakeDataverse):
    """Reference rows by (table, connection) and Xero id. Writes are counted in `writes` like the others;
    `get_reference_data` is not cached here (every check reads, which the tests can count)."""

    reference: dict[tuple[str, UUID], dict[str, ReferenceRow]] = field(default_factory=dict)

    def rows(self, table: ReferenceTable, connection_id: UUID) -> list[ReferenceRow]:
        return list(self.reference.get((table, connection_id), {}).values())

    def row(self, table: ReferenceTable, connection_id: UUID, key: str) -> ReferenceRow:
        return self.reference[(table, connection_id)][key]

    async def list_reference_rows(self, table: ReferenceTable, connection_id: UUID) -> list[ReferenceRow]:
        self._enter("list_reference_rows", write=False)
        self.calls["list_reference_rows"] += 1
        return self.rows(table, connection_id)

    async def write_reference_rows(
        self, table: ReferenceTable, connection_id: UUID, rows: Sequence[ReferenceRow]
    ) -> int:
        self._enter("write_reference_rows", write=True)
        self.calls["write_reference_rows"] += 1
        stored = self.reference.setdefault((table, connection_id), {})
        for row in rows:
            stored[row.key] = row.model_copy(update={"row_id": row_id(table, connection_id, row.key)})
        return len(rows)

    async def get_reference_data(self, connection_id: UUID, *, fresh: bool = False) -> ReferenceData:
        self.calls["get_reference_data"] += 1
        tables: dict[ReferenceTable, list[ReferenceRow]] = {
            table: self.rows(table, connection_id)
            for table in ("tax_type", "account_code", "branding_theme", "tracking_option")
        }
        return ReferenceData.from_rows(tables)


@dataclass
class FakeXeroWithReferenceData(FakeXero):
    """FakeXero with an organisation's settings. `get_accounts` honours If-Modified-Since as Xero
    does (records changed strictly after the moment)."""

    tax_rates: list[XeroTaxRate] = field(default_factory=list)
    account_records: list[XeroAccount] = field(default_factory=list)
    branding_themes: list[XeroBrandingTheme] = field(default_factory=list)
    tracking_categories: list[XeroTrackingCategory] = field(default_factory=list)
    accounts_asked_since: list[datetime | None] = field(default_factory=list)

    def get_tax_rates(self) -> list[XeroTaxRate]:
        self._enter("get_tax_rates")
        return list(self.tax_rates)

    def get_accounts(self, modified_since: datetime | None = None) -> list[XeroAccount]:
        self._enter("get_accounts")
        self.accounts_asked_since.append(modified_since)
        if modified_since is None:
            return list(self.account_records)
        return [a for a in self.account_records if a.updated_at is not None and a.updated_at > modified_since]

    def get_branding_themes(self) -> list[XeroBrandingTheme]:
        self._enter("get_branding_themes")
        return list(self.branding_themes)

    def get_tracking_categories(self) -> list[XeroTrackingCategory]:
        self._enter("get_tracking_categories")
        return list(self.tracking_categories)

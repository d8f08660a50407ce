"""C4: Xero's reference data as rows of the connector's Dataverse tables, and what changed since last time.

Rows are keyed by their Xero id (a tax rate's TaxType, which has no other id). Rows Xero archived or
deleted are made inactive, never deleted: invoices and lines point at them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from connector.domain.xero_records import (
    XeroAccount,
    XeroBrandingTheme,
    XeroTaxRate,
    XeroTrackingCategory,
)

ReferenceTable = Literal["tax_type", "account_code", "branding_theme", "tracking_category", "tracking_option"]
# C4's order: a chart of accounts names tax types, and options belong to their categories.
SYNC_ORDER: tuple[ReferenceTable, ...] = (
    "tax_type",
    "account_code",
    "branding_theme",
    "tracking_category",
    "tracking_option",
)
TABLE_LABELS: dict[ReferenceTable, str] = {
    "tax_type": "Tax rates",
    "account_code": "Chart of accounts",
    "branding_theme": "Branding themes",
    "tracking_category": "Tracking categories",
    "tracking_option": "Tracking options",
}
ACTIVE = "ACTIVE"
GONE = "DELETED"  # what a row says once Xero no longer lists it
Value = str | int | Decimal | None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReferenceRow(_Model):
    """One reference row: what Xero says (from Xero) or what the table holds (read from Dataverse)."""

    key: str  # the Xero id
    name: str  # what users see in the lookup
    values: dict[str, Value] = Field(default_factory=dict)  # column names without the publisher prefix
    active: bool = True
    parent_key: str | None = None  # a tracking option's category (its Xero id)
    row_id: UUID | None = None  # set on rows read from Dataverse

    def same_as(self, other: ReferenceRow) -> bool:
        """Whether writing `other` over this row would change nothing a user can see."""
        if (self.name, self.active, self.parent_key) != (other.name, other.active, other.parent_key):
            return False
        names = set(self.values) | set(other.values)
        return all(_same(self.values.get(name), other.values.get(name)) for name in names)


def _same(left: Value, right: Value) -> bool:
    left, right = (None if v == "" else v for v in (left, right))
    if isinstance(left, Decimal | int) or isinstance(right, Decimal | int):
        try:
            return left is not None and right is not None and Decimal(str(left)) == Decimal(str(right))
        except InvalidOperation:
            return False
    return left == right


class TableChanges(_Model):
    """The writes that bring one table in line with Xero: nothing when nothing changed."""

    table: ReferenceTable
    writes: tuple[ReferenceRow, ...] = ()
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0


def changes_for(
    table: ReferenceTable,
    from_xero: Sequence[ReferenceRow],
    in_dataverse: Sequence[ReferenceRow],
    *,
    complete: bool,
) -> TableChanges:
    """Upserts for new and changed rows. With `complete` (Xero listed every row, not only those changed
    since a moment), active rows Xero no longer lists are deactivated with status DELETED."""
    existing = {row.key: row for row in in_dataverse}
    writes: list[ReferenceRow] = []
    created = updated = deactivated = unchanged = 0
    for row in from_xero:
        before = existing.get(row.key)
        if before is None:
            created += 1
        elif before.same_as(row):
            unchanged += 1
            continue
        elif before.active and not row.active:
            deactivated += 1
        else:
            updated += 1
        writes.append(row)
    listed = {row.key for row in from_xero}
    if complete:
        for row in in_dataverse:
            if row.key in listed:
                continue
            gone = row.model_copy(update={"active": False, "values": {**row.values, "status": GONE}})
            if row.same_as(gone):
                unchanged += 1
                continue
            deactivated += 1
            writes.append(gone.model_copy(update={"row_id": None}))
    return TableChanges(
        table=table,
        writes=tuple(writes),
        created=created,
        updated=updated,
        deactivated=deactivated,
        unchanged=unchanged,
    )


# --- Xero records → rows ----------------------------------------------------------------------------


def tax_rate_rows(rates: Iterable[XeroTaxRate]) -> list[ReferenceRow]:
    return [
        ReferenceRow(
            key=rate.tax_type,
            name=rate.name or rate.tax_type,
            values={"taxtype": rate.tax_type, "rate": rate.effective_rate, "status": rate.status},
            active=rate.status == ACTIVE,
        )
        for rate in rates
        if rate.tax_type
    ]


def account_rows(accounts: Iterable[XeroAccount]) -> list[ReferenceRow]:
    """Accounts without a code (bank accounts may have none) cannot go on a line, so they are left out."""
    return [
        ReferenceRow(
            key=account.account_id or account.code,
            name=f"{account.code} - {account.name}" if account.name else account.code,
            values={
                "code": account.code,
                "accounttype": account.type,
                "taxtype": account.tax_type,
                "xeroid": account.account_id,
                "status": account.status,
            },
            active=account.status == ACTIVE,
        )
        for account in accounts
        if account.code
    ]


def branding_theme_rows(themes: Iterable[XeroBrandingTheme]) -> list[ReferenceRow]:
    return [
        ReferenceRow(
            key=theme.branding_theme_id,
            name=theme.name or theme.branding_theme_id,
            values={"xeroid": theme.branding_theme_id, "sortorder": theme.sort_order},
        )
        for theme in themes
    ]


def tracking_category_rows(categories: Iterable[XeroTrackingCategory]) -> list[ReferenceRow]:
    return [
        ReferenceRow(
            key=category.category_id,
            name=category.name,
            values={"xeroid": category.category_id, "status": category.status},
            active=category.status == ACTIVE,
        )
        for category in categories
    ]


def tracking_option_rows(categories: Iterable[XeroTrackingCategory]) -> list[ReferenceRow]:
    """An option can be picked only while both it and its category are active."""
    return [
        ReferenceRow(
            key=option.option_id,
            name=f"{category.name}: {option.name}",
            values={
                "xeroid": option.option_id,
                "optionname": option.name,
                "categoryname": category.name,
                "status": option.status if category.status == ACTIVE else category.status,
            },
            active=option.status == ACTIVE and category.status == ACTIVE,
            parent_key=category.category_id,
        )
        for category in categories
        for option in category.options
    ]


# --- what validation and mapping need ---------------------------------------------------------------


class KnownValue(_Model):
    """A synced value as validation sees it."""

    value: str  # the code, TaxType or Xero id
    name: str
    active: bool
    status: str | None = None
    category: str | None = None  # tracking options only
    option: str | None = None


class ReferenceData(_Model):
    """One connection's synced reference data. A table that was never synced is empty: no checks then."""

    tax_types: dict[str, KnownValue] = Field(default_factory=dict)  # by TaxType
    accounts: dict[str, KnownValue] = Field(default_factory=dict)  # by code (upper case)
    branding_themes: dict[str, KnownValue] = Field(default_factory=dict)  # by Xero id (lower case)
    rows: dict[UUID, KnownValue] = Field(default_factory=dict)  # account, theme and option rows by row id
    has_tracking: bool = False

    @classmethod
    def from_rows(cls, tables: Mapping[ReferenceTable, Sequence[ReferenceRow]]) -> ReferenceData:
        tax_types = {value.value.upper(): value for value in map(_known_tax, tables.get("tax_type", ()))}
        accounts: dict[str, KnownValue] = {}
        themes: dict[str, KnownValue] = {}
        rows: dict[UUID, KnownValue] = {}
        for row in tables.get("account_code", ()):
            value = _known(row, "code")
            accounts[value.value.upper()] = value
            if row.row_id is not None:
                rows[row.row_id] = value
        for row in tables.get("branding_theme", ()):
            value = _known(row, "xeroid")
            themes[value.value.lower()] = value
            if row.row_id is not None:
                rows[row.row_id] = value
        options = tables.get("tracking_option", ())
        for row in options:
            if row.row_id is not None:
                rows[row.row_id] = _known(
                    row,
                    "xeroid",
                    category=str(row.values.get("categoryname") or ""),
                    option=str(row.values.get("optionname") or ""),
                )
        return cls(
            tax_types=tax_types,
            accounts=accounts,
            branding_themes=themes,
            rows=rows,
            has_tracking=bool(options),
        )


def _known(row: ReferenceRow, value_column: str, **extra: str | None) -> KnownValue:
    status = row.values.get("status")
    return KnownValue(
        value=str(row.values.get(value_column) or row.key),
        name=row.name,
        active=row.active,
        status=str(status) if status else None,
        **extra,
    )


def _known_tax(row: ReferenceRow) -> KnownValue:
    return _known(row, "taxtype")

"""C4: Xero's reference data as rows, and the writes that bring a table in line with Xero."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from connector.domain.reference_data import (
    ReferenceData,
    ReferenceRow,
    account_rows,
    changes_for,
    tax_rate_rows,
    tracking_category_rows,
    tracking_option_rows,
)
from connector.domain.xero_records import (
    XeroAccount,
    XeroTaxRate,
    XeroTrackingCategory,
    XeroTrackingOption,
)

REGION = XeroTrackingCategory(
    category_id="cat-region",
    name="Region",
    options=(
        XeroTrackingOption(option_id="opt-north", name="North"),
        XeroTrackingOption(option_id="opt-east", name="East", status="ARCHIVED"),
    ),
)


def test_c4_rows_carry_the_xero_id_and_whether_they_can_be_used() -> None:
    rates = tax_rate_rows(
        [
            XeroTaxRate(tax_type="OUTPUT2", name="15% GST on Income", effective_rate=Decimal("15")),
            XeroTaxRate(tax_type="TAX001", name="Old GST", effective_rate=Decimal("12.5"), status="ARCHIVED"),
        ]
    )
    assert [(r.key, r.active, r.values["rate"]) for r in rates] == [
        ("OUTPUT2", True, Decimal("15")),
        ("TAX001", False, Decimal("12.5")),
    ]
    accounts = account_rows(
        [
            XeroAccount(code="200", name="Sales", account_id="acc-200", tax_type="OUTPUT2"),
            XeroAccount(code="", name="Cheque account", account_id="acc-bank"),  # no code: never on a line
        ]
    )
    assert [(a.key, a.name, a.values["code"]) for a in accounts] == [("acc-200", "200 - Sales", "200")]


def test_i15_an_option_is_usable_only_while_it_and_its_category_are_active() -> None:
    options = {r.key: r for r in tracking_option_rows([REGION])}
    assert options["opt-north"].active and not options["opt-east"].active
    assert options["opt-north"].name == "Region: North" and options["opt-north"].parent_key == "cat-region"
    archived = REGION.model_copy(update={"status": "ARCHIVED"})
    [category] = tracking_category_rows([archived])
    assert not category.active
    north = next(r for r in tracking_option_rows([archived]) if r.key == "opt-north")
    assert (north.active, north.values["status"]) == (False, "ARCHIVED")


def _stored(rows: list[ReferenceRow]) -> list[ReferenceRow]:
    """As Dataverse gives them back: with row ids, decimals to four places, empty text as None."""
    stored = []
    for index, row in enumerate(rows):
        values = {
            k: (Decimal(v).quantize(Decimal("0.0001")) if isinstance(v, Decimal) else v or None)
            for k, v in row.values.items()
        }
        stored.append(row.model_copy(update={"values": values, "row_id": UUID(int=index + 1)}))
    return stored


def test_c4_nothing_changed_means_no_writes() -> None:
    rows = tax_rate_rows([XeroTaxRate(tax_type="OUTPUT2", name="GST", effective_rate=Decimal("15"))])
    changes = changes_for("tax_type", rows, _stored(rows), complete=True)
    assert (changes.writes, changes.unchanged) == ((), 1)


def test_c4_new_changed_archived_and_deleted_rows() -> None:
    before = tax_rate_rows(
        [
            XeroTaxRate(tax_type="OUTPUT2", name="GST", effective_rate=Decimal("15")),
            XeroTaxRate(tax_type="INPUT2", name="GST on Expenses", effective_rate=Decimal("15")),
            XeroTaxRate(tax_type="ZERO", name="Zero", effective_rate=Decimal("0")),
        ]
    )
    now = tax_rate_rows(
        [
            XeroTaxRate(tax_type="OUTPUT2", name="GST on Income", effective_rate=Decimal("15")),  # renamed
            XeroTaxRate(
                tax_type="INPUT2", name="GST on Expenses", effective_rate=Decimal("15"), status="ARCHIVED"
            ),
            XeroTaxRate(tax_type="NONE", name="No GST", effective_rate=Decimal("0")),  # new
        ]
    )  # ZERO was deleted in Xero
    changes = changes_for("tax_type", now, _stored(before), complete=True)
    assert (changes.created, changes.updated, changes.deactivated, changes.unchanged) == (1, 1, 2, 0)
    written = {row.key: row for row in changes.writes}
    assert written["OUTPUT2"].name == "GST on Income"
    assert not written["INPUT2"].active
    assert (written["ZERO"].active, written["ZERO"].values["status"]) == (False, "DELETED")
    again = changes_for("tax_type", now, _stored([*now, written["ZERO"]]), complete=True)
    assert again.writes == ()


def test_c4_a_list_of_changes_since_a_moment_deactivates_nothing_it_does_not_mention() -> None:
    existing = _stored(account_rows([XeroAccount(code="200", name="Sales", account_id="a-200")]))
    changed = account_rows([XeroAccount(code="400", name="Advertising", account_id="a-400")])
    changes = changes_for("account_code", changed, existing, complete=False)
    assert [row.key for row in changes.writes] == ["a-400"]


def test_i16_reference_data_finds_values_by_code_and_rows_by_id() -> None:
    accounts = _stored(
        account_rows(
            [
                XeroAccount(code="200", name="Sales", account_id="a-200"),
                XeroAccount(code="999", name="Old", account_id="a-999", status="ARCHIVED"),
            ]
        )
    )
    options = _stored(tracking_option_rows([REGION]))
    data = ReferenceData.from_rows({"account_code": accounts, "tracking_option": options})
    assert data.accounts["200"].active and not data.accounts["999"].active
    assert data.accounts["999"].status == "ARCHIVED"
    north = data.rows[options[0].row_id or UUID(int=0)]
    assert (north.category, north.option, north.active) == ("Region", "North", True)
    assert data.has_tracking and data.tax_types == {}

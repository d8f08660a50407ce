"""I15: tracking on lines: the line's options, the connection's default per category, at most two; bundle
children and note lines carry none."""

from __future__ import annotations

from decimal import Decimal

from connector.domain.dynamics import LineTrackingOption, ProductType
from connector.domain.sync.lines import build_line_items
from connector.domain.xero_records import XeroLineTracking
from tests import factories as f


def option(category: str | None, name: str | None) -> LineTrackingOption:
    return LineTrackingOption(option_row_id=f.uid(f"{category}-{name}"), category=category, option=name)


def tracking(*pairs: tuple[str, str]) -> tuple[XeroLineTracking, ...]:
    return tuple(XeroLineTracking(category=c, option=o) for c, o in pairs)


def test_i15_the_lines_option_then_the_connections_default_for_the_other_category() -> None:
    connection = f.connection(default_tracking=(option("Region", "South"), option("Department", "Sales")))
    invoice = f.invoice([f.product_line(1, tracking=(option("Region", "North"),)), f.write_in_line(2)])
    lines = build_line_items(invoice, connection, {}).line_items
    assert lines[0].tracking == tracking(("Region", "North"), ("Department", "Sales"))
    assert lines[1].tracking == tracking(("Region", "South"), ("Department", "Sales"))


def test_i15_bundle_children_and_notes_carry_none() -> None:
    connection = f.connection(default_tracking=(option("Region", "South"),))
    bundle = f.product_line(1, product_type=ProductType.BUNDLE, tracking=(option("Region", "North"),))
    child = f.product_line(2, parent_bundle_line_id=bundle.id, tracking=(option("Region", "North"),))
    note = f.write_in_line(
        3, quantity=Decimal(0), price_per_unit=Decimal(0), tracking=(option("Region", "North"),)
    )
    lines = build_line_items(f.invoice([bundle, child, note]), connection, {}).line_items
    assert [line.tracking for line in lines] == [tracking(("Region", "North")), (), ()]


def test_i15_options_not_resolved_from_reference_data_are_not_sent() -> None:
    unresolved = LineTrackingOption(option_row_id=f.uid("row"))
    lines = build_line_items(f.invoice([f.product_line(1, tracking=(unresolved,))]), f.connection(), {})
    assert lines.line_items[0].tracking == ()


def test_i15_an_untracked_draft_serialises_as_before_so_pending_creates_keep_their_keys() -> None:
    [line] = build_line_items(f.invoice(), f.connection(), {}).line_items
    assert "tracking" not in line.model_dump()
    tracked = line.model_copy(update={"tracking": tracking(("Region", "North"))})
    assert tracked.model_dump()["tracking"] == ({"category": "Region", "option": "North"},)

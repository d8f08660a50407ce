"""What each Dynamics invoice line becomes in Xero, and the order lines are sent in (I4)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from connector.domain.dynamics import InvoiceLine, Product, ProductType

ITEM_CODE_MAX = 30  # Xero Item.Code maxLength


class LineKind(StrEnum):
    PRODUCT = "product"  # an existing product: item code, quantity, price, discount
    BUNDLE = "bundle"  # the bundle's own line: priced like a product
    BUNDLE_CHILD = "bundle_child"  # a product inside a bundle: description only, or left out
    WRITE_IN = "write_in"  # description, quantity and price, never an item
    NOTE = "note"  # a write-in with quantity 0 and amount 0: description only


# Only lines with money carry account codes, tax types and tracking (I15): bundle children and notes
# are description-only lines in Xero.
PRICED_KINDS = frozenset({LineKind.PRODUCT, LineKind.BUNDLE, LineKind.WRITE_IN})


def carries_tracking(kind: LineKind) -> bool:
    return kind in PRICED_KINDS


def item_code(product: Product) -> str:
    """The Xero item code for a product: its product number, cut to Xero's 30 characters."""
    return product.number.strip()[:ITEM_CODE_MAX]


def is_write_in(line: InvoiceLine) -> bool:
    return line.is_write_in or line.product is None


def line_kind(line: InvoiceLine, line_ids: frozenset[UUID]) -> LineKind:
    """Classify one line; `line_ids` are the ids on the same invoice (to tell a child from an orphan)."""
    if line.parent_bundle_line_id is not None and line.parent_bundle_line_id in line_ids:
        return LineKind.BUNDLE_CHILD
    if is_write_in(line):
        if line.quantity == 0 and line.price_per_unit == 0 and line.extended_amount == Decimal(0):
            return LineKind.NOTE
        return LineKind.WRITE_IN
    if line.product_type == ProductType.BUNDLE:
        return LineKind.BUNDLE
    return LineKind.PRODUCT


def ordered_lines(lines: Sequence[InvoiceLine]) -> list[tuple[InvoiceLine, LineKind]]:
    """Lines by sequence number, each bundle's children right after it (also by sequence).

    Dynamics numbers bundle children after their bundle already; placing them explicitly keeps
    a bundle and its parts together even when sequence numbers were edited by hand.
    """
    ids = frozenset(line.id for line in lines)
    by_sequence = sorted(lines, key=lambda line: line.sequence)  # sorted() is stable for ties
    kinds = {line.id: line_kind(line, ids) for line in by_sequence}
    children: dict[UUID, list[InvoiceLine]] = {}
    for line in by_sequence:
        if kinds[line.id] == LineKind.BUNDLE_CHILD and line.parent_bundle_line_id is not None:
            children.setdefault(line.parent_bundle_line_id, []).append(line)
    ordered: list[tuple[InvoiceLine, LineKind]] = []
    placed: set[UUID] = set()

    def place(line: InvoiceLine) -> None:
        if line.id in placed:
            return
        placed.add(line.id)
        ordered.append((line, kinds[line.id]))
        for child in children.get(line.id, []):
            place(child)

    for line in by_sequence:
        if kinds[line.id] != LineKind.BUNDLE_CHILD:
            place(line)
    for line in by_sequence:  # children of a child (nested bundles) are placed by recursion; this is a guard
        place(line)
    return ordered

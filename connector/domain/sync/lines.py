"""I4: Dynamics invoice lines → Xero line items, with Decimal money and Xero's rounding."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from connector.domain.dynamics import ConnectionSettings, Invoice, InvoiceLine
from connector.domain.sync.line_kinds import LineKind, item_code, ordered_lines
from connector.domain.sync.money import needs_four_dp, round_money, round_to_dp
from connector.domain.xero_records import XeroItem, XeroLineItem, XeroLineTracking

NO_DESCRIPTION = "(no description)"  # Xero needs at least one character on a description-only line
MAX_TRACKING = 2  # Xero: two tracking categories per line


class LineItems(BaseModel):
    """The line items of one draft, and the unit-amount precision they need."""

    model_config = ConfigDict(frozen=True)

    line_items: list[XeroLineItem]
    unit_dp: Literal[2, 4] = 2


class _Priced(BaseModel):
    """A line with money, before unit amounts are rounded to the draft's precision."""

    model_config = ConfigDict(frozen=True)

    description: str
    quantity: Decimal
    unit_amount: Decimal
    discount_amount: Decimal | None
    item_code: str | None
    account_code: str | None
    tax_type: str | None
    tracking: tuple[XeroLineTracking, ...] = ()


def line_tracking(line: InvoiceLine, connection: ConnectionSettings) -> tuple[XeroLineTracking, ...]:
    """I15: the line's own options, then the connection's default for each category the line leaves
    empty; at most two. Only options whose names are known (resolved from reference data) are sent."""
    chosen: list[XeroLineTracking] = []
    categories: set[str] = set()
    for pick in (*line.tracking, *connection.default_tracking):
        if not pick.category or not pick.option or pick.category.casefold() in categories:
            continue
        categories.add(pick.category.casefold())
        chosen.append(XeroLineTracking(category=pick.category, option=pick.option))
    return tuple(chosen[:MAX_TRACKING])


def line_description(line: InvoiceLine) -> str:
    """What the line says: a product's line description or name; a write-in's name and description."""
    if line.product is not None and not line.is_write_in:
        text = (line.description or "").strip() or line.product.name.strip()
        return text or line.product.number
    parts: list[str] = []
    for part in (line.write_in_name, line.description):
        text = (part or "").strip()
        if text and text not in parts:
            parts.append(text)
    return "\n".join(parts)


def _account_and_tax(
    line: InvoiceLine, item: XeroItem | None, connection: ConnectionSettings, purchase: bool
) -> tuple[str | None, str | None]:
    """Line override, then the product's Xero item (sales or purchase side), then the connection default."""
    item_account = (item.purchase_account_code if purchase else item.sales_account_code) if item else None
    item_tax = (item.purchase_tax_type if purchase else item.sales_tax_type) if item else None
    default_account = (
        connection.default_purchase_account_code if purchase else connection.default_sales_account_code
    )
    account = line.account_code_override or item_account or default_account
    tax = line.tax_type_override or item_tax
    return account, tax


def _priced(
    line: InvoiceLine,
    kind: LineKind,
    connection: ConnectionSettings,
    items_by_code: Mapping[str, XeroItem],
    purchase: bool,
) -> _Priced:
    item: XeroItem | None = None
    if kind != LineKind.WRITE_IN and line.product is not None:
        item = items_by_code.get(item_code(line.product))
    account, tax = _account_and_tax(line, item, connection, purchase)
    quantity = line.quantity
    unit_amount = line.price_per_unit
    discount: Decimal | None = line.manual_discount if line.manual_discount else None
    if discount is not None and purchase and quantity != 0:
        # Xero takes no discount on bills: fold it into the unit amount so the line total still matches.
        unit_amount = (quantity * unit_amount - discount) / quantity
        discount = None
    return _Priced(
        description=line_description(line) or NO_DESCRIPTION,
        quantity=quantity,
        unit_amount=unit_amount,
        discount_amount=round_money(discount) if discount is not None else None,
        item_code=item.code if item is not None else None,
        account_code=account,
        tax_type=tax,
        tracking=line_tracking(line, connection),
    )


def build_line_items(
    invoice: Invoice, connection: ConnectionSettings, items_by_code: Mapping[str, XeroItem]
) -> LineItems:
    """All line items of the invoice, in order.

    `items_by_code` holds the Xero items that exist (or were just created), keyed by item code; a
    product without one is still sent, without an item (I6). Bundle children are description-only
    lines, or left out when the connection sends bundle headers only.
    """
    purchase = invoice.invoice_type == "purchase"
    entries: list[_Priced | str] = []  # a str is a description-only line
    for line, kind in ordered_lines(invoice.lines):
        if kind == LineKind.BUNDLE_CHILD:
            if not connection.bundle_header_only:
                entries.append(line_description(line) or NO_DESCRIPTION)
        elif kind == LineKind.NOTE:
            text = line_description(line)
            if text:  # an empty note says nothing, and Xero would reject it
                entries.append(text)
        else:
            entries.append(_priced(line, kind, connection, items_by_code, purchase))

    unit_dp: Literal[2, 4] = (
        4 if any(isinstance(e, _Priced) and needs_four_dp(e.unit_amount) for e in entries) else 2
    )
    line_items = [
        XeroLineItem(description=entry)
        if isinstance(entry, str)
        else XeroLineItem(
            description=entry.description,
            quantity=round_to_dp(entry.quantity, 4),
            unit_amount=round_to_dp(entry.unit_amount, unit_dp),
            item_code=entry.item_code,
            account_code=entry.account_code,
            tax_type=entry.tax_type,
            discount_amount=entry.discount_amount,
            tracking=entry.tracking,
        )
        for entry in entries
    ]
    return LineItems(line_items=line_items, unit_dp=unit_dp)


def line_amount(line_item: XeroLineItem) -> Decimal:
    """Xero's LineAmount: quantity × unit amount − discount, rounded to the cent per line."""
    quantity = line_item.quantity or Decimal(0)
    unit = line_item.unit_amount or Decimal(0)
    gross = quantity * unit
    if line_item.discount_amount is not None:
        gross -= line_item.discount_amount
    elif line_item.discount_rate is not None:
        gross -= gross * line_item.discount_rate / 100
    return round_money(gross)


def rounding_difference(dynamics_total: Decimal, xero_total: Decimal) -> Decimal | None:
    """Xero's total minus the Dynamics total, in cents, or None when they agree (I4: report it)."""
    difference = round_money(xero_total) - round_money(dynamics_total)
    return difference if difference != 0 else None

"""I6: which products need a Xero item, and the item to create for each."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from connector.domain.dynamics import ConnectionSettings, Invoice, InvoiceLine, Product
from connector.domain.sync.line_kinds import LineKind, item_code, ordered_lines
from connector.domain.xero_records import XeroItem, XeroItemDraft

ITEM_NAME_MAX = 50
ITEM_DESCRIPTION_MAX = 4000

# Lines that are sent with an item code; bundle children go as description-only lines, write-ins never.
_ITEM_LINE_KINDS = frozenset({LineKind.PRODUCT, LineKind.BUNDLE})


def lines_needing_items(
    invoice: Invoice, connection: ConnectionSettings, items_by_code: Mapping[str, XeroItem]
) -> list[InvoiceLine]:
    """The first line of each product that has no Xero item yet, when creating items is allowed.

    With creation off the list is empty: those lines are still sent, without an item.
    """
    if not connection.create_products:
        return []
    needing: list[InvoiceLine] = []
    seen: set[str] = set()
    for line, kind in ordered_lines(invoice.lines):
        if kind not in _ITEM_LINE_KINDS or line.product is None:
            continue
        code = item_code(line.product)
        if not code or code in items_by_code or code in seen:
            continue
        seen.add(code)
        needing.append(line)
    return needing


def item_draft(
    product: Product,
    connection: ConnectionSettings,
    invoice_type: str,
    *,
    account_code: str | None = None,
    tax_type: str | None = None,
    unit_price: Decimal | None = None,
) -> XeroItemDraft:
    """The Xero item for an existing product (code, name, unit price, account, tax type).

    Sales invoices fill the item's sales details, bills its purchase details. The account is the
    given one (the line's override), else the connection default for that side. The unit price is
    the product's list price, else `unit_price` (the line's price).
    """
    price = product.price if product.price is not None else unit_price
    name = product.name.strip()[:ITEM_NAME_MAX] or item_code(product)
    description = (product.description or "").strip()[:ITEM_DESCRIPTION_MAX] or None
    if invoice_type in ("purchase", "ACCPAY"):
        return XeroItemDraft(
            code=item_code(product),
            name=name,
            description=description,
            unit_price=price,
            purchase_account_code=account_code or connection.default_purchase_account_code,
            purchase_tax_type=tax_type,
        )
    return XeroItemDraft(
        code=item_code(product),
        name=name,
        description=description,
        unit_price=price,
        sales_account_code=account_code or connection.default_sales_account_code,
        sales_tax_type=tax_type,
    )


def items_to_create(
    invoice: Invoice, connection: ConnectionSettings, items_by_code: Mapping[str, XeroItem]
) -> list[XeroItemDraft]:
    """Item drafts for every product on the invoice that needs one, each from its first line."""
    drafts: list[XeroItemDraft] = []
    for line in lines_needing_items(invoice, connection, items_by_code):
        assert line.product is not None  # lines_needing_items keeps product lines only
        drafts.append(
            item_draft(
                line.product,
                connection,
                invoice.invoice_type,
                account_code=line.account_code_override,
                tax_type=line.tax_type_override,
                unit_price=line.price_per_unit,
            )
        )
    return drafts

"""Line and document totals, in Decimal: discounts, tax per line rounded to 2 dp,
Exclusive/Inclusive/NoTax."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_unit(value: Decimal, unitdp: int) -> Decimal:
    """Xero keeps unit amounts to 2 dp unless the request opts in with unitdp=4."""
    return value.quantize(Decimal(1).scaleb(-unitdp), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineFigures:
    line_amount: Decimal  # after discount, as the client sees it (tax-inclusive for Inclusive)
    tax_amount: Decimal
    net_amount: Decimal  # line amount excluding tax
    discount: Decimal  # the discount, in money


def line_figures(
    quantity: Decimal,
    unit_amount: Decimal,
    rate_percent: Decimal,
    line_amount_types: str,
    discount_rate: Decimal | None = None,
    discount_amount: Decimal | None = None,
    tax_override: Decimal | None = None,
) -> LineFigures:
    """One line. DiscountRate is a percentage of quantity × unit; DiscountAmount is money off the line."""
    gross = quantity * unit_amount
    if discount_rate is not None:
        line_amount = round_money(gross * (Decimal(100) - discount_rate) / Decimal(100))
    elif discount_amount is not None:
        line_amount = round_money(gross - discount_amount)
    else:
        line_amount = round_money(gross)
    discount = round_money(gross) - line_amount
    rate = rate_percent / Decimal(100)
    if line_amount_types == "NoTax":
        tax = ZERO
    elif tax_override is not None:
        tax = round_money(tax_override)
    elif line_amount_types == "Inclusive":
        tax = round_money(line_amount * rate / (Decimal(1) + rate))
    else:
        tax = round_money(line_amount * rate)
    net = line_amount - tax if line_amount_types == "Inclusive" else line_amount
    return LineFigures(line_amount=line_amount, tax_amount=tax, net_amount=net, discount=discount)


@dataclass(frozen=True)
class DocumentTotals:
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    total_discount: Decimal


def document_totals(lines: list[LineFigures]) -> DocumentTotals:
    sub_total = sum((line.net_amount for line in lines), ZERO)
    total_tax = sum((line.tax_amount for line in lines), ZERO)
    discount = sum((line.discount for line in lines), ZERO)
    return DocumentTotals(
        sub_total=round_money(sub_total),
        total_tax=round_money(total_tax),
        total=round_money(sub_total + total_tax),
        total_discount=round_money(discount),
    )

"""Money rounding the way Xero does it: half away from zero, 2 dp (4 dp for unit amounts with unitdp=4)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

CENT = Decimal("0.01")
FOUR_DP = Decimal("0.0001")


def round_money(amount: Decimal) -> Decimal:
    """Round to whole cents, half away from zero (Decimal's ROUND_HALF_UP)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def round_to_dp(amount: Decimal, dp: Literal[2, 4]) -> Decimal:
    """Round to 2 or 4 decimal places, half away from zero."""
    return amount.quantize(CENT if dp == 2 else FOUR_DP, rounding=ROUND_HALF_UP)


def needs_four_dp(amount: Decimal) -> bool:
    """True when the amount has significant digits past the cent (19.9900 does not; 19.995 does)."""
    return amount != amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency_code: str | None = None) -> str:
    """'GBP 1,234.50' for people reading sync history."""
    text = f"{round_money(amount):,.2f}"
    return f"{currency_code} {text}" if currency_code else text

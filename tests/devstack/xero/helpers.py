"""Builders for SDK models used across the emulator tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from xero_python.accounting import Contact, Invoice, Invoices, LineItem


def line(
    amount: str = "100.00",
    qty: str = "1",
    account: str | None = "200",
    tax: str | None = "OUTPUT2",
    **extra: Any,
) -> LineItem:
    kwargs: dict[str, Any] = {
        "description": "Service",
        "quantity": Decimal(qty),
        "unit_amount": Decimal(amount),
    }
    if account:
        kwargs["account_code"] = account
    if tax:
        kwargs["tax_type"] = tax
    kwargs.update(extra)
    return LineItem(**kwargs)


def invoice(
    status: str = "DRAFT", lines: list[LineItem] | None = None, contact: str = "Acme Ltd", **extra: Any
) -> Invoice:
    return Invoice(
        type=extra.pop("type", "ACCREC"),
        contact=Contact(name=contact),
        date=date(2026, 3, 1),
        due_date=extra.pop("due_date", date(2026, 3, 31)),
        line_items=lines if lines is not None else [line()],
        status=status,
        **extra,
    )


def invoices(*items: Invoice) -> Invoices:
    return Invoices(invoices=list(items))

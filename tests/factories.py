"""Small builders for Dynamics records, so each test states only what it is about."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from connector.domain.dynamics import (
    ConnectionSettings,
    Customer,
    ExportStatus,
    Invoice,
    InvoiceLine,
    Product,
    XeroDetails,
)
from connector.domain.routing import IgnoredEvent, RoutedEvent, XeroDetailsTable, route_change
from connector.entrypoints.dataverse_context import read_change

NS = UUID("6f1c2a7e-3d4b-4c1a-9e2f-0a1b2c3d4e5f")
CONNECTION_ID = uuid5(NS, "connection")
INVOICE_ID = UUID("11111111-2222-3333-4444-555555555555")
ORG_URL = "https://contoso.crm11.dynamics.com"


def uid(name: str) -> UUID:
    """A stable id per name, so expected values can be written literally."""
    return uuid5(NS, name)


def connection(**overrides: Any) -> ConnectionSettings:
    values: dict[str, Any] = {
        "id": CONNECTION_ID,
        "name": "Contoso UK",
        "tenant_id": "tenant-1",
        "default_sales_account_code": "200",
        "default_purchase_account_code": "300",
    }
    values.update(overrides)
    return ConnectionSettings(**values)


def customer(**overrides: Any) -> Customer:
    values: dict[str, Any] = {"kind": "account", "id": uid("customer"), "name": "A. Datum Corporation"}
    values.update(overrides)
    return Customer(**values)


def product(number: str = "WIDGET-1", name: str = "Widget", **overrides: Any) -> Product:
    values: dict[str, Any] = {"id": uid(f"product-{number}"), "number": number, "name": name}
    values.update(overrides)
    return Product(**values)


def product_line(sequence: int, prod: Product | None = None, **overrides: Any) -> InvoiceLine:
    values: dict[str, Any] = {
        "id": uid(f"line-{sequence}"),
        "sequence": sequence,
        "product": prod or product(),
        "quantity": Decimal(1),
        "price_per_unit": Decimal("10.00"),
    }
    values.update(overrides)
    return InvoiceLine(**values)


def write_in_line(sequence: int, name: str = "Consulting", **overrides: Any) -> InvoiceLine:
    values: dict[str, Any] = {
        "id": uid(f"line-{sequence}"),
        "sequence": sequence,
        "product": None,
        "is_write_in": True,
        "write_in_name": name,
        "quantity": Decimal(1),
        "price_per_unit": Decimal("10.00"),
    }
    values.update(overrides)
    return InvoiceLine(**values)


def invoice(lines: list[InvoiceLine] | None = None, **overrides: Any) -> Invoice:
    values: dict[str, Any] = {
        "id": INVOICE_ID,
        "name": "Spring order",
        "number": "INV-01001-B7K2",
        "description": "Spring order for A. Datum",
        "date_delivered": date(2026, 3, 2),
        "due_date": date(2026, 4, 1),
        "currency_code": "GBP",
        "customer": customer(),
        "lines": lines if lines is not None else [product_line(1)],
        "connection_id": CONNECTION_ID,
    }
    values.update(overrides)
    return Invoice(**values)


def details(**overrides: Any) -> XeroDetails:
    values: dict[str, Any] = {
        "id": uid("details"),
        "invoice_id": INVOICE_ID,
        "connection_id": CONNECTION_ID,
        "export_status": ExportStatus.NO,
    }
    values.update(overrides)
    return XeroDetails(**values)


def route_webhook(
    body: bytes, headers: Mapping[str, str], now: datetime, table: XeroDetailsTable | None = None
) -> RoutedEvent | IgnoredEvent:
    """A Dataverse webhook read and routed as the entrypoint does."""
    from connector.bootstrap import xero_details_table  # the composition root: only when routing

    return route_change(read_change(body, headers, now), table or xero_details_table("xc"))

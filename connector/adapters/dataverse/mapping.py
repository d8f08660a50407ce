"""OData JSON (Dataverse column names) ⇄ the connector's domain models."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.schema import (
    CONNECTION_FIELDS,
    EXPORT_STATUS_VALUES,
    INVOICE_TYPE_VALUES,
    LINE_AMOUNT_TYPE_VALUES,
    SYNC_ACTION_VALUES,
    SYNC_OUTCOME_VALUES,
    XERO_DETAILS_FIELDS,
    ConnectorSchema,
)
from connector.domain.dynamics import (
    ConnectionSettings,
    Customer,
    ExportStatus,
    Invoice,
    InvoiceLine,
    InvoiceState,
    LineTrackingOption,
    Product,
    ProductType,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.ports import CustomerKind

ADDRESS_COLUMNS = {
    "address_line1": "address1_line1",
    "address_line2": "address1_line2",
    "city": "address1_city",
    "state": "address1_stateorprovince",
    "postcode": "address1_postalcode",
    "country": "address1_country",
}
CUSTOMER_NAME = {"account": "name", "contact": "fullname"}
ENTITY_SET = {"account": "accounts", "contact": "contacts"}
LINE_COLUMNS = (
    "quantity",
    "priceperunit",
    "manualdiscountamount",
    "tax",
    "extendedamount",
    "isproductoverridden",
    "productdescription",
    "description",
    "sequencenumber",
    "producttypecode",
    "_parentbundleidref_value",
    "_productid_value",
)
INVOICE_COLUMNS = (
    "name",
    "invoicenumber",
    "description",
    "datedelivered",
    "duedate",
    "statecode",
    "statuscode",
    "totalamount",
    "totaltax",
    "modifiedon",
    "versionnumber",
    "_customerid_value",
)
PRODUCT_COLUMNS = ("productnumber", "name", "description", "price")
LINE_TRACKING_LOOKUPS = ("line_tracking_option_1", "line_tracking_option_2")
# ConnectionSettings field → the connection's lookup to a reference row (C5: defaults shown as lookups).
CONNECTION_LOOKUPS = {
    "default_sales_account_id": ("connection_default_sales_account", "account_code"),
    "default_purchase_account_id": ("connection_default_purchase_account", "account_code"),
    "default_branding_theme_row_id": ("connection_default_branding_theme", "branding_theme"),
}
CONNECTION_TRACKING_LOOKUPS = ("connection_default_tracking_1", "connection_default_tracking_2")


def line_lookup_columns(schema: ConnectorSchema) -> list[str]:
    """Lookup columns of a line read with the snapshot: its tracking options (I15)."""
    return [schema.lookup(key).value_name for key in LINE_TRACKING_LOOKUPS]


def invoice_lookup_columns(schema: ConnectorSchema) -> list[str]:
    """Lookup columns of an invoice read with the snapshot: the invoice a credit note credits (I14)."""
    return [schema.lookup("invoice_credit_note_of").value_name]


def _tracking_picks(
    schema: ConnectorSchema, row: Mapping[str, Any], keys: tuple[str, ...]
) -> tuple[LineTrackingOption, ...]:
    ids = (to_uuid(row.get(schema.lookup(key).value_name)) for key in keys)
    return tuple(LineTrackingOption(option_row_id=row_id) for row_id in ids if row_id is not None)


def to_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def to_date(value: Any) -> date | None:
    """Date-only columns come as "2024-05-01"; UserLocal ones may come as a UTC date-time."""
    if not value:
        return None
    text = str(value)
    return date.fromisoformat(text[:10])


def to_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value else None


def choice_label(values: Mapping[str, int], value: Any, default: str) -> str:
    for label, number in values.items():
        if number == value:
            return label
    return default


def customer_columns(schema: ConnectorSchema, kind: CustomerKind) -> list[str]:
    columns = [
        CUSTOMER_NAME[kind],
        "emailaddress1",
        "telephone1",
        *ADDRESS_COLUMNS.values(),
        schema.p("xerocontactid"),
    ]
    if kind == "account":
        columns.append("accountnumber")
    return columns


def customer_from_json(schema: ConnectorSchema, kind: CustomerKind, row: Mapping[str, Any]) -> Customer:
    return Customer(
        kind=kind,
        id=UUID(str(row[f"{kind}id"])),
        name=str(row.get(CUSTOMER_NAME[kind]) or ""),
        number=row.get("accountnumber") if kind == "account" else None,
        email=row.get("emailaddress1"),
        phone=row.get("telephone1"),
        xero_contact_id=row.get(schema.p("xerocontactid")),
        **{field: row.get(column) for field, column in ADDRESS_COLUMNS.items()},
    )


def product_from_json(row: Mapping[str, Any]) -> Product:
    return Product(
        id=UUID(str(row["productid"])),
        number=str(row.get("productnumber") or ""),
        name=str(row.get("name") or ""),
        description=row.get("description"),
        price=to_decimal(row.get("price")),
    )


def line_from_json(schema: ConnectorSchema, row: Mapping[str, Any]) -> InvoiceLine:
    account_code = row.get(schema.lookup("line_account_code").schema_name) or {}
    tax_type = row.get(schema.lookup("line_tax_type").schema_name) or {}
    product = row.get("productid")
    is_write_in = bool(row.get("isproductoverridden"))
    return InvoiceLine(
        id=UUID(str(row["invoicedetailid"])),
        sequence=int(row.get("sequencenumber") or 0),
        product=product_from_json(product) if product and not is_write_in else None,
        is_write_in=is_write_in,
        write_in_name=row.get("productdescription"),
        description=row.get("description"),
        quantity=to_decimal(row.get("quantity")) or Decimal(0),
        price_per_unit=to_decimal(row.get("priceperunit")) or Decimal(0),
        manual_discount=to_decimal(row.get("manualdiscountamount")) or Decimal(0),
        tax=to_decimal(row.get("tax")) or Decimal(0),
        extended_amount=to_decimal(row.get("extendedamount")) or Decimal(0),
        product_type=ProductType(int(row.get("producttypecode") or ProductType.PRODUCT)),
        parent_bundle_line_id=to_uuid(row.get("_parentbundleidref_value")),
        account_code_override=account_code.get(schema.p("code")),
        tax_type_override=tax_type.get(schema.p("taxtype")),
        tracking=_tracking_picks(schema, row, LINE_TRACKING_LOOKUPS),
    )


def invoice_from_json(schema: ConnectorSchema, row: Mapping[str, Any]) -> Invoice:
    account, contact = row.get("customerid_account"), row.get("customerid_contact")
    if account:
        customer = customer_from_json(schema, "account", account)
    elif contact:
        customer = customer_from_json(schema, "contact", contact)
    else:
        raise ValueError(f"invoice {row.get('invoiceid')} has no customer")
    currency = row.get("transactioncurrencyid") or {}
    theme = row.get(schema.lookup("invoice_branding_theme").schema_name) or {}
    lines = sorted(
        (line_from_json(schema, line) for line in row.get("invoice_details") or []),
        key=lambda line: line.sequence,
    )
    invoice_type = choice_label(INVOICE_TYPE_VALUES, row.get(schema.p("invoicetype")), "sales")
    amount_types = choice_label(LINE_AMOUNT_TYPE_VALUES, row.get(schema.p("lineamounttypes")), "Exclusive")
    return Invoice(
        id=UUID(str(row["invoiceid"])),
        name=str(row.get("name") or ""),
        number=str(row.get("invoicenumber") or ""),
        description=row.get("description"),
        date_delivered=to_date(row.get("datedelivered")),
        due_date=to_date(row.get("duedate")),
        currency_code=str(currency.get("isocurrencycode") or ""),
        customer=customer,
        lines=lines,
        state=InvoiceState(int(row.get("statecode") or 0)),
        status_reason=int(row.get("statuscode") or 1),
        total_amount=to_decimal(row.get("totalamount")) or Decimal(0),
        total_tax=to_decimal(row.get("totaltax")) or Decimal(0),
        connection_id=to_uuid(row.get(schema.lookup("invoice_connection").value_name)),
        invoice_type=invoice_type if invoice_type in ("purchase", "credit_note") else "sales",
        line_amount_types=amount_types if amount_types in ("Inclusive", "NoTax") else "Exclusive",
        branding_theme_id=theme.get(schema.p("xeroid")),
        modified_on=to_datetime(row.get("modifiedon")),
        version_number=int(row["versionnumber"]) if row.get("versionnumber") is not None else None,
        credits_invoice_id=to_uuid(row.get(schema.lookup("invoice_credit_note_of").value_name)),
        amount_due=to_decimal(row.get(schema.p("amountdue"))),
    )


def xero_details_columns(schema: ConnectorSchema) -> list[str]:
    return [
        schema.table("xero_details").primary_id,
        schema.lookup("details_invoice").value_name,
        schema.lookup("details_connection").value_name,
        schema.p("dynamicsinvoiceid"),
        *(schema.p(name.lower()) for name, _ in XERO_DETAILS_FIELDS.values()),
    ]


def xero_details_from_json(schema: ConnectorSchema, row: Mapping[str, Any]) -> XeroDetails:
    values: dict[str, Any] = {}
    for field, (name, kind) in XERO_DETAILS_FIELDS.items():
        raw = row.get(schema.p(name.lower()))
        if kind == "choice":
            values[field] = ExportStatus(choice_label(EXPORT_STATUS_VALUES, raw, ExportStatus.NO.value))
        elif kind == "decimal":
            values[field] = to_decimal(raw)
        elif kind == "date":
            values[field] = to_date(raw)
        elif kind == "datetime":
            values[field] = to_datetime(raw)
        else:
            values[field] = raw
    invoice_id = to_uuid(row.get(schema.lookup("details_invoice").value_name)) or to_uuid(
        row.get(schema.p("dynamicsinvoiceid"))
    )
    return XeroDetails(
        id=UUID(str(row[schema.table("xero_details").primary_id])),
        invoice_id=invoice_id,
        connection_id=to_uuid(row.get(schema.lookup("details_connection").value_name)),
        etag=row.get("@odata.etag"),
        **values,
    )


def xero_details_body(schema: ConnectorSchema, changes: Mapping[str, object]) -> dict[str, Any]:
    """XeroDetails field names → column values for a PATCH/POST body."""
    body: dict[str, Any] = {}
    for field, value in changes.items():
        if field in ("id", "etag"):
            continue
        if field == "invoice_id":
            nav = schema.lookup("details_invoice").schema_name
            body[f"{nav}@odata.bind"] = f"/invoices({value})" if value else None
            if value:
                body[schema.p("dynamicsinvoiceid")] = str(value)
            continue
        if field == "connection_id":
            nav = schema.lookup("details_connection").schema_name
            body[f"{nav}@odata.bind"] = (
                f"/{schema.table('connection').entity_set}({value})" if value else None
            )
            continue
        if field not in XERO_DETAILS_FIELDS:
            raise ValueError(f"XeroDetails has no field {field!r}")
        name, kind = XERO_DETAILS_FIELDS[field]
        body[schema.p(name.lower())] = column_value(kind, value, EXPORT_STATUS_VALUES)
    return body


def column_value(kind: str, value: object, choices: Mapping[str, int] | None = None) -> Any:
    """A Python value as the Web API wants it in a body."""
    if value is None:
        return None
    if kind == "choice" and choices is not None:
        return choices[str(value)]
    if kind == "decimal":
        return str(value) if isinstance(value, Decimal) else value
    if kind == "datetime" and isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    return value


def connection_columns(schema: ConnectorSchema) -> list[str]:
    table = schema.table("connection")
    return [
        table.primary_id,
        table.primary_name,
        *(schema.p(name.lower()) for name, _ in CONNECTION_FIELDS.values()),
        *(schema.lookup(key).value_name for key, _ in CONNECTION_LOOKUPS.values()),
        *(schema.lookup(key).value_name for key in CONNECTION_TRACKING_LOOKUPS),
    ]


def connection_from_json(schema: ConnectorSchema, row: Mapping[str, Any]) -> ConnectionSettings:
    table = schema.table("connection")
    values: dict[str, Any] = {}
    for field, (name, _) in CONNECTION_FIELDS.items():
        raw = row.get(schema.p(name.lower()))
        if raw is not None:
            values[field] = raw
    values.setdefault("tenant_id", "")
    for field, (key, _) in CONNECTION_LOOKUPS.items():
        values[field] = to_uuid(row.get(schema.lookup(key).value_name))
    values["default_tracking"] = _tracking_picks(schema, row, CONNECTION_TRACKING_LOOKUPS)
    return ConnectionSettings(
        id=UUID(str(row[table.primary_id])), name=str(row.get(table.primary_name) or ""), **values
    )


def connection_body(schema: ConnectorSchema, settings: Mapping[str, object]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for field, value in settings.items():
        if field == "name":
            body[schema.table("connection").primary_name] = value
        elif field in CONNECTION_LOOKUPS or field == "default_tracking":
            body.update(_connection_lookup_binds(schema, field, value))
        elif field in CONNECTION_FIELDS:
            body[schema.p(CONNECTION_FIELDS[field][0].lower())] = value
        elif field != "id":
            raise ValueError(f"ConnectionSettings has no field {field!r}")
    return body


def _row_ids(value: object) -> list[object]:
    """Row ids from a lookup field's value: a UUID, or picks (models, or dicts after model_dump)."""
    if value is None:
        return []
    if not isinstance(value, tuple | list):
        return [value]
    return [
        pick.option_row_id if isinstance(pick, LineTrackingOption) else dict(pick).get("option_row_id")
        for pick in value
    ]


def _connection_lookup_binds(schema: ConnectorSchema, field: str, value: object) -> dict[str, Any]:
    """`nav@odata.bind` for the connection's lookups to reference rows; None clears (or leaves unset)."""
    if field == "default_tracking":
        keys = [(key, "tracking_option") for key in CONNECTION_TRACKING_LOOKUPS]
    else:
        keys = [CONNECTION_LOOKUPS[field]]
    targets = _row_ids(value)
    binds: dict[str, Any] = {}
    for index, (key, table) in enumerate(keys):
        target = targets[index] if index < len(targets) else None
        entity_set = schema.table(table).entity_set
        binds[f"{schema.lookup(key).schema_name}@odata.bind"] = f"/{entity_set}({target})" if target else None
    return binds


def sync_history_body(schema: ConnectorSchema, entry: SyncHistoryEntry) -> dict[str, Any]:
    table = schema.table("sync_history")
    summary = f"{entry.action.value}: {entry.outcome.value}"
    body: dict[str, Any] = {
        table.primary_name: summary,
        f"{schema.lookup('history_invoice').schema_name}@odata.bind": f"/invoices({entry.invoice_id})",
        schema.p("dynamicsinvoiceid"): str(entry.invoice_id),
        schema.p("action"): SYNC_ACTION_VALUES[entry.action.value],
        schema.p("detail"): entry.detail,
        schema.p("outcome"): SYNC_OUTCOME_VALUES[entry.outcome.value],
        schema.p("occurredon"): column_value("datetime", entry.at),
        schema.p("correlationid"): entry.correlation_id,
    }
    if entry.connection_id is not None:
        nav = schema.lookup("history_connection").schema_name
        body[f"{nav}@odata.bind"] = f"/{schema.table('connection').entity_set}({entry.connection_id})"
    return body

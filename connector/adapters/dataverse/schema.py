"""Every table, column and relationship name of the connector's own Dataverse schema, in one place.

Names are built from the publisher prefix (settings.dataverse_publisher_prefix, default "xc").
Logical names are lower case; navigation properties of custom lookups are their SchemaNames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from connector.domain.dynamics import ConnectionSettings

ColumnKind = Literal["string", "memo", "bool", "int", "decimal", "datetime", "date", "choice"]

# Choice values use the publisher's option value prefix range (100000000+).
EXPORT_STATUS_VALUES = {"No": 100000000, "Yes": 100000001, "Failed": 100000002, "Ready to update": 100000003}
INVOICE_TYPE_VALUES = {"sales": 100000000, "purchase": 100000001, "credit_note": 100000002}
LINE_AMOUNT_TYPE_VALUES = {"Exclusive": 100000000, "Inclusive": 100000001, "NoTax": 100000002}
SYNC_ACTION_VALUES = {
    name: 100000000 + index
    for index, name in enumerate(
        ["Create", "Update", "Payment", "Status", "Cancel", "Delete", "Contact", "Error"]
    )
}
SYNC_OUTCOME_VALUES = {"Success": 100000000, "Warning": 100000001, "Failed": 100000002}


@dataclass(frozen=True)
class Column:
    schema_name: str
    kind: ColumnKind
    label: str
    max_length: int = 200
    choices: dict[str, int] | None = None
    default: bool | None = None  # two-option columns: the value a record made without it gets (C3)

    @property
    def logical_name(self) -> str:
        return self.schema_name.lower()


@dataclass(frozen=True)
class CustomTable:
    schema_name: str
    entity_set: str
    label: str
    plural_label: str
    columns: tuple[Column, ...] = ()

    @property
    def logical_name(self) -> str:
        return self.schema_name.lower()

    @property
    def primary_id(self) -> str:
        return f"{self.logical_name}id"

    @property
    def primary_name(self) -> str:
        return f"{self.logical_name.split('_', 1)[0]}_name"


@dataclass(frozen=True)
class Lookup:
    """A one-to-many relationship: `referencing` gets a lookup column pointing at `referenced`."""

    relationship: str
    referenced: str  # logical name of the parent table
    referencing: str  # logical name of the table that gets the column
    schema_name: str  # lookup column SchemaName = its navigation property name
    label: str
    cascade_delete: Literal["RemoveLink", "Cascade", "Restrict"] = "RemoveLink"

    @property
    def logical_name(self) -> str:
        return self.schema_name.lower()

    @property
    def value_name(self) -> str:
        """How the Web API shows the lookup on read: `_<column>_value`."""
        return f"_{self.logical_name}_value"


@dataclass(frozen=True)
class ConnectorSchema:
    prefix: str
    tables: tuple[CustomTable, ...]
    standard_columns: dict[str, tuple[Column, ...]]  # standard table logical name → new columns
    lookups: tuple[Lookup, ...]
    _by_key: dict[str, Any] = field(default_factory=dict)

    def p(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def table(self, key: str) -> CustomTable:
        """key: connection | xero_details | sync_history | tax_type | account_code | branding_theme |
        tracking_category | tracking_option."""
        return self._by_key[f"table:{key}"]  # type: ignore[no-any-return]

    def lookup(self, key: str) -> Lookup:
        return self._by_key[f"lookup:{key}"]  # type: ignore[no-any-return]


def _col(prefix: str, name: str, kind: ColumnKind, label: str, **extra: Any) -> Column:
    return Column(f"{prefix}_{name}", kind, label, **extra)


# ConnectionSettings field → (column name without prefix, kind). One source for provisioning and mapping.
CONNECTION_FIELDS: dict[str, tuple[str, ColumnKind]] = {
    "tenant_id": ("TenantId", "string"),
    "is_default": ("IsDefault", "bool"),
    "use_xero_invoice_number": ("UseXeroInvoiceNumber", "bool"),
    "use_invoice_name": ("UseInvoiceName", "bool"),
    "create_contacts": ("CreateContacts", "bool"),
    "match_contacts_by_number": ("MatchContactsByNumber", "bool"),
    "allow_contact_update": ("AllowContactUpdate", "bool"),
    "create_products": ("CreateProducts", "bool"),
    "allow_invoice_update": ("AllowInvoiceUpdate", "bool"),
    "default_invoice_status": ("DefaultInvoiceStatus", "string"),
    "default_sales_account_code": ("DefaultSalesAccountCode", "string"),
    "default_purchase_account_code": ("DefaultPurchaseAccountCode", "string"),
    "default_branding_theme_id": ("DefaultBrandingThemeId", "string"),
    "set_date_delivered_on_create": ("SetDateDeliveredOnCreate", "bool"),
    "create_credit_note_on_cancel": ("CreateCreditNoteOnCancel", "bool"),
    "bundle_header_only": ("BundleHeaderOnly", "bool"),
    "send_email": ("SendEmail", "bool"),
    "no_description_as_reference": ("NoDescriptionAsReference", "bool"),
    "time_zone": ("TimeZone", "string"),
    "needs_reconnect": ("NeedsReconnect", "bool"),
    "reconnect_reason": ("ReconnectReason", "string"),
    "balances_refreshed_on": ("BalancesRefreshedOn", "date"),
    "settings_problem": ("SettingsProblem", "string"),
}
# Text columns of the connection longer than the default 200. The sweep's plain message on invalid
# settings names the bad values, so it gets room (services/sweep.py cuts it to the same length).
CONNECTION_MAX_LENGTHS: dict[str, int] = {"settings_problem": 1000}

# XeroDetails field → (column name without prefix, kind). invoice_id and connection_id are lookups.
XERO_DETAILS_FIELDS: dict[str, tuple[str, ColumnKind]] = {
    "export_status": ("ExportStatus", "choice"),
    "xero_invoice_id": ("XeroInvoiceId", "string"),
    "xero_invoice_number": ("XeroInvoiceNumber", "string"),
    "xero_status": ("XeroStatus", "string"),
    "xero_url": ("XeroUrl", "string"),
    "online_invoice_url": ("OnlineInvoiceUrl", "string"),
    "exported_on": ("ExportedOn", "datetime"),
    "amount_paid": ("AmountPaid", "decimal"),
    "amount_due": ("AmountDue", "decimal"),
    "amount_credited": ("AmountCredited", "decimal"),
    "total": ("Total", "decimal"),
    "total_tax": ("TotalTax", "decimal"),
    "due_date": ("DueDate", "date"),
    "credit_note_id": ("CreditNoteId", "string"),
    "credit_note_number": ("CreditNoteNumber", "string"),
    "claimed_until": ("ClaimedUntil", "datetime"),
    "claimed_by": ("ClaimedBy", "string"),
    # "<Idempotency-Key> <draft fingerprint>" of a create that may have reached Xero; see services/claims.py
    "pending_create": ("PendingCreate", "string"),
    "last_xero_write": ("LastXeroWrite", "datetime"),
    "amount_overdue": ("AmountOverdue", "decimal"),
    "days_overdue": ("DaysOverdue", "int"),
    "emailed_on": ("EmailedOn", "datetime"),
    "email_pending": ("EmailPending", "bool"),
}


def _spec_default(field: str) -> bool:
    """C3's default for a yes/no setting, as ConnectionSettings declares it, so a connection made in the
    Dynamics UI gets the same settings as one made by the connector."""
    return bool(ConnectionSettings.model_fields[field].default)


def _connection_extra(field: str, kind: ColumnKind) -> dict[str, Any]:
    if kind == "bool":
        return {"default": _spec_default(field)}
    return {"max_length": CONNECTION_MAX_LENGTHS[field]} if field in CONNECTION_MAX_LENGTHS else {}


def _sync_tables(p: str) -> dict[str, CustomTable]:
    def col(name: str, kind: ColumnKind, label: str, **extra: Any) -> Column:
        return _col(p, name, kind, label, **extra)

    connection = CustomTable(
        f"{p}_XeroConnection",
        f"{p}_xeroconnections",
        "Xero Connection",
        "Xero Connections",
        tuple(
            col(name, kind, name, **_connection_extra(field, kind))
            for field, (name, kind) in CONNECTION_FIELDS.items()
        ),
    )
    details_columns = [col("DynamicsInvoiceId", "string", "Dynamics Invoice Id", max_length=100)]
    for name, kind in XERO_DETAILS_FIELDS.values():
        extra = {"choices": EXPORT_STATUS_VALUES} if name == "ExportStatus" else {}
        details_columns.append(col(name, kind, name, max_length=2000 if "Url" in name else 200, **extra))
    xero_details = CustomTable(
        f"{p}_XeroDetail", f"{p}_xerodetails", "Xero Details", "Xero Details", tuple(details_columns)
    )
    sync_history = CustomTable(
        f"{p}_SyncHistory",
        f"{p}_synchistories",
        "Sync History",
        "Sync History",
        (
            col("DynamicsInvoiceId", "string", "Dynamics Invoice Id", max_length=100),
            col("Action", "choice", "Action", choices=SYNC_ACTION_VALUES),
            col("Detail", "memo", "Detail", max_length=10000),
            col("Outcome", "choice", "Outcome", choices=SYNC_OUTCOME_VALUES),
            col("OccurredOn", "datetime", "Occurred On"),
            col("CorrelationId", "string", "Correlation Id", max_length=100),
        ),
    )
    return {"connection": connection, "xero_details": xero_details, "sync_history": sync_history}


def _reference_tables(p: str) -> dict[str, CustomTable]:
    def col(name: str, kind: ColumnKind, label: str, **extra: Any) -> Column:
        return _col(p, name, kind, label, **extra)

    tax_type = CustomTable(
        f"{p}_XeroTaxType",
        f"{p}_xerotaxtypes",
        "Xero Tax Type",
        "Xero Tax Types",
        (
            col("TaxType", "string", "Tax Type"),
            col("Rate", "decimal", "Rate"),
            col("Status", "string", "Status"),
        ),
    )
    account_code = CustomTable(
        f"{p}_XeroAccount",
        f"{p}_xeroaccounts",
        "Xero Account",
        "Xero Chart of Accounts",
        (
            col("Code", "string", "Code"),
            col("AccountType", "string", "Type"),
            col("TaxType", "string", "Tax Type"),
            col("XeroId", "string", "Xero Id"),
            col("Status", "string", "Status"),
        ),
    )
    branding_theme = CustomTable(
        f"{p}_XeroBrandingTheme",
        f"{p}_xerobrandingthemes",
        "Xero Branding Theme",
        "Xero Branding Themes",
        (col("XeroId", "string", "Xero Id"), col("SortOrder", "int", "Sort Order")),
    )
    return {
        "tax_type": tax_type,
        "account_code": account_code,
        "branding_theme": branding_theme,
        **_tracking_tables(p),
    }


def _tracking_tables(p: str) -> dict[str, CustomTable]:
    def col(name: str, kind: ColumnKind, label: str, **extra: Any) -> Column:
        return _col(p, name, kind, label, **extra)

    tracking_category = CustomTable(
        f"{p}_XeroTrackingCategory",
        f"{p}_xerotrackingcategories",
        "Xero Tracking Category",
        "Xero Tracking Categories",
        (col("XeroId", "string", "Xero Id"), col("Status", "string", "Status")),
    )
    tracking_option = CustomTable(
        f"{p}_XeroTrackingOption",
        f"{p}_xerotrackingoptions",
        "Xero Tracking Option",
        "Xero Tracking Options",
        (
            col("XeroId", "string", "Xero Id"),
            col("OptionName", "string", "Option"),
            col("CategoryName", "string", "Category"),
            col("Status", "string", "Status"),
        ),
    )
    return {"tracking_category": tracking_category, "tracking_option": tracking_option}


def _standard_columns(p: str) -> dict[str, tuple[Column, ...]]:
    def col(name: str, kind: ColumnKind, label: str, **extra: Any) -> Column:
        return _col(p, name, kind, label, **extra)

    customer_columns = (
        col("XeroContactId", "string", "Xero Contact Id", max_length=100),
        col("AmountOwed", "decimal", "Amount Owed (Xero)"),
        col("AmountOverdue", "decimal", "Amount Overdue (Xero)"),
        col("AmountWeOwe", "decimal", "Amount We Owe (Xero)"),
        col("AmountWeOweOverdue", "decimal", "Amount We Owe Overdue (Xero)"),
    )
    standard = {
        "invoice": (
            col("InvoiceType", "choice", "Invoice Type", choices=INVOICE_TYPE_VALUES),
            col("LineAmountTypes", "choice", "Line Amount Types", choices=LINE_AMOUNT_TYPE_VALUES),
            col("AmountDue", "decimal", "Amount Due (Xero)"),
        ),
        "account": customer_columns,
        "contact": customer_columns,
    }
    return standard


def _lookups(p: str, tables: dict[str, CustomTable]) -> dict[str, Lookup]:
    c, d, h = (tables[key].logical_name for key in ("connection", "xero_details", "sync_history"))
    t, a, b = (tables[key].logical_name for key in ("tax_type", "account_code", "branding_theme"))
    return {
        "details_invoice": Lookup(f"{p}_invoice_{d}", "invoice", d, f"{p}_InvoiceId", "Invoice"),
        "details_connection": Lookup(f"{c}_{d}", c, d, f"{p}_ConnectionId", "Connection"),
        "history_invoice": Lookup(f"{p}_invoice_{h}", "invoice", h, f"{p}_InvoiceId", "Invoice"),
        "history_connection": Lookup(f"{c}_{h}", c, h, f"{p}_ConnectionId", "Connection"),
        "invoice_connection": Lookup(f"{c}_invoice", c, "invoice", f"{p}_ConnectionId", "Xero Connection"),
        "invoice_branding_theme": Lookup(
            f"{b}_invoice", b, "invoice", f"{p}_BrandingThemeId", "Branding Theme"
        ),
        "line_account_code": Lookup(
            f"{a}_invoicedetail", a, "invoicedetail", f"{p}_AccountCodeId", "Account Code"
        ),
        "line_tax_type": Lookup(f"{t}_invoicedetail", t, "invoicedetail", f"{p}_TaxTypeId", "Tax Type"),
        "tax_type_connection": Lookup(f"{c}_{t}", c, t, f"{p}_ConnectionId", "Connection"),
        "account_code_connection": Lookup(f"{c}_{a}", c, a, f"{p}_ConnectionId", "Connection"),
        "branding_theme_connection": Lookup(f"{c}_{b}", c, b, f"{p}_ConnectionId", "Connection"),
        **_reference_lookups(p, tables),
    }


def _reference_lookups(p: str, tables: dict[str, CustomTable]) -> dict[str, Lookup]:
    """Tracking (I15), the connection's defaults as lookups (C5), and the invoice a credit note credits."""
    c, a, b = (tables[key].logical_name for key in ("connection", "account_code", "branding_theme"))
    tc, to = (tables[key].logical_name for key in ("tracking_category", "tracking_option"))

    def to_option(referencing: str, suffix: str, column: str, label: str) -> Lookup:
        return Lookup(f"{to}_{referencing}_{suffix}", to, referencing, f"{p}_{column}", label)

    return {
        "tracking_category_connection": Lookup(f"{c}_{tc}", c, tc, f"{p}_ConnectionId", "Connection"),
        "tracking_option_connection": Lookup(f"{c}_{to}", c, to, f"{p}_ConnectionId", "Connection"),
        "tracking_option_category": Lookup(f"{tc}_{to}", tc, to, f"{p}_TrackingCategoryId", "Category"),
        "line_tracking_option_1": to_option("invoicedetail", "1", "TrackingOption1Id", "Tracking Option 1"),
        "line_tracking_option_2": to_option("invoicedetail", "2", "TrackingOption2Id", "Tracking Option 2"),
        "connection_default_tracking_1": to_option(c, "default1", "DefaultTracking1Id", "Default Tracking 1"),
        "connection_default_tracking_2": to_option(c, "default2", "DefaultTracking2Id", "Default Tracking 2"),
        "connection_default_sales_account": Lookup(
            f"{a}_{c}_sales", a, c, f"{p}_DefaultSalesAccountId", "Default Sales Account"
        ),
        "connection_default_purchase_account": Lookup(
            f"{a}_{c}_purchase", a, c, f"{p}_DefaultPurchaseAccountId", "Default Purchase Account"
        ),
        "connection_default_branding_theme": Lookup(
            f"{b}_{c}_default", b, c, f"{p}_DefaultThemeId", "Default Branding Theme"
        ),
        "invoice_credit_note_of": Lookup(
            f"{p}_invoice_invoice_creditnoteof", "invoice", "invoice", f"{p}_CreditNoteOfId", "Credit Note Of"
        ),
    }


def build_schema(prefix: str = "xc") -> ConnectorSchema:
    """The whole connector schema for one publisher prefix."""
    p = prefix.lower()
    tables = {**_sync_tables(p), **_reference_tables(p)}
    lookups = _lookups(p, tables)
    standard = _standard_columns(p)
    by_key: dict[str, Any] = {f"table:{key}": table for key, table in tables.items()}
    by_key.update({f"lookup:{key}": lookup for key, lookup in lookups.items()})
    return ConnectorSchema(p, tuple(tables.values()), standard, tuple(lookups.values()), by_key)

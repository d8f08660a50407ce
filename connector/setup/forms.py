"""C5: the "Xero Connector" forms (systemforms, FormXml) on invoices, invoice lines, accounts, contacts,
Xero details, sync history and connections, and the connection settings' descriptions."""

from __future__ import annotations

from connector.adapters.dataverse.schema import (
    CONNECTION_FIELDS,
    XERO_DETAILS_FIELDS,
    ConnectorSchema,
    Lookup,
)
from connector.setup.components import (
    FORM_NAME,
    MAIN_FORM,
    Component,
    Field,
    FormSpec,
    Grid,
    Section,
    Tab,
    form_xml,
    stable_id,
)
from connector.setup.views import view_id

# (group, ((ConnectionSettings field, label, description), …)): SPEC C3's groups, the seed's settings page.
CONNECTION_GROUPS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Connection",
        (
            ("tenant_id", "Xero organisation id", "The Xero organisation this connection sends invoices to."),
            (
                "is_default",
                "Default connection",
                "New invoices get this connection. Only one is the default.",
            ),
            ("time_zone", "Time zone", "Date Delivered is compared with today in this time zone."),
            ("needs_reconnect", "Needs reconnect", "Set when Xero stops accepting the connection."),
            ("reconnect_reason", "Why reconnect", "Xero's reason, in plain words. Reconnect to clear it."),
            (
                "settings_problem",
                "Settings problem",
                "Which setting stops this connection from syncing, in plain words. Cleared once fixed.",
            ),
            (
                "balances_refreshed_on",
                "Balances refreshed on",
                "When customers' Xero balances were last read.",
            ),
        ),
    ),
    (
        "Invoice numbering and contacts",
        (
            (
                "use_xero_invoice_number",
                "Use Xero invoice number",
                "Yes: Xero numbers the invoice. No: the invoice name or ID is the number (Use invoice name).",
            ),
            (
                "use_invoice_name",
                "Use invoice name",
                "Only when the Xero number is not used. Yes: the invoice name; No: the Dynamics invoice ID.",
            ),
            (
                "create_contacts",
                "Create new contacts in Xero",
                "Yes: a customer Xero does not know is created there. No: the invoice fails and sync "
                "history says why, so invoices only go to known contacts.",
            ),
            (
                "match_contacts_by_number",
                "Match contacts by number",
                "Yes: find the Xero contact by account or contact number. No: by name.",
            ),
            (
                "allow_contact_update",
                "Update contacts in Xero",
                "Only when new contacts are created. Yes: each sync updates the Xero contact from Dynamics.",
            ),
        ),
    ),
    (
        "Products and invoice updates",
        (
            (
                "create_products",
                "Create new products in Xero",
                "Yes: products Xero does not know are created as items the first time they are sent.",
            ),
            (
                "allow_invoice_update",
                "Update invoices in Xero",
                "Yes: invoices whose export status is Ready to update are updated in Xero.",
            ),
        ),
    ),
    (
        "Defaults applied to invoices",
        (
            ("default_invoice_status", "Default Xero invoice status", "DRAFT, SUBMITTED or AUTHORISED."),
            (
                "default_sales_account_code",
                "Default sales account code",
                "For sales lines with no account code.",
            ),
            (
                "default_purchase_account_code",
                "Default purchase account code",
                "For bill lines with no account code.",
            ),
            (
                "default_branding_theme_id",
                "Default branding theme id",
                "For invoices with no branding theme.",
            ),
        ),
    ),
    (
        "Behaviour switches",
        (
            (
                "set_date_delivered_on_create",
                "Set Date Delivered automatically",
                "Yes: a new invoice gets today as its Date Delivered.",
            ),
            (
                "create_credit_note_on_cancel",
                "Create credit note on cancel",
                "Yes: cancelling deletes a draft in Xero, or credits an approved invoice.",
            ),
            (
                "bundle_header_only",
                "Bundled product header only",
                "Yes: only the bundle line is sent. No: its products follow as description-only lines.",
            ),
            (
                "send_email",
                "Send email from Xero",
                "Yes: Xero emails the invoice to the contact once synced.",
            ),
            (
                "no_description_as_reference",
                "Do not use description as reference",
                "Yes: the invoice description is not sent as the Xero reference.",
            ),
        ),
    ),
)
READ_ONLY_SETTINGS = frozenset(
    {"tenant_id", "needs_reconnect", "reconnect_reason", "settings_problem", "balances_refreshed_on"}
)


def _column(schema: ConnectorSchema, table: str, name: str) -> Field:
    """A custom column by its logical name, with its kind and label from the schema."""
    columns = [t.columns for t in schema.tables if t.logical_name == table] or [
        schema.standard_columns[table]
    ]
    column = next(c for c in columns[0] if c.logical_name == name)
    return Field(column.logical_name, column.label, column.kind)


def _lookup(lookup: Lookup, read_only: bool = False) -> Field:
    return Field(lookup.logical_name, lookup.label, "lookup", read_only)


def _lookups_on(schema: ConnectorSchema, table: str, skip: tuple[str, ...] = ()) -> tuple[Field, ...]:
    return tuple(
        _lookup(lk) for lk in schema.lookups if lk.referencing == table and lk.logical_name not in skip
    )


def _ro(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    return tuple(Field(f.column, f.label, f.kind, True) for f in fields)


def _user_set(schema: ConnectorSchema) -> set[str]:
    """The invoice's own Xero columns a user sets; the others (amount due…) the connector writes."""
    return {schema.p("invoicetype"), schema.p("lineamounttypes")}


def invoice_form(schema: ConnectorSchema) -> FormSpec:
    connection, theme = schema.lookup("invoice_connection"), schema.lookup("invoice_branding_theme")
    own = [Field(c.logical_name, c.label, c.kind) for c in schema.standard_columns["invoice"]]
    xero = (
        _lookup(connection),
        *(field for field in own if field.column in _user_set(schema)),
        _lookup(theme),
        *_ro(tuple(field for field in own if field.column not in _user_set(schema))),
        *_ro(_lookups_on(schema, "invoice", (connection.logical_name, theme.logical_name))),
    )
    summary = (
        Field("name", "Name", "string"),
        Field("invoicenumber", "Invoice ID", "string"),
        Field("customerid", "Customer", "lookup"),
        Field("transactioncurrencyid", "Currency", "lookup"),
        Field("pricelevelid", "Price List", "lookup"),
        Field("datedelivered", "Date Delivered", "date"),
        Field("duedate", "Due Date", "date"),
        Field("totalamount", "Total Amount", "money", True),
        Field("description", "Description", "memo"),
    )
    details, history = schema.table("xero_details"), schema.table("sync_history")
    details_grid = Grid(
        "xerodetails",
        "Xero details",
        details.logical_name,
        schema.lookup("details_invoice").relationship,
        view_id(schema, "invoice_xero_details"),
        3,
    )
    history_grid = Grid(
        "synchistory",
        "Sync history",
        history.logical_name,
        schema.lookup("history_invoice").relationship,
        view_id(schema, "invoice_sync_history"),
        10,
    )
    lines = Grid("invoicelines", "Products", "invoicedetail", "invoice_details", None, 10)
    return FormSpec(
        "invoice",
        "invoice",
        "The invoice with its Xero tab: connection, invoice type, Xero details and sync history.",
        (
            Tab(
                "summary",
                "Summary",
                (Section("summary", "Invoice", summary), Section("lines", "Products", (lines,))),
            ),
            Tab(
                "xero",
                "Xero",
                (
                    Section("xero", "Xero", xero),
                    Section("xerodetails", "Xero details", (details_grid,)),
                    Section("synchistory", "Sync history", (history_grid,)),
                ),
            ),
        ),
    )


def line_form(schema: ConnectorSchema) -> FormSpec:
    product = (
        Field("productid", "Existing Product", "lookup"),
        Field("productdescription", "Write-In Product", "string"),
        Field("quantity", "Quantity", "decimal"),
        Field("priceperunit", "Price Per Unit", "money"),
        Field("manualdiscountamount", "Manual Discount", "money"),
        Field("tax", "Tax", "money"),
        Field("extendedamount", "Extended Amount", "money", True),
    )
    overrides = _lookups_on(schema, "invoicedetail")  # account code, tax type, tracking options
    return FormSpec(
        "invoicedetail",
        "invoicedetail",
        "An invoice line with the Xero overrides: account code, tax type and tracking.",
        (
            Tab(
                "general",
                "General",
                (Section("product", "Product", product), Section("xero", "Xero overrides", overrides)),
            ),
        ),
    )


def customer_form(schema: ConnectorSchema, table: str) -> FormSpec:
    own: tuple[Field, ...]
    if table == "account":
        own = (Field("name", "Account Name", "string"), Field("accountnumber", "Account Number", "string"))
    else:
        own = (
            Field("firstname", "First Name", "string"),
            Field("lastname", "Last Name", "string"),
            Field("parentcustomerid", "Company Name", "lookup"),
        )
    contact = (Field("emailaddress1", "Email", "string"), Field("telephone1", "Phone", "string"))
    xero = _ro(tuple(Field(c.logical_name, c.label, c.kind) for c in schema.standard_columns[table]))
    return FormSpec(
        table,
        table,
        f"The {table} with its Xero section: Xero contact id, amount owed and amount overdue.",
        (
            Tab(
                "summary",
                "Summary",
                (Section("details", "Details", (*own, *contact)), Section("xero", "Xero", xero)),
            ),
        ),
    )


def details_form(schema: ConnectorSchema) -> FormSpec:
    table = schema.table("xero_details").logical_name
    p = schema.p
    # Everything the connector writes back, read-only; not its own bookkeeping (claims, pending creates).
    bookkeeping = {
        "exportstatus",
        "xeroinvoiceid",
        "claimeduntil",
        "claimedby",
        "pendingcreate",
        "lastxerowrite",
    }
    shown = [name.lower() for name, _ in XERO_DETAILS_FIELDS.values() if name.lower() not in bookkeeping]
    written_by_connector = tuple(_column(schema, table, p(name)) for name in shown)
    links = (
        _lookup(schema.lookup("details_invoice"), True),
        _lookup(schema.lookup("details_connection"), True),
    )
    export = _column(schema, table, p("exportstatus"))  # editable: "No" retries, "Ready to update" updates
    return FormSpec(
        "xero_details",
        table,
        "An invoice's Xero details. Set Export status back to No to retry, or to Ready to update.",
        (
            Tab(
                "general",
                "General",
                (Section("general", "Xero details", (*links, export, *_ro(written_by_connector))),),
            ),
        ),
    )


def history_form(schema: ConnectorSchema) -> FormSpec:
    table = schema.table("sync_history").logical_name
    p = schema.p
    columns = tuple(
        _column(schema, table, p(n)) for n in ("occurredon", "action", "outcome", "detail", "correlationid")
    )
    links = (_lookup(schema.lookup("history_invoice")), _lookup(schema.lookup("history_connection")))
    return FormSpec(
        "sync_history",
        table,
        "One sync attempt: what the connector did and what Xero answered.",
        (Tab("general", "General", (Section("general", "Sync history", _ro((*links, *columns))),)),),
    )


def connection_form(schema: ConnectorSchema) -> FormSpec:
    table = schema.table("connection")
    sections = []
    for index, (group, settings) in enumerate(CONNECTION_GROUPS):
        fields = [Field(table.primary_name, "Name", "string")] if index == 0 else []
        for setting, label, _ in settings:
            if setting not in CONNECTION_FIELDS:
                continue  # a setting the schema no longer has
            name, kind = CONNECTION_FIELDS[setting]
            fields.append(Field(schema.p(name.lower()), label, kind, setting in READ_ONLY_SETTINGS))
        if group == "Defaults applied to invoices":
            fields += _lookups_on(schema, table.logical_name)  # the defaults as lookups, when present
        sections.append(Section(group.lower().replace(" ", ""), group, tuple(fields)))
    grouped = {setting for _, settings in CONNECTION_GROUPS for setting, _, _ in settings}
    others = [
        _column(schema, table.logical_name, schema.p(name.lower()))
        for setting, (name, _) in CONNECTION_FIELDS.items()
        if setting not in grouped
    ]
    if others:  # a setting added since: shown rather than hidden, until it is given a group
        sections.append(Section("other", "Other settings", tuple(others)))
    return FormSpec(
        "connection",
        table.logical_name,
        "A Xero connection's settings, grouped as on the settings page; each setting's description is "
        "its tooltip.",
        (Tab("settings", "Settings", tuple(sections)),),
    )


def form_specs(schema: ConnectorSchema) -> list[FormSpec]:
    return [
        invoice_form(schema),
        line_form(schema),
        customer_form(schema, "account"),
        customer_form(schema, "contact"),
        details_form(schema),
        history_form(schema),
        connection_form(schema),
    ]


def build_forms(schema: ConnectorSchema) -> list[Component]:
    return [
        Component(
            f"form {spec.table}: {FORM_NAME}",
            "systemforms",
            "formid",
            stable_id(schema.prefix, "form", spec.key),
            FORM_NAME,
            spec.description,
            spec.table,
            {"formxml": form_xml(spec)},
            {"objecttypecode": spec.table, "type": MAIN_FORM, "formactivationstate": 1},
        )
        for spec in form_specs(schema)
    ]

"""I16: with reference data synced (C4), an invoice whose lines name an account code, tax type or tracking
option Xero no longer has fails before any Xero call, in words that name the line and the value.

Also where lookups become values: the connection's default accounts, branding theme and tracking
options, and each line's tracking options, from the synced rows they point at. Without reference data
(a table never synced) nothing is checked and the invoice goes as before.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict

from connector.domain.dynamics import ConnectionSettings, Invoice, InvoiceLine, LineTrackingOption
from connector.domain.reference_data import GONE, KnownValue, ReferenceData
from connector.domain.sync.line_kinds import LineKind, carries_tracking, ordered_lines

CHART = "Xero's chart of accounts"


class Checked(BaseModel):
    """The invoice and connection with their lookups resolved, and what stops the invoice (if anything)."""

    model_config = ConfigDict(frozen=True)

    invoice: Invoice
    connection: ConnectionSettings
    problems: tuple[str, ...] = ()


def _state(known: KnownValue | None, what: str) -> str | None:
    """Why a known value cannot be used; None when it can."""
    if known is None:
        return f"is not in {what}"
    if known.active:
        return None
    if (known.status or "").upper() == GONE:
        return f"is no longer in {what}"
    return f"is archived in {what}"


def resolve_connection(
    connection: ConnectionSettings, data: ReferenceData
) -> tuple[ConnectionSettings, list[str]]:
    """The connection's lookups (default accounts, branding theme, tracking options) as values."""
    problems: list[str] = []
    updates: dict[str, object] = {}
    for field, row_field in (
        ("default_sales_account_code", "default_sales_account_id"),
        ("default_purchase_account_code", "default_purchase_account_id"),
    ):
        row_id: UUID | None = getattr(connection, row_field)
        known = data.rows.get(row_id) if row_id is not None else None
        if known is not None:
            updates[field] = known.value
    theme_row = connection.default_branding_theme_row_id
    theme = data.rows.get(theme_row) if theme_row is not None else None
    if theme is not None:
        updates["default_branding_theme_id"] = theme.value
    tracking, tracking_problems = _resolve_tracking(
        connection.default_tracking, data, "The connection's default"
    )
    problems += tracking_problems
    updates["default_tracking"] = tracking
    return connection.model_copy(update=updates), problems


def _resolve_tracking(
    picked: tuple[LineTrackingOption, ...], data: ReferenceData, where: str
) -> tuple[tuple[LineTrackingOption, ...], list[str]]:
    """Names for the picked options; an option that is gone or archived is a problem, and so are two
    options of one category (Xero takes one per category)."""
    resolved: list[LineTrackingOption] = []
    problems: list[str] = []
    categories: set[str] = set()
    for pick in picked:
        known = data.rows.get(pick.option_row_id)
        if known is None or known.category is None:
            if data.has_tracking:
                problems.append(f"{where}: the tracking option picked is no longer in Xero")
            continue
        label = f"{known.category}: {known.option}"
        why = _state(known, "Xero")
        if why is not None:
            problems.append(f"{where}: tracking option {label} {why}")
            continue
        category = known.category.casefold()
        if category in categories:
            problems.append(f"{where}: two tracking options of category {known.category}; keep one")
            continue
        categories.add(category)
        resolved.append(pick.model_copy(update={"category": known.category, "option": known.option}))
    return tuple(resolved), problems


def _line_problems(
    number: int,
    line: InvoiceLine,
    kind: LineKind,
    connection: ConnectionSettings,
    data: ReferenceData,
    purchase: bool,
) -> list[str]:
    where = f"Line {number}"
    problems: list[str] = []
    account = line.account_code_override
    if account is None and kind == LineKind.WRITE_IN:
        # A product's Xero item may bring its own account; a write-in takes the connection's default.
        account = (
            connection.default_purchase_account_code if purchase else connection.default_sales_account_code
        )
    if account and data.accounts:
        why = _state(data.accounts.get(account.strip().upper()), CHART)
        if why is not None:
            problems.append(f"{where}: account code {account} {why}")
    tax = line.tax_type_override
    if tax and data.tax_types:
        why = _state(data.tax_types.get(tax.strip().upper()), "Xero's tax rates")
        if why is not None:
            problems.append(f"{where}: tax type {tax} {why}")
    return problems


def check_invoice(
    invoice: Invoice, connection: ConnectionSettings, data: ReferenceData, *, purchase: bool | None = None
) -> Checked:
    """Resolve and check. `purchase` says which default accounts apply (a credit note of a bill uses the
    purchase ones); by default, the invoice's own type."""
    if purchase is None:
        purchase = invoice.invoice_type == "purchase"
    connection, problems = resolve_connection(connection, data)
    theme_id = invoice.branding_theme_id or connection.default_branding_theme_id
    if theme_id and data.branding_themes:
        theme = data.branding_themes.get(theme_id.lower())
        why = _state(theme, "Xero")
        if why is not None:
            problems.append(f"The branding theme {theme.name if theme else theme_id} {why}")
    lines: dict[UUID, InvoiceLine] = {}
    for number, (line, kind) in enumerate(ordered_lines(invoice.lines), start=1):
        if not carries_tracking(kind):
            continue  # description-only: no account, tax type or tracking goes to Xero
        problems += _line_problems(number, line, kind, connection, data, purchase)
        tracking, tracking_problems = _resolve_tracking(line.tracking, data, f"Line {number}")
        problems += tracking_problems
        if tracking != line.tracking:
            lines[line.id] = line.model_copy(update={"tracking": tracking})
    resolved = invoice.model_copy(update={"lines": [lines.get(line.id, line) for line in invoice.lines]})
    return Checked(invoice=resolved, connection=connection, problems=tuple(problems))

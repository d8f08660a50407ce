"""What a valid connection looks like (C1, C3), and the records the admin console shows about one.

Pure rules: the console's settings form, the sweep's "is this connection usable" check and the CLI
all ask the same questions here.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import get_args
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from connector.domain.dynamics import ConnectionSettings

INVOICE_STATUSES: tuple[str, ...] = get_args(
    ConnectionSettings.model_fields["default_invoice_status"].annotation
)

# The yes/no settings of C3, in the order the seed product's form shows them, with their labels.
SWITCHES: dict[str, str] = {
    "use_xero_invoice_number": "Use Xero invoice number",
    "use_invoice_name": "Use invoice name (when the Xero number is not used)",
    "create_contacts": "Create new contacts in Xero",
    "match_contacts_by_number": "Match contacts by account/contact number instead of name",
    "allow_contact_update": "Allow contact update in Xero",
    "create_products": "Create new products in Xero",
    "allow_invoice_update": "Allow invoice update in Xero",
    "set_date_delivered_on_create": "Set Date Delivered automatically on invoice create",
    "create_credit_note_on_cancel": "Create credit note automatically on cancel",
    "bundle_header_only": "Bundled product header only",
    "send_email": "Send email from Xero",
    "no_description_as_reference": "Do not use invoice description as Xero reference",
}
TEXT_SETTINGS = (
    "default_invoice_status",
    "default_sales_account_code",
    "default_purchase_account_code",
    "default_branding_theme_id",
    "time_zone",
)


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) for an authorization request, RFC 7636 §4.1–4.2."""
    verifier = secrets.token_urlsafe(48)  # 64 characters of [A-Za-z0-9_-]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """The IANA names this machine knows (tzdata), sorted."""
    return tuple(sorted(available_timezones()))


def is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a directory of zones
        return False
    return bool(name)


@dataclass(frozen=True)
class ReferenceChoices:
    """What Xero knows for one organisation, once reference data has been pulled (C4). Empty: not pulled,
    so codes cannot be checked yet."""

    account_codes: frozenset[str] = frozenset()
    branding_themes: Mapping[str, str] = field(default_factory=dict)  # Xero id → name


def settings_problems(connection: ConnectionSettings, choices: ReferenceChoices | None = None) -> list[str]:
    """Plain-words reasons this connection cannot sync as it is set up; empty when it can."""
    problems = []
    if not connection.tenant_id:
        problems.append("No Xero organisation is set: connect it to Xero again.")
    if not is_time_zone(connection.time_zone):
        problems.append(
            f'Time zone "{connection.time_zone}" is not an IANA time zone, e.g. Pacific/Auckland.'
        )
    if connection.default_invoice_status not in INVOICE_STATUSES:
        problems.append(f"Default Xero invoice status must be one of {', '.join(INVOICE_STATUSES)}.")
    choices = choices or ReferenceChoices()
    for name, label in (
        ("default_sales_account_code", "Default sales account code"),
        ("default_purchase_account_code", "Default purchase account code"),
    ):
        code = getattr(connection, name)
        if code and choices.account_codes and code not in choices.account_codes:
            problems.append(f'{label} "{code}" is not in the organisation\'s chart of accounts.')
    theme = connection.default_branding_theme_id
    if theme and choices.branding_themes and theme not in choices.branding_themes:
        problems.append("The default branding theme is not one of the organisation's branding themes.")
    return problems


@dataclass(frozen=True)
class SettingsForm:
    """The console's settings form, read: the changes to write, or what is wrong, per field."""

    changes: dict[str, object]
    errors: dict[str, str]


def read_settings_form(
    form: Mapping[str, str], current: ConnectionSettings, choices: ReferenceChoices | None = None
) -> SettingsForm:
    """Validate a posted settings form. Checkboxes absent from the form mean No."""
    choices = choices or ReferenceChoices()
    errors: dict[str, str] = {}
    values: dict[str, object] = {name: form.get(name) in ("on", "true", "yes", "1") for name in SWITCHES}
    name = (form.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = "Give the connection a name of up to 100 characters."
    values["name"] = name
    status = (form.get("default_invoice_status") or "").strip()
    if status not in INVOICE_STATUSES:
        errors["default_invoice_status"] = f"Choose one of {', '.join(INVOICE_STATUSES)}."
    values["default_invoice_status"] = status
    zone = (form.get("time_zone") or "").strip()
    if not is_time_zone(zone):
        errors["time_zone"] = "Choose an IANA time zone, e.g. Pacific/Auckland."
    values["time_zone"] = zone
    for key in ("default_sales_account_code", "default_purchase_account_code"):
        code = (form.get(key) or "").strip() or None
        if code and (len(code) > 10 or (choices.account_codes and code not in choices.account_codes)):
            errors[key] = "Choose an account code from the organisation's chart of accounts."
        values[key] = code
    theme = (form.get("default_branding_theme_id") or "").strip() or None
    if theme and choices.branding_themes and theme not in choices.branding_themes:
        errors["default_branding_theme_id"] = "Choose one of the organisation's branding themes."
    values["default_branding_theme_id"] = theme
    if values["allow_contact_update"] and not values["create_contacts"]:
        errors["allow_contact_update"] = "Contact update works only when creating contacts is allowed."
    current_values = current.model_dump()
    changes = {k: v for k, v in values.items() if current_values.get(k) != v}
    return SettingsForm(changes={} if errors else changes, errors=errors)


def only_default(marked: Mapping[str, bool], chosen: UUID) -> dict[str, bool]:
    """C1: the is-default writes (by connection id) that leave exactly `chosen` as the default, given
    which connections are marked now. Empty when it already is the only one."""
    writes = {row_id: False for row_id, is_default in marked.items() if is_default and row_id != str(chosen)}
    if not marked.get(str(chosen)):
        writes = {str(chosen): True, **writes}
    return writes


# --- What the console shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminIdentity:
    """Who signed in to the console, from the id token."""

    subject: str
    name: str
    username: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class XeroOrganisation:
    """A tenant an authorisation covers, as GET /connections lists it."""

    tenant_id: str
    name: str
    connection_id: str = ""  # Xero's id of the app's connection to it (for DELETE /connections/{id})


@dataclass(frozen=True)
class TokenState:
    grant: str  # "authorization_code" or "client_credentials"
    expires_at: datetime
    refreshed_at: datetime | None  # when the stored token set was last written
    has_refresh_token: bool


@dataclass(frozen=True)
class Headroom:
    """A tenant's Xero budget as the shared limiter sees it (it folds in Xero's X-*-Remaining)."""

    minute_left: int
    minute_limit: int
    day_left: int
    day_limit: int
    concurrent_free: int
    concurrent_limit: int
    blocked_until: datetime | None = None


@dataclass(frozen=True)
class HistoryLine:
    invoice_id: UUID | None
    invoice_name: str
    action: str
    outcome: str
    detail: str
    at: datetime | None


@dataclass(frozen=True)
class FailedInvoice:
    details_id: UUID
    invoice_id: UUID | None
    invoice_name: str
    reason: str  # the last sync-history line: Xero's words


@dataclass(frozen=True)
class PoisonMessage:
    id: str
    queue: str
    reason: str
    inserted_on: str


@dataclass(frozen=True)
class ConnectionHealth:
    connection: ConnectionSettings
    token: TokenState | None
    headroom: Headroom | None
    watermark: datetime | None
    last_success: datetime | None
    synced_24h: int
    failed_24h: int
    failed: list[FailedInvoice]
    problems: list[str]
    recent: list[HistoryLine]

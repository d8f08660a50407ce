"""Rows every org has (sdkmessages, message filters, the application user) and optional sample data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from devstack.dataverse.security import SYSTEM_ADMINISTRATOR_ROLE_ID, grant_role
from devstack.dataverse.store import EmulatorState, Ref

MESSAGES = (
    "Create",
    "Update",
    "Delete",
    "SetState",
    "SetStateDynamicEntity",
    "Assign",
    "Retrieve",
    "RetrieveMultiple",
)
STEP_MESSAGES = ("Create", "Update", "Delete", "SetState", "SetStateDynamicEntity", "Assign")
FILTERED_TABLES = ("invoice", "invoicedetail", "account", "contact", "product")
SALES_USER_ID = "5a1e5000-0000-4000-8000-000000000002"
_NAMESPACE = uuid.UUID("6f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _put(state: EmulatorState, table: str, row_id: str, values: dict[str, Any]) -> None:
    """Insert platform/seed data directly: no events, no business rules."""
    definition = state.tables[table]
    now = datetime.now(UTC)
    row: dict[str, Any] = dict.fromkeys(definition.attributes)
    row.update(
        {
            definition.primary_id: row_id,
            "createdon": now,
            "modifiedon": now,
            "versionnumber": state.next_version(),
        }
    )
    if "statecode" in definition.attributes:
        row.update({"statecode": 0, "statuscode": 1})
    row.update(values)
    state.rows[table][row_id] = row


def add_message_filters(state: EmulatorState, table: str) -> None:
    """sdkmessagefilter rows so steps can be registered on `table` (the platform makes these)."""
    for message in STEP_MESSAGES:
        message_id = stable_id("sdkmessage", message)
        filter_id = stable_id("sdkmessagefilter", message, table)
        _put(
            state,
            "sdkmessagefilter",
            filter_id,
            {
                "name": f"{message} of {table}",
                "primaryobjecttypecode": table,
                "secondaryobjecttypecode": "none",
                "iscustomprocessingstepallowed": True,
                "sdkmessageid": Ref("sdkmessage", message_id),
            },
        )


def install_platform_rows(state: EmulatorState, app_user_id: str) -> None:
    for message in MESSAGES:
        _put(state, "sdkmessage", stable_id("sdkmessage", message), {"name": message, "categoryname": "Core"})
    for table in FILTERED_TABLES:
        add_message_filters(state, table)
    _put(
        state,
        "systemuser",
        app_user_id,
        {
            "fullname": "# Xero Connector (application user)",
            "domainname": "connector@emulator",
            "applicationid": app_user_id,
        },
    )


def seed_sample_data(state: EmulatorState) -> dict[str, Any]:
    """Currencies, a price list, accounts, contacts, products and a sales user. Returns their ids."""
    with state.lock:
        currencies = {}
        for code, name, symbol, rate in (
            ("USD", "US Dollar", "$", "1.0"),
            ("NZD", "New Zealand Dollar", "$", "1.6"),
            ("AUD", "Australian Dollar", "$", "1.5"),
            ("GBP", "Pound Sterling", "£", "0.8"),
        ):
            currencies[code] = stable_id("currency", code)
            _put(
                state,
                "transactioncurrency",
                currencies[code],
                {
                    "currencyname": name,
                    "isocurrencycode": code,
                    "currencysymbol": symbol,
                    "currencyprecision": 2,
                    "exchangerate": Decimal(rate),
                },
            )
        price_level = stable_id("pricelevel", "default")
        _put(
            state,
            "pricelevel",
            price_level,
            {
                "name": "Default Price List",
                "transactioncurrencyid": Ref("transactioncurrency", currencies["USD"]),
            },
        )
        accounts = {}
        for number, name, email, city, country in (
            ("ACC-001", "Contoso Ltd", "ap@contoso.example", "Wellington", "New Zealand"),
            ("ACC-002", "Fabrikam Inc", "billing@fabrikam.example", "Seattle", "United States"),
            ("ACC-003", "O'Brien & Sons", "accounts@obrien.example", "Dublin", "Ireland"),
        ):
            accounts[name] = stable_id("account", number)
            _put(
                state,
                "account",
                accounts[name],
                {
                    "name": name,
                    "accountnumber": number,
                    "emailaddress1": email,
                    "telephone1": "+64 4 555 0100",
                    "address1_line1": "1 Main Street",
                    "address1_line2": "Level 2",
                    "address1_city": city,
                    "address1_stateorprovince": None,
                    "address1_postalcode": "6011",
                    "address1_country": country,
                },
            )
        contacts = {}
        for first, last, email in (("Jane", "Doe", "jane@example.com"), ("Sam", "Smith", "sam@example.com")):
            full = f"{first} {last}"
            contacts[full] = stable_id("contact", full)
            _put(
                state,
                "contact",
                contacts[full],
                {
                    "firstname": first,
                    "lastname": last,
                    "fullname": full,
                    "emailaddress1": email,
                    "telephone1": "+64 21 555 0199",
                    "address1_line1": "22 Side Road",
                    "address1_city": "Auckland",
                    "address1_postalcode": "1010",
                    "address1_country": "New Zealand",
                },
            )
        products = {}
        for number, name, price in (
            ("WID-001", "Widget", "10.00"),
            ("GAD-002", "Gadget", "25.50"),
            ("SRV-001", "Consulting hour", "120.00"),
            ("BND-001", "Starter bundle", "99.00"),
        ):
            products[number] = stable_id("product", number)
            _put(
                state,
                "product",
                products[number],
                {
                    "name": name,
                    "productnumber": number,
                    "price": Decimal(price),
                    "description": f"{name} (sample)",
                    "producttypecode": 2 if number.startswith("BND") else 1,
                    "pricelevelid": Ref("pricelevel", price_level),
                    "transactioncurrencyid": Ref("transactioncurrency", currencies["USD"]),
                },
            )
        _put(
            state,
            "systemuser",
            SALES_USER_ID,
            {
                "fullname": "Sally Sales",
                "domainname": "sally@emulator",
                "internalemailaddress": "sally@example.com",
            },
        )
        # A Sales user who may do anything through the Web API too (the UI actions act as her).
        grant_role(state, None, SALES_USER_ID, SYSTEM_ADMINISTRATOR_ROLE_ID)
    return {
        "currencies": currencies,
        "price_level": price_level,
        "accounts": accounts,
        "contacts": contacts,
        "products": products,
        "user": SALES_USER_ID,
    }

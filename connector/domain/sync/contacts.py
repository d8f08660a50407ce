"""I5: finding the Xero contact for an invoice's customer, and what to do when there is none."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from connector.domain.dynamics import ConnectionSettings, Customer
from connector.domain.xero_records import XeroAddress, XeroContactDraft

CONTACT_NAME_MAX = 255
CONTACT_NUMBER_MAX = 50

ContactField = Literal["ContactID", "Name", "ContactNumber"]


class ContactLookup(BaseModel):
    """How to find the customer in Xero: by the remembered ContactID, by name or by contact number."""

    model_config = ConfigDict(frozen=True)

    field: ContactField
    value: str


def contact_lookup(customer: Customer, connection: ConnectionSettings) -> ContactLookup | None:
    """The lookup to run, or None when the connection matches by number and the customer has none.

    A remembered Xero ContactID skips the search. Otherwise match by name (the default) or by
    account/contact number (Xero ContactNumber). Falling back to the name when the number is missing
    could pick the wrong contact, so the caller reports it instead (`history.customer_has_no_number`).
    """
    if customer.xero_contact_id:
        return ContactLookup(field="ContactID", value=customer.xero_contact_id)
    if connection.match_contacts_by_number:
        number = (customer.number or "").strip()
        if not number:
            return None
        return ContactLookup(field="ContactNumber", value=number[:CONTACT_NUMBER_MAX])
    return ContactLookup(field="Name", value=customer.name.strip()[:CONTACT_NAME_MAX])


def _clean(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def contact_draft(customer: Customer) -> XeroContactDraft:
    """The Xero contact for a Dynamics account or contact: name, number, email, phone, address."""
    address_parts = (
        customer.address_line1,
        customer.address_line2,
        customer.city,
        customer.state,
        customer.postcode,
        customer.country,
    )
    address = (
        XeroAddress(
            line1=_clean(customer.address_line1),
            line2=_clean(customer.address_line2),
            city=_clean(customer.city),
            region=_clean(customer.state),
            postal_code=_clean(customer.postcode),
            country=_clean(customer.country),
        )
        if any(_clean(part) for part in address_parts)
        else None
    )
    number = _clean(customer.number)
    return XeroContactDraft(
        name=customer.name.strip()[:CONTACT_NAME_MAX],
        contact_number=number[:CONTACT_NUMBER_MAX] if number else None,
        # Never cut an email: a shortened address is a wrong one. Xero reports bad ones.
        email=_clean(customer.email),
        phone=_clean(customer.phone),
        address=address,
    )


class MissingContactAction(StrEnum):
    CREATE = "create"
    FAIL = "fail"


class MissingContactDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: MissingContactAction
    reason: str | None = None


def decide_missing_contact(customer: Customer, connection: ConnectionSettings) -> MissingContactDecision:
    """No Xero contact matched: create one when the connection allows it, otherwise fail the invoice."""
    if connection.create_contacts:
        return MissingContactDecision(action=MissingContactAction.CREATE)
    return MissingContactDecision(
        action=MissingContactAction.FAIL,
        reason=missing_contact_reason(customer, connection),
    )


def missing_contact_reason(customer: Customer, connection: ConnectionSettings) -> str:
    """Plain words for the sync history when the contact is missing and may not be created."""
    how = (
        f'with contact number "{customer.number}"'
        if connection.match_contacts_by_number
        else "with that name"
    )
    return (
        f"{customer.name} is not a contact in Xero ({how}), and creating contacts is turned off for "
        f'connection {connection.name}. Add the contact in Xero or turn on "Create new contacts in Xero", '
        'then set export status back to "No".'
    )


def should_update_contact(connection: ConnectionSettings, *, just_created: bool) -> bool:
    """Push current Dynamics details to an existing contact? Only with both settings on (C3)."""
    return connection.allow_contact_update and connection.create_contacts and not just_created

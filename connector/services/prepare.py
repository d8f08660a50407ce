"""Everything a Xero invoice needs before it is sent: its contact (I5), its items (I6), the draft."""

from __future__ import annotations

import asyncio

from connector.domain.sync import contacts, history
from connector.domain.sync.invoice import build_invoice_draft
from connector.domain.sync.items import items_to_create
from connector.domain.sync.line_kinds import item_code
from connector.domain.xero_records import XeroInvoiceDraft, XeroItem
from connector.errors import (
    XeroValidationError,
)
from connector.ports import XeroPort
from connector.services.sync_attempt import SyncAttempt
from connector.services.validate_invoice import check_before_sending
from connector.services.write_back import fail
from connector.telemetry import get_logger

logger = get_logger("services.prepare")


async def prepare(attempt: SyncAttempt) -> XeroInvoiceDraft | None:
    """Contact (I5) and items (I6) resolved, then the draft; None when the invoice already failed."""
    if not await check_before_sending(attempt):  # I16: before any Xero call
        return None
    contact_id = await resolve_contact(attempt)
    if contact_id is None:
        await fail(attempt, entry=None)
        return None
    items = await ensure_items(attempt)
    return build_invoice_draft(attempt.invoice, attempt.connection, items, contact_id, attempt.deps.org_url)


async def prewarm_items(attempts: list[SyncAttempt]) -> None:
    """One item lookup for a whole batch, instead of one per invoice."""
    first = attempts[0]
    codes = sorted(
        {item_code(line.product) for attempt in attempts for line in attempt.invoice.lines if line.product}
    )
    cache, connection_key = first.deps.items, str(first.connection.id)
    missing = [code for code in codes if code not in cache.known(connection_key, codes)]
    if missing:
        cache.remember(connection_key, await asyncio.to_thread(first.xero.get_items_by_codes, missing))


async def resolve_contact(attempt: SyncAttempt) -> str | None:
    """I5: the Xero ContactID for the customer, found or created; None when the invoice must fail
    (sync history already written)."""
    customer, connection, dataverse = attempt.invoice.customer, attempt.connection, attempt.deps.dataverse
    lookup = contacts.contact_lookup(customer, connection)
    if lookup is None:
        await dataverse.add_sync_history(
            history.customer_has_no_number(attempt.ctx, customer.name, connection.name)
        )
        return None
    xero = attempt.xero
    contact_id: str | None = lookup.value if lookup.field == "ContactID" else None
    # Another invoice of this customer, moments ago in this process, already found or created it.
    contact_id = contact_id or attempt.deps.contact_ids.get(customer.id)
    if contact_id is None:
        finder = xero.find_contact_by_name if lookup.field == "Name" else xero.find_contact_by_number
        found = await asyncio.to_thread(finder, lookup.value)
        if found is None:
            decision = contacts.decide_missing_contact(customer, connection)
            if decision.action == contacts.MissingContactAction.FAIL:
                await dataverse.add_sync_history(history.contact_missing(attempt.ctx, decision.reason or ""))
                return None
            contact_id = await _create_contact(attempt, xero)
            await dataverse.update_customer_xero(customer.kind, customer.id, xero_contact_id=contact_id)
            attempt.deps.contact_ids[customer.id] = contact_id
            return contact_id
        contact_id = found.contact_id
        await dataverse.update_customer_xero(customer.kind, customer.id, xero_contact_id=contact_id)
        attempt.deps.contact_ids[customer.id] = contact_id
    if contacts.should_update_contact(connection, just_created=False):
        await asyncio.to_thread(
            xero.update_contact,
            contact_id,
            contacts.contact_draft(customer),
            attempt.key(f"contact-update-{customer.id}"),
        )
    return contact_id


async def _create_contact(attempt: SyncAttempt, xero: XeroPort) -> str:
    """Create the customer in Xero. Names are unique there: if another worker (or a person) created it
    meanwhile, Xero refuses the duplicate, and that contact is the one to use (I5)."""
    customer = attempt.invoice.customer
    try:
        created = await asyncio.to_thread(
            xero.create_contact, contacts.contact_draft(customer), attempt.key(f"contact-{customer.id}")
        )
    except XeroValidationError:
        existing = await asyncio.to_thread(xero.find_contact_by_name, contacts.contact_draft(customer).name)
        if existing is None:
            raise
        return existing.contact_id
    await attempt.deps.dataverse.add_sync_history(history.contact_created(attempt.ctx, created.name))
    return created.contact_id


async def ensure_items(attempt: SyncAttempt) -> dict[str, XeroItem]:
    """I6: the Xero items of the invoice's products, created where missing and allowed."""
    invoice, connection = attempt.invoice, attempt.connection
    codes = sorted({item_code(line.product) for line in invoice.lines if line.product is not None})
    if not codes:
        return {}
    cache, connection_key = attempt.deps.items, str(connection.id)
    items = cache.known(connection_key, codes)
    missing = [code for code in codes if code not in items]
    if missing:
        fetched = await asyncio.to_thread(attempt.xero.get_items_by_codes, missing)
        cache.remember(connection_key, fetched)
        items.update({item.code: item for item in fetched})
    drafts = items_to_create(invoice, connection, items)
    if drafts:
        try:
            created = await asyncio.to_thread(attempt.xero.create_items, drafts, attempt.key("items"))
        except XeroValidationError:
            # Codes are unique in Xero: another worker may have just created the same item.
            created = await asyncio.to_thread(attempt.xero.get_items_by_codes, [d.code for d in drafts])
            if len(created) < len(drafts):
                raise
        cache.remember(connection_key, created)
        items.update({item.code: item for item in created})
    return items

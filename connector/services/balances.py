"""Customer balances (B3): changes mark the customer, and a refresh per connection reads all of them from
Xero in one call per 50 contacts, instead of one contact read after every invoice event."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings, Customer, Invoice
from connector.domain.xero_records import XeroContact, XeroInvoice
from connector.ports import CustomerKind, DataverseCustomers, DirtyBalances, XeroForConnection, XeroPort
from connector.telemetry import get_logger, log_step

logger = get_logger("services.balances")


@dataclass
class BalanceDependencies:
    dataverse: DataverseCustomers
    xero_for: XeroForConnection
    waiting: DirtyBalances | None  # None: refresh at once (single-process tools and tests)


async def balances_changed(
    deps: BalanceDependencies,
    connection: ConnectionSettings,
    xero: XeroPort,
    contact_id: str,
    customers: list[Customer],
) -> None:
    """The Xero contact's balances may have changed: refresh now, or mark its customers for the next run."""
    if not customers:
        return
    if deps.waiting is None:
        await _write(deps, await asyncio.to_thread(xero.get_contacts_by_ids, [contact_id]), customers)
        return
    await deps.waiting.add(
        connection.id, [(customer.kind, customer.id, contact_id) for customer in customers]
    )


async def invoice_balances_changed(
    deps: BalanceDependencies,
    connection: ConnectionSettings,
    xero: XeroPort,
    invoice: Invoice | None,
    xero_invoice: XeroInvoice,
) -> None:
    contact_id = (invoice.customer.xero_contact_id if invoice else None) or xero_invoice.contact_id
    if not contact_id:
        return
    customers = [invoice.customer] if invoice is not None else []
    if not customers:
        customers = await deps.dataverse.find_customers_by_xero_contact_id(contact_id)
    await balances_changed(deps, connection, xero, contact_id, customers)


async def refresh_waiting_balances(connection: ConnectionSettings, deps: BalanceDependencies) -> int:
    """Read the marked customers' contacts from Xero (one call per 50) and write their balances."""
    if deps.waiting is None:
        return 0
    waiting = await deps.waiting.take(connection.id)
    if not waiting:
        return 0
    by_contact: dict[str, list[tuple[CustomerKind, UUID]]] = defaultdict(list)
    for kind, customer_id, contact_id in waiting:
        by_contact[contact_id].append((kind, customer_id))
    xero = deps.xero_for(connection)
    try:
        contacts = await asyncio.to_thread(xero.get_contacts_by_ids, sorted(by_contact))
    except BaseException:
        await deps.waiting.add(connection.id, waiting)  # keep them for the next run
        raise
    for contact in contacts:
        for kind, customer_id in by_contact.get(contact.contact_id, []):
            await deps.dataverse.update_customer_xero(
                kind,
                customer_id,
                amount_owed=contact.receivable_outstanding,
                amount_overdue=contact.receivable_overdue,
            )
    log_step(logger, "balances.refreshed", logging.INFO, connection=connection.name, contacts=len(contacts))
    return len(contacts)


async def _write(deps: BalanceDependencies, contacts: list[XeroContact], customers: list[Customer]) -> None:
    for contact in contacts:
        for customer in customers:
            await deps.dataverse.update_customer_xero(
                customer.kind,
                customer.id,
                amount_owed=contact.receivable_outstanding,
                amount_overdue=contact.receivable_overdue,
            )

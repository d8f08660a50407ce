"""Customer and supplier balances (B3): changes mark the customer, and a refresh per connection reads all
of them from Xero in one call per 50 contacts, instead of one contact read after every invoice event.

Overdue balances also move as days pass with nothing in Xero changing, so once a day per connection (in
its time zone) that refresh covers every linked account and contact as well: one Xero call per page of
50 contacts, and a Dataverse write only for the balances that changed.

Each customer carries both sides of its Xero contact: what it owes us (receivables) and, as a supplier,
what we owe it (payables).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Protocol, TypedDict
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings, Customer, Invoice
from connector.domain.sync.eligibility import local_today
from connector.domain.xero_records import XeroContact, XeroInvoice
from connector.ports import (
    Clock,
    CustomerKind,
    DataverseConnections,
    DataverseCustomers,
    DirtyBalances,
    XeroForConnection,
    XeroPort,
)
from connector.telemetry import get_logger, log_step

logger = get_logger("services.balances")

Waiting = tuple[CustomerKind, UUID, str]


class BalanceDataverse(DataverseCustomers, DataverseConnections, Protocol):
    """Customers' balances, and the connection's record of its last full refresh."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class BalanceDependencies:
    dataverse: BalanceDataverse
    xero_for: XeroForConnection
    waiting: DirtyBalances | None  # None: refresh at once (single-process tools and tests)
    clock: Clock = field(default=_utc_now)  # "today" of the daily refresh


class Balances(TypedDict):
    """The four balance columns of a customer."""

    amount_owed: Decimal
    amount_overdue: Decimal
    amount_we_owe: Decimal
    amount_we_owe_overdue: Decimal


def balance_values(contact: XeroContact) -> Balances:
    """A customer's balances, from its Xero contact."""
    return Balances(
        amount_owed=contact.receivable_outstanding,
        amount_overdue=contact.receivable_overdue,
        amount_we_owe=contact.payable_outstanding,
        amount_we_owe_overdue=contact.payable_overdue,
    )


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
        for contact in await asyncio.to_thread(xero.get_contacts_by_ids, [contact_id]):
            for customer in customers:
                await deps.dataverse.update_customer_xero(
                    customer.kind, customer.id, **balance_values(contact)
                )
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
    """Read the marked customers' contacts from Xero (one call per 50) and write their balances; once a
    day, every linked customer's too. Returns how many contacts were read."""
    if deps.waiting is None:
        return 0
    waiting = await deps.waiting.take(connection.id)
    today = await _daily_refresh_due(connection, deps)
    linked = await deps.dataverse.list_linked_customers() if today is not None else []
    if not waiting and not linked:
        return 0
    by_contact: dict[str, dict[tuple[CustomerKind, UUID], Customer | None]] = defaultdict(dict)
    for kind, customer_id, contact_id in waiting:
        by_contact[contact_id][(kind, customer_id)] = None  # written whatever it held
    for customer in linked:
        if customer.xero_contact_id:
            by_contact[customer.xero_contact_id].setdefault((customer.kind, customer.id), customer)
    try:
        contacts = await asyncio.to_thread(deps.xero_for(connection).get_contacts_by_ids, sorted(by_contact))
    except BaseException:
        await deps.waiting.add(connection.id, waiting)  # keep them for the next run
        raise
    written = 0
    for contact in contacts:
        values = balance_values(contact)
        for (kind, customer_id), known in by_contact.get(contact.contact_id, {}).items():
            if known is not None and all(getattr(known, name) == value for name, value in values.items()):
                continue  # the daily pass writes only what changed
            await deps.dataverse.update_customer_xero(kind, customer_id, **values)
            written += 1
    if today is not None:
        await deps.dataverse.update_connection(connection.id, {"balances_refreshed_on": today.isoformat()})
    log_step(
        logger,
        "balances.refreshed",
        logging.INFO,
        connection=connection.name,
        contacts=len(contacts),
        written=written,
        daily=today is not None,
    )
    return len(contacts)


async def _daily_refresh_due(connection: ConnectionSettings, deps: BalanceDependencies) -> date | None:
    """Today (in the connection's time zone) when the connection's full refresh has not run today; read
    from the connection record, so one instance's run counts for all."""
    today = local_today(deps.clock(), connection.time_zone)
    current = await deps.dataverse.get_connection(connection.id)
    return None if current.balances_refreshed_on == today else today

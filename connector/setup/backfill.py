"""I1 backfill: Xero details for invoices older than the connector, safe on a live tenant.

Only the invoices the admin picks get a record (created or delivered since a date, one connection, one
customer), and Xero is asked first: an invoice already there (entered by hand before the connector:
the same number for a sales invoice; the same number, contact and total for a bill) is linked to it and
marked "Yes", so the sweep never creates it again. The rest get export status "No" and go with the next
sweep once eligible (I1). Cancelled and paid invoices are skipped. A dry run reads the same and writes
nothing. Safe to re-run: an invoice with a record is counted as having one and left alone.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.http import odata_string
from connector.domain.dynamics import ConnectionSettings, ExportStatus, Invoice, InvoiceState, XeroDetails
from connector.domain.sync import lifecycle_history
from connector.domain.sync.eligibility import check_eligibility, local_today
from connector.domain.sync.header import invoice_number
from connector.domain.sync.history import HistoryContext
from connector.domain.xero_records import XeroInvoice
from connector.services.write_back import xero_deep_link

CHUNK = 50  # invoices read, and numbers looked up in Xero, per call


class NoDefaultConnectionError(RuntimeError):
    """Backfill needs a default connection (C1)."""


class BackfillXero(Protocol):
    def find_invoices_by_numbers(self, numbers: list[str]) -> list[XeroInvoice]: ...


@dataclass(frozen=True)
class BackfillFilters:
    created_since: date | None = None
    delivered_since: date | None = None
    connection: str | None = None  # a connection's name or id; the default connection when None
    customer: str | None = None  # an account's or contact's name or id


class Action(StrEnum):
    LINK = "link"
    CREATE = "create"
    SKIP = "skip"
    ALREADY_HAD = "already had"


@dataclass(frozen=True)
class BackfillItem:
    invoice_id: UUID
    number: str
    action: Action
    detail: str  # in words: which Xero invoice it is linked to, when it will be sent, why it is skipped


@dataclass
class BackfillReport:
    connection_id: UUID
    connection_name: str
    dry_run: bool
    items: list[BackfillItem] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for item in self.items if item.action == action)

    @property
    def created(self) -> int:
        return self.count(Action.CREATE)

    @property
    def linked(self) -> int:
        return self.count(Action.LINK)

    @property
    def skipped(self) -> int:
        return self.count(Action.SKIP)

    @property
    def already_had(self) -> int:
        return self.count(Action.ALREADY_HAD)


Progress = Callable[[int, int], None]


async def backfill_xero_details(
    client: DataverseClient,
    xero_for: Callable[[ConnectionSettings], BackfillXero] | None = None,
    filters: BackfillFilters = BackfillFilters(),
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> BackfillReport:
    """Plan (and unless `dry_run`, make) the Xero details of the invoices the filters pick. Without
    `xero_for` nothing is looked up in Xero (an organisation known to hold none of them); the command
    always looks."""
    now = now or datetime.now(UTC)
    connection = await _connection(client, filters.connection)
    customers = await _customer_ids(client, filters.customer) if filters.customer else None
    rows = await _candidates(client, connection, filters, customers)
    report = BackfillReport(connection.id, connection.name, dry_run)
    missing = [invoice_id for invoice_id, has_details in rows if not has_details]
    for invoice_id, has_details in rows:
        if has_details:
            report.items.append(BackfillItem(invoice_id, "", Action.ALREADY_HAD, "has Xero details already"))
    done = len(report.items)
    if progress is not None:
        progress(done, len(rows))
    xero = xero_for(connection) if xero_for is not None else None
    for start in range(0, len(missing), CHUNK):
        snapshots = await client.get_invoice_snapshots(missing[start : start + CHUNK])
        invoices = [snapshot.invoice for snapshot in snapshots]
        found = _by_number(await _lookup(xero, invoices, connection))
        for invoice in invoices:
            item = _plan(invoice, connection, found, local_today(now, connection.time_zone))
            if not dry_run:
                await _apply(client, connection, invoice, item, now)
            report.items.append(item.item)
            done += 1
            if progress is not None:
                progress(done, len(rows))
    return report


# --- which invoices ----------------------------------------------------------------------------------------


async def _connection(client: DataverseClient, wanted: str | None) -> ConnectionSettings:
    if wanted is None:
        default = await client.get_default_connection()
        if default is None:
            raise NoDefaultConnectionError(
                "no default connection: create one first (python -m connector connect)"
            )
        return default
    for connection in await client.list_connections():
        if wanted.strip().lower() in (str(connection.id), connection.name.strip().lower()):
            return connection
    raise LookupError(f"no connection is called {wanted!r}")


async def _customer_ids(client: DataverseClient, wanted: str) -> list[UUID]:
    """An account or contact by id, or every one with that name."""
    try:
        return [UUID(wanted)]
    except ValueError:
        pass
    found: list[UUID] = []
    for entity_set, key, name in (("accounts", "accountid", "name"), ("contacts", "contactid", "fullname")):
        params = {"$select": key, "$filter": f"{name} eq {odata_string(wanted)}"}
        found += [UUID(str(row[key])) for row in await client.list_all(entity_set, params)]
    if not found:
        raise LookupError(f"no account or contact named {wanted!r}")
    return found


async def _candidates(
    client: DataverseClient,
    connection: ConnectionSettings,
    filters: BackfillFilters,
    customers: Sequence[UUID] | None,
) -> list[tuple[UUID, bool]]:
    """(invoice id, has Xero details) for every invoice the filters pick, one call per page."""
    schema = client.schema
    details = schema.lookup("details_invoice").relationship
    on_connection = schema.lookup("invoice_connection").value_name
    # An invoice with no connection gets the default one (C1): it belongs to the default connection.
    conditions = [
        f"({on_connection} eq {connection.id} or {on_connection} eq null)"
        if connection.is_default
        else f"{on_connection} eq {connection.id}"
    ]
    if filters.created_since is not None:
        conditions.append(f"createdon ge {filters.created_since.isoformat()}T00:00:00Z")
    if filters.delivered_since is not None:
        conditions.append(f"datedelivered ge {filters.delivered_since.isoformat()}")
    if customers is not None:
        conditions.append("(" + " or ".join(f"_customerid_value eq {c}" for c in customers) + ")")
    params = {
        "$select": "invoiceid",
        "$expand": f"{details}($select={schema.table('xero_details').primary_id})",
        "$filter": " and ".join(conditions),
        "$orderby": "createdon",
    }
    rows = await client.list_all("invoices", params)
    return [(UUID(str(row["invoiceid"])), bool(row.get(details))) for row in rows]


# --- matching against Xero ---------------------------------------------------------------------------------


def sales_number(invoice: Invoice, connection: ConnectionSettings) -> str:
    """The number a sales invoice has in Xero: the one the connector would send, or (with Xero's own
    numbering) the Dynamics Invoice ID, which is what a person entering it by hand would have typed."""
    return invoice_number(invoice, connection) or invoice.number.strip()


def bill_numbers(invoice: Invoice, connection: ConnectionSettings) -> list[str]:
    """A bill's number in Xero is the supplier's: the invoice name or the Dynamics Invoice ID."""
    numbers = [invoice_number(invoice, connection), invoice.name.strip(), invoice.number.strip()]
    return list(dict.fromkeys(number for number in numbers if number))


def numbers_to_look_up(invoice: Invoice, connection: ConnectionSettings) -> list[str]:
    if invoice.invoice_type == "purchase":
        return bill_numbers(invoice, connection)
    if invoice.invoice_type == "sales":
        return [sales_number(invoice, connection)]
    return []  # credit notes are Xero credit notes, not invoices


def already_in_xero(
    invoice: Invoice, connection: ConnectionSettings, by_number: dict[str, list[XeroInvoice]]
) -> XeroInvoice | None:
    """The Xero invoice this Dynamics invoice already is, if any: a live sales invoice with its number
    (unique in Xero), or a live bill with one of its numbers, its contact and its total."""
    live = [
        found
        for number in numbers_to_look_up(invoice, connection)
        for found in by_number.get(number, [])
        if found.status not in ("DELETED", "VOIDED")
    ]
    if invoice.invoice_type == "sales":
        return next((found for found in live if found.type == "ACCREC"), None)
    customer = invoice.customer
    for found in live:
        same_contact = (customer.xero_contact_id and customer.xero_contact_id == found.contact_id) or (
            (found.contact_name or "").casefold() == customer.name.casefold()
        )
        if found.type == "ACCPAY" and same_contact and found.total == invoice.total_amount:
            return found
    return None


async def _lookup(
    xero: BackfillXero | None, invoices: list[Invoice], connection: ConnectionSettings
) -> list[XeroInvoice]:
    numbers = sorted(
        {n for i in invoices if i.state == InvoiceState.ACTIVE for n in numbers_to_look_up(i, connection)}
    )
    if xero is None or not numbers:
        return []
    return await asyncio.to_thread(xero.find_invoices_by_numbers, numbers)


def _by_number(found: list[XeroInvoice]) -> dict[str, list[XeroInvoice]]:
    by_number: dict[str, list[XeroInvoice]] = defaultdict(list)
    for invoice in found:
        if invoice.invoice_number:
            by_number[invoice.invoice_number].append(invoice)
    return by_number


# --- what happens to each ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    item: BackfillItem
    match: XeroInvoice | None = None


_STATES = {InvoiceState.PAID: "paid", InvoiceState.CANCELED: "cancelled", InvoiceState.CLOSED: "closed"}


def _plan(
    invoice: Invoice, connection: ConnectionSettings, by_number: dict[str, list[XeroInvoice]], today: date
) -> _Planned:
    if invoice.state != InvoiceState.ACTIVE:
        words = f"{_STATES.get(invoice.state, 'not active')} in Dynamics: never sent to Xero"
        return _Planned(BackfillItem(invoice.id, invoice.number, Action.SKIP, words))
    match = already_in_xero(invoice, connection, by_number)
    if match is not None:
        words = f"already in Xero as {match.invoice_number} ({match.status}): linked, never sent again"
        return _Planned(BackfillItem(invoice.id, invoice.number, Action.LINK, words), match)
    provisional = XeroDetails(id=invoice.id, invoice_id=invoice.id, connection_id=connection.id)
    eligibility = check_eligibility(
        invoice.model_copy(update={"connection_id": connection.id}), provisional, connection, today
    )
    words = "sent to Xero by the next sweep" if eligibility.eligible else f"waits: {eligibility.reason}"
    return _Planned(BackfillItem(invoice.id, invoice.number, Action.CREATE, words))


async def _apply(
    client: DataverseClient,
    connection: ConnectionSettings,
    invoice: Invoice,
    planned: _Planned,
    now: datetime,
) -> None:
    """One write per invoice. A linked record is born linked ("Yes"), so no sweep can see it as "No"."""
    if planned.item.action == Action.SKIP:
        return
    match = planned.match
    initial: dict[str, object] | None = None
    if match is not None:
        initial = {
            "xero_invoice_id": match.invoice_id,
            "xero_invoice_number": match.invoice_number,
            "xero_status": match.status,
            "xero_url": xero_deep_link(match),
            "export_status": ExportStatus.YES,
            "exported_on": now,
            "amount_due": match.amount_due,
            "amount_paid": match.amount_paid,
            "amount_credited": match.amount_credited,
            "total": match.total,
            "total_tax": match.total_tax,
            "due_date": match.due_date,
        }
    details = await client.set_up_invoice(
        invoice.id, connection.id, set_connection=invoice.connection_id is None, claim=initial
    )
    if match is not None and details.xero_invoice_id == match.invoice_id:
        ctx = HistoryContext(
            invoice_id=invoice.id, at=now, correlation_id="backfill", connection_id=connection.id
        )
        entry = lifecycle_history.linked_by_backfill(
            ctx, invoice_type=match.type, number=match.invoice_number
        )
        await client.add_sync_history(entry)

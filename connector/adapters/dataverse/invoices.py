"""The invoice table: the one-call snapshot, totals, state, Date Delivered and the connection lookup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.base import DataverseBase
from connector.adapters.dataverse.batch import ChangeOperation
from connector.adapters.dataverse.mapping import (
    INVOICE_COLUMNS,
    LINE_COLUMNS,
    PRODUCT_COLUMNS,
    customer_columns,
    invoice_from_json,
    invoice_lookup_columns,
    line_lookup_columns,
    xero_details_columns,
    xero_details_from_json,
)
from connector.adapters.dataverse.models import InvoiceSnapshot
from connector.adapters.dataverse.schema import ConnectorSchema
from connector.domain.dynamics import InvoiceState, InvoiceTotals

# Ids per bulk read: keeps the URL well under Dataverse's limit (about 50 characters an id).
SNAPSHOTS_PER_QUERY = 50


def invoice_totals_body(
    total_tax: Decimal,
    total_amount: Decimal | None,
    due_date: date | None,
    amount_due: Decimal | None = None,
    schema: ConnectorSchema | None = None,
) -> dict[str, Any]:
    """None leaves a value out: the total is written only when it changed (the update webhook filters
    on it)."""
    body: dict[str, Any] = {"totaltax": str(total_tax)}
    if total_amount is not None:
        body["totalamount"] = str(total_amount)
    if due_date is not None:
        body["duedate"] = due_date.isoformat()
    if amount_due is not None and schema is not None:
        body[schema.p("amountdue")] = str(amount_due)  # I7/B2: Xero's amount due, on the invoice
    return body


def invoice_totals_change(totals: InvoiceTotals, schema: ConnectorSchema | None = None) -> ChangeOperation:
    body = invoice_totals_body(
        totals.total_tax, totals.total_amount, totals.due_date, totals.amount_due, schema
    )
    return ChangeOperation("PATCH", f"invoices({totals.invoice_id})", body, "*")


def invoice_state_change(invoice_id: UUID, state: InvoiceState | int, status_reason: int) -> ChangeOperation:
    return ChangeOperation(
        "PATCH", f"invoices({invoice_id})", {"statecode": int(state), "statuscode": int(status_reason)}, "*"
    )


def invoice_connection_change(
    schema: ConnectorSchema, invoice_id: UUID, connection_id: UUID
) -> ChangeOperation:
    nav = schema.lookup("invoice_connection").schema_name
    body = {f"{nav}@odata.bind": f"/{schema.table('connection').entity_set}({connection_id})"}
    return ChangeOperation("PATCH", f"invoices({invoice_id})", body, "*")


def invoice_query(schema: ConnectorSchema, *, with_lines: bool, with_details: bool) -> dict[str, str]:
    """$select and $expand of an invoice read: its customer, currency and branding theme, and on request
    its lines (with products and reference data) and its Xero details."""
    s = schema
    expand = [
        f"customerid_account($select={','.join(customer_columns(s, 'account'))})",
        f"customerid_contact($select={','.join(customer_columns(s, 'contact'))})",
        "transactioncurrencyid($select=isocurrencycode)",
        f"{s.lookup('invoice_branding_theme').schema_name}($select={s.p('xeroid')})",
    ]
    if with_lines:
        line_select = ",".join([*LINE_COLUMNS, *line_lookup_columns(s)])
        line_expand = (
            f"$select={line_select};$expand=productid($select={','.join(PRODUCT_COLUMNS)}),"
            f"{s.lookup('line_account_code').schema_name}($select={s.p('code')}),"
            f"{s.lookup('line_tax_type').schema_name}($select={s.p('taxtype')})"
        )
        expand.insert(0, f"invoice_details({line_expand})")
    if with_details:
        details = s.lookup("details_invoice").relationship
        expand.append(f"{details}($select={','.join(xero_details_columns(s))})")
    select = [
        *INVOICE_COLUMNS,
        s.p("invoicetype"),
        s.p("lineamounttypes"),
        s.p("amountdue"),
        s.lookup("invoice_connection").value_name,
        *invoice_lookup_columns(s),
    ]
    return {"$select": ",".join(select), "$expand": ",".join(expand)}


class InvoiceRows(DataverseBase):
    def _snapshot_params(self) -> dict[str, str]:
        return invoice_query(self.schema, with_lines=True, with_details=True)

    async def get_invoice_snapshot(self, invoice_id: UUID) -> InvoiceSnapshot:
        """Invoice + lines + products + customer + currency + Xero details in ONE request."""
        return self._snapshot(await self.get_json(f"invoices({invoice_id})", self._snapshot_params()))

    async def get_invoice_snapshots(self, invoice_ids: Sequence[UUID]) -> list[InvoiceSnapshot]:
        """Up to SNAPSHOTS_PER_QUERY snapshots per request (the same expansions as one snapshot)."""
        snapshots: list[InvoiceSnapshot] = []
        for start in range(0, len(invoice_ids), SNAPSHOTS_PER_QUERY):
            chunk = invoice_ids[start : start + SNAPSHOTS_PER_QUERY]
            params = {**self._snapshot_params(), "$filter": " or ".join(f"invoiceid eq {i}" for i in chunk)}
            rows = await self.list_all("invoices", params, page_size=SNAPSHOTS_PER_QUERY)
            snapshots += [self._snapshot(row) for row in rows]
        return snapshots

    def _snapshot(self, row: dict[str, Any]) -> InvoiceSnapshot:
        details_rows = row.get(self.schema.lookup("details_invoice").relationship) or []
        details = xero_details_from_json(self.schema, details_rows[0]) if details_rows else None
        return InvoiceSnapshot(invoice=invoice_from_json(self.schema, row), xero_details=details)

    async def update_invoice_totals(
        self,
        invoice_id: UUID,
        *,
        total_tax: Decimal,
        total_amount: Decimal | None,
        due_date: date | None,
        amount_due: Decimal | None = None,
    ) -> None:
        body = invoice_totals_body(total_tax, total_amount, due_date, amount_due, self.schema)
        await self._patch(f"invoices({invoice_id})", body)

    async def set_invoice_state(
        self, invoice_id: UUID, state: InvoiceState | int, status_reason: int
    ) -> None:
        change = invoice_state_change(invoice_id, state, status_reason)
        await self._patch(change.path, change.body or {})

    async def set_date_delivered(self, invoice_id: UUID, day: date) -> None:
        await self._patch(f"invoices({invoice_id})", {"datedelivered": day.isoformat()})

    async def set_invoice_connection(self, invoice_id: UUID, connection_id: UUID) -> None:
        change = invoice_connection_change(self.schema, invoice_id, connection_id)
        await self._patch(change.path, change.body or {})

    async def list_invoice_ids_without_xero_details(self, page_size: int = 500) -> list[UUID]:
        """Invoices that have no Xero details record yet (for the I1 backfill). One call per page."""
        details = self.schema.lookup("details_invoice").relationship
        params = {
            "$select": "invoiceid",
            "$expand": f"{details}($select={self.schema.table('xero_details').primary_id})",
            "$orderby": "createdon",
        }
        rows = await self.list_all("invoices", params, page_size)
        return [UUID(str(row["invoiceid"])) for row in rows if not row.get(details)]

    async def list_recent_invoice_ids_without_xero_details(
        self, created_since: datetime, page_size: int = 500
    ) -> list[UUID]:
        """I2: active invoices created since `created_since` whose webhook never reached the sync path
        (so no Xero details record was made). Older ones are the backfill command's job."""
        details = self.schema.lookup("details_invoice").relationship
        params = {
            "$select": "invoiceid",
            "$expand": f"{details}($select={self.schema.table('xero_details').primary_id})",
            "$filter": f"createdon ge {created_since.strftime('%Y-%m-%dT%H:%M:%SZ')} and statecode eq 0",
            "$orderby": "createdon",
        }
        rows = await self.list_all("invoices", params, page_size)
        return [UUID(str(row["invoiceid"])) for row in rows if not row.get(details)]

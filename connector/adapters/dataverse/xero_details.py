"""The connector's Xero details table: set-up, claims and write-back (one record per invoice)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.base import REPRESENTATION, DataverseBase
from connector.adapters.dataverse.batch import ChangeOperation
from connector.adapters.dataverse.history import history_change
from connector.adapters.dataverse.http import odata_string, parse_json
from connector.adapters.dataverse.invoices import (
    invoice_connection_change,
    invoice_query,
    invoice_state_change,
    invoice_totals_change,
)
from connector.adapters.dataverse.mapping import (
    invoice_from_json,
    xero_details_body,
    xero_details_columns,
    xero_details_from_json,
)
from connector.adapters.dataverse.schema import EXPORT_STATUS_VALUES, INVOICE_TYPE_VALUES
from connector.domain.dynamics import (
    ExportStatus,
    InvoiceState,
    InvoiceStatusReason,
    InvoiceTotals,
    SyncHistoryEntry,
    TrackedInvoice,
    XeroDetails,
)
from connector.errors import ConcurrencyConflictError, NotFoundError
from connector.ports import SyncWrite

# Xero details ids derive from invoice ids, so concurrent creates converge on one record.
XERO_DETAILS_NAMESPACE = uuid.UUID("3b1f7c1e-9a52-4f0e-8a7d-2b5c6d4e8f10")
DETAILS_PER_QUERY = 50


class XeroDetailsRows(DataverseBase):
    async def list_eligible_invoice_ids(
        self, connection_id: UUID, today: date, page_size: int = 500
    ) -> list[UUID]:
        """I1 (minus the line check): active invoices with Xero details export status "No" on this connection,
        Date Delivered on or before `today`. One call per page."""
        s = self.schema
        invoice_nav = s.lookup("details_invoice").schema_name
        invoice_value = s.lookup("details_invoice").value_name
        query = (
            f"{s.p('exportstatus')} eq {EXPORT_STATUS_VALUES[ExportStatus.NO.value]}"
            f" and {s.lookup('details_connection').value_name} eq {connection_id}"
            f" and {invoice_value} ne null"
            f" and {invoice_nav}/datedelivered le {today.isoformat()}"
            f" and {invoice_nav}/statecode eq {int(InvoiceState.ACTIVE)}"
        )
        params = {"$select": invoice_value, "$filter": query, "$orderby": invoice_value}
        rows = await self.list_all(s.table("xero_details").entity_set, params, page_size)
        return [UUID(str(row[invoice_value])) for row in rows]

    async def _details_where(self, query: str, page_size: int) -> list[XeroDetails]:
        params = {"$select": ",".join(xero_details_columns(self.schema)), "$filter": query}
        rows = await self.list_all(self.schema.table("xero_details").entity_set, params, page_size)
        return [xero_details_from_json(self.schema, row) for row in rows]

    async def list_overdue_candidates(
        self, connection_id: UUID, today: date, page_size: int = 500
    ) -> list[XeroDetails]:
        """B2: this connection's authorised invoices with money due and the due date passed (their days
        overdue move on each day). One call per page."""
        s = self.schema
        query = (
            f"{s.lookup('details_connection').value_name} eq {connection_id}"
            f" and {s.p('xerostatus')} eq 'AUTHORISED'"
            f" and {s.p('amountdue')} gt 0"
            f" and {s.p('duedate')} lt {today.isoformat()}"
        )
        return await self._details_where(query, page_size)

    async def list_emails_pending(self, connection_id: UUID, page_size: int = 500) -> list[XeroDetails]:
        """I8: this connection's invoices whose email failed on the way and waits to be tried again."""
        s = self.schema
        connection = s.lookup("details_connection").value_name
        query = f"{connection} eq {connection_id} and {s.p('emailpending')} eq true"
        return await self._details_where(query, page_size)

    async def list_missing_online_urls(self, connection_id: UUID, limit: int) -> list[XeroDetails]:
        """Up to `limit` approved sales invoices of the connection whose online link is not known yet."""
        s = self.schema
        invoice_type = f"{s.lookup('details_invoice').schema_name}/{s.p('invoicetype')}"
        query = (
            f"{s.lookup('details_connection').value_name} eq {connection_id}"
            f" and {s.p('onlineinvoiceurl')} eq null and {s.p('xeroinvoiceid')} ne null"
            f" and ({s.p('xerostatus')} eq 'AUTHORISED' or {s.p('xerostatus')} eq 'PAID')"
            f" and ({invoice_type} eq {INVOICE_TYPE_VALUES['sales']} or {invoice_type} eq null)"
        )
        params = {"$select": ",".join(xero_details_columns(s)), "$filter": query, "$top": str(limit)}
        rows = (await self.get_json(s.table("xero_details").entity_set, params))["value"]
        return [xero_details_from_json(s, row) for row in rows]

    def _xero_details_upsert(
        self, invoice_id: UUID, connection_id: UUID | None, claim: Mapping[str, object] | None = None
    ) -> ChangeOperation:
        """Create-only upsert of an invoice's Xero details, at an id derived from the invoice id, so that
        concurrent creates converge on one record (If-None-Match: * refuses to overwrite)."""
        table = self.schema.table("xero_details")
        body = xero_details_body(
            self.schema,
            {
                "invoice_id": invoice_id,
                "connection_id": connection_id,
                "export_status": ExportStatus.NO,
                **(claim or {}),
            },
        )
        body[table.primary_name] = f"Xero details {invoice_id}"
        details_id = uuid.uuid5(XERO_DETAILS_NAMESPACE, str(invoice_id))
        return ChangeOperation(
            "PATCH",
            f"{table.entity_set}({details_id})",
            body,
            headers={**REPRESENTATION, "If-None-Match": "*"},
        )

    async def create_xero_details(self, invoice_id: UUID, connection_id: UUID | None) -> XeroDetails:
        """One record per invoice, even when several workers create it at once."""
        operation = self._xero_details_upsert(invoice_id, connection_id)
        try:
            response = await self.transport.send(
                "PATCH",
                operation.path,
                json_body=operation.body,
                headers=dict(operation.headers),
                params={"$select": ",".join(xero_details_columns(self.schema))},
            )
        except ConcurrencyConflictError:
            existing = await self.get_xero_details(invoice_id)  # another worker created it first
            if existing is None:
                raise
            return existing
        return xero_details_from_json(self.schema, parse_json(response))

    async def set_up_invoice(
        self,
        invoice_id: UUID,
        connection_id: UUID,
        *,
        set_connection: bool,
        claim: Mapping[str, object] | None = None,
    ) -> XeroDetails:
        """I1 in one round trip: the Xero details record (born claimed when `claim` is given) and, when
        the invoice has none, its connection. A record someone else just made is returned as it is."""
        operations = [self._xero_details_upsert(invoice_id, connection_id, claim)]
        if set_connection:
            operations.append(invoice_connection_change(self.schema, invoice_id, connection_id))
        try:
            results = await self.execute_change_set(operations)
        except ConcurrencyConflictError:
            results = []  # another worker set it up a moment ago (the change set rolled back as a whole)
        if results and isinstance(results[0].body, dict) and results[0].body.get("@odata.etag"):
            return xero_details_from_json(self.schema, results[0].body)
        existing = await self.get_xero_details(invoice_id)
        if existing is None:
            raise NotFoundError(f"no Xero details for invoice {invoice_id} after setting it up")
        return existing

    async def get_xero_details(self, invoice_id: UUID) -> XeroDetails | None:
        """Found by the invoice lookup, or by the plain-text copy when the invoice has been deleted."""
        s = self.schema
        by_lookup = f"{s.lookup('details_invoice').value_name} eq {invoice_id}"
        query = f"{by_lookup} or {s.p('dynamicsinvoiceid')} eq {odata_string(str(invoice_id))}"
        params = {"$select": ",".join(xero_details_columns(s)), "$filter": query, "$top": "1"}
        rows = (await self.get_json(s.table("xero_details").entity_set, params))["value"]
        return xero_details_from_json(s, rows[0]) if rows else None

    async def find_tracked_invoice(self, xero_invoice_id: str) -> TrackedInvoice | None:
        """B5: an invoice the connector created, with its Dynamics invoice (one call); None otherwise."""
        found = await self.find_tracked_invoices([xero_invoice_id])
        return found[0] if found else None

    async def find_tracked_invoices(self, xero_invoice_ids: Sequence[str]) -> list[TrackedInvoice]:
        """One call per DETAILS_PER_QUERY Xero invoice ids: the details, their invoice expanded."""
        s = self.schema
        invoice = invoice_query(s, with_lines=False, with_details=False)
        nav = s.lookup("details_invoice").schema_name
        found: list[TrackedInvoice] = []
        for start in range(0, len(xero_invoice_ids), DETAILS_PER_QUERY):
            chunk = xero_invoice_ids[start : start + DETAILS_PER_QUERY]
            params = {
                "$select": ",".join(xero_details_columns(s)),
                "$filter": " or ".join(f"{s.p('xeroinvoiceid')} eq {odata_string(i)}" for i in chunk),
                "$expand": f"{nav}($select={invoice['$select']};$expand={invoice['$expand']})",
            }
            rows = await self.list_all(
                s.table("xero_details").entity_set, params, page_size=DETAILS_PER_QUERY
            )
            found += [self._tracked(row, nav) for row in rows]
        return found

    def _tracked(self, row: dict[str, Any], nav: str) -> TrackedInvoice:
        invoice = row.get(nav)
        return TrackedInvoice(
            details=xero_details_from_json(self.schema, row),
            invoice=invoice_from_json(self.schema, invoice) if invoice else None,
        )

    async def find_xero_details_by_credit_note_id(self, credit_note_id: str) -> XeroDetails | None:
        return await self._xero_details_where(self.schema.p("creditnoteid"), credit_note_id)

    async def _xero_details_where(self, column: str, value: str) -> XeroDetails | None:
        s = self.schema
        params = {
            "$select": ",".join(xero_details_columns(s)),
            "$filter": f"{column} eq {odata_string(value)}",
            "$top": "1",
        }
        rows = (await self.get_json(s.table("xero_details").entity_set, params))["value"]
        return xero_details_from_json(s, rows[0]) if rows else None

    def xero_details_change(
        self, details_id: UUID, changes: Mapping[str, object], if_match: str | None
    ) -> ChangeOperation:
        path = f"{self.schema.table('xero_details').entity_set}({details_id})"
        return ChangeOperation("PATCH", path, xero_details_body(self.schema, changes), if_match or "*")

    async def update_xero_details(
        self, details_id: UUID, changes: Mapping[str, object], if_match: str | None
    ) -> str:
        """PATCH the record; with `if_match` (an etag) a concurrent change raises ConcurrencyConflictError.
        Returns the new etag."""
        operation = self.xero_details_change(details_id, changes, if_match)
        response = await self._patch(
            operation.path,
            operation.body or {},
            operation.if_match,
            self.schema.table("xero_details").primary_id,
        )
        etag = (parse_json(response) or {}).get("@odata.etag") or response.headers.get("ETag")
        return str(etag)

    async def commit_sync_results(self, writes: Sequence[SyncWrite]) -> None:
        """Many write-backs in ONE $batch, one change set per invoice."""
        await self.execute_change_sets([self._sync_result_changes(write) for write in writes])

    def _sync_result_changes(self, write: SyncWrite) -> list[ChangeOperation]:
        operations = []
        if write.details_changes:
            operations.append(
                self.xero_details_change(write.details_id, write.details_changes, write.if_match)
            )
        if write.invoice_totals is not None:
            operations.append(invoice_totals_change(write.invoice_totals, self.schema))
        operations.extend(history_change(self.schema, entry) for entry in write.history)
        if write.mark_paid is not None:
            operations.append(
                invoice_state_change(write.mark_paid, InvoiceState.PAID, InvoiceStatusReason.PAID_COMPLETE)
            )
        return operations

    async def commit_sync_result(
        self,
        details_id: UUID,
        details_changes: Mapping[str, object],
        invoice_totals: InvoiceTotals | None,
        history: Sequence[SyncHistoryEntry],
    ) -> None:
        """I7 in one round trip: Xero details, the invoice's totals and sync history, atomically ($batch)."""
        write = SyncWrite(details_id, details_changes, invoice_totals, history)
        await self.execute_change_set(self._sync_result_changes(write))

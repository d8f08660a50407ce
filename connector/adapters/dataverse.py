"""Typed Dataverse Web API client for the connector: invoices, Xero details, history, connections.

Every method is one HTTP call unless its docstring says otherwise (paging, batches).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from azure.core.credentials import TokenCredential

from connector.adapters.dataverse_batch import (
    ChangeOperation,
    ChangeResult,
    decode_batch_response,
    encode_change_set,
)
from connector.adapters.dataverse_http import DataverseTransport, odata_string, parse_json, raise_for_status
from connector.adapters.dataverse_mapping import (
    ENTITY_SET,
    INVOICE_COLUMNS,
    LINE_COLUMNS,
    PRODUCT_COLUMNS,
    CustomerKind,
    connection_body,
    connection_columns,
    connection_from_json,
    customer_columns,
    customer_from_json,
    invoice_from_json,
    sync_history_body,
    xero_details_body,
    xero_details_columns,
    xero_details_from_json,
)
from connector.adapters.dataverse_models import InvoiceSnapshot
from connector.domain.dynamics import (
    ConnectionSettings,
    Customer,
    ExportStatus,
    InvoiceState,
    InvoiceTotals,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.errors import ConcurrencyConflictError, NotFoundError
from connector.provisioning.schema import EXPORT_STATUS_VALUES, ConnectorSchema, build_schema

REPRESENTATION = {"Prefer": "return=representation"}
REFERENCE_TABLES = ("tax_type", "account_code", "branding_theme")
_REFERENCE_NAMESPACE = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
MAX_CHANGE_SET = 1000


# Xero details ids derive from invoice ids, so concurrent creates converge on one record.
XERO_DETAILS_NAMESPACE = uuid.UUID("3b1f7c1e-9a52-4f0e-8a7d-2b5c6d4e8f10")


def reference_row_id(table: str, connection_id: UUID | None, key: str) -> UUID:
    """Deterministic primary key for a reference row, so re-imports upsert instead of duplicating."""
    return uuid.uuid5(_REFERENCE_NAMESPACE, f"{table}:{connection_id or '-'}:{key}")


class DataverseClient:
    """The connector's view of Dataverse. Errors: NotFoundError, ConcurrencyConflictError,
    AuthorisationError, RateLimitedError / RetryableError (after bounded retries), DataverseRequestError."""

    def __init__(
        self,
        base_url: str,
        credential: TokenCredential,
        *,
        prefix: str = "xc",
        client: httpx.AsyncClient | None = None,
        max_attempts: int = 4,
        max_retry_wait: float = 60.0,
        backoff: float = 0.5,
    ) -> None:
        self.transport = DataverseTransport(
            base_url,
            credential,
            client=client,
            max_attempts=max_attempts,
            max_retry_wait=max_retry_wait,
            backoff=backoff,
        )
        self.schema: ConnectorSchema = build_schema(prefix)

    @property
    def calls(self) -> Counter[str]:
        """HTTP requests sent so far, by method (retries count)."""
        return self.transport.calls

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> DataverseClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- generic --------------------------------------------------------------------------------
    async def get_json(
        self, path: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        return parse_json(await self.transport.send("GET", path, params=params, headers=headers))

    async def list_all(
        self, entity_set: str, params: Mapping[str, str], page_size: int = 500
    ) -> list[dict[str, Any]]:
        """Every row of a query, following @odata.nextLink (one call per page)."""
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        page = await self.get_json(entity_set, params, headers)
        rows: list[dict[str, Any]] = list(page["value"])
        while page.get("@odata.nextLink"):
            page = await self.get_json(page["@odata.nextLink"], None, headers)
            rows.extend(page["value"])
        return rows

    async def _patch(
        self,
        path: str,
        body: Mapping[str, Any],
        if_match: str | None = "*",
        representation: str | None = None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if if_match:
            headers["If-Match"] = if_match  # "*" also stops PATCH from creating (upsert) a missing row
        params = None
        if representation is not None:
            headers.update(REPRESENTATION)
            params = {"$select": representation}
        return await self.transport.send("PATCH", path, json_body=dict(body), headers=headers, params=params)

    # ---- invoices -------------------------------------------------------------------------------
    def _snapshot_params(self) -> dict[str, str]:
        s = self.schema
        details = s.lookup("details_invoice").relationship
        line_expand = (
            f"$select={','.join(LINE_COLUMNS)};$expand=productid($select={','.join(PRODUCT_COLUMNS)}),"
            f"{s.lookup('line_account_code').schema_name}($select={s.p('code')}),"
            f"{s.lookup('line_tax_type').schema_name}($select={s.p('taxtype')})"
        )
        expand = [
            f"invoice_details({line_expand})",
            f"customerid_account($select={','.join(customer_columns(s, 'account'))})",
            f"customerid_contact($select={','.join(customer_columns(s, 'contact'))})",
            "transactioncurrencyid($select=isocurrencycode)",
            f"{s.lookup('invoice_branding_theme').schema_name}($select={s.p('xeroid')})",
            f"{details}($select={','.join(xero_details_columns(s))})",
        ]
        select = [
            *INVOICE_COLUMNS,
            s.p("invoicetype"),
            s.p("lineamounttypes"),
            s.lookup("invoice_connection").value_name,
        ]
        return {"$select": ",".join(select), "$expand": ",".join(expand)}

    async def get_invoice_snapshot(self, invoice_id: UUID) -> InvoiceSnapshot:
        """Invoice + lines + products + customer + currency + Xero details in ONE request."""
        row = await self.get_json(f"invoices({invoice_id})", self._snapshot_params())
        details_rows = row.get(self.schema.lookup("details_invoice").relationship) or []
        details = xero_details_from_json(self.schema, details_rows[0]) if details_rows else None
        return InvoiceSnapshot(invoice=invoice_from_json(self.schema, row), xero_details=details)

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

    async def update_invoice_totals(
        self, invoice_id: UUID, *, total_tax: Decimal, total_amount: Decimal, due_date: date | None
    ) -> None:
        await self._patch(
            f"invoices({invoice_id})", self.invoice_totals_body(total_tax, total_amount, due_date)
        )

    @staticmethod
    def invoice_totals_body(
        total_tax: Decimal, total_amount: Decimal, due_date: date | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"totaltax": str(total_tax), "totalamount": str(total_amount)}
        if due_date is not None:
            body["duedate"] = due_date.isoformat()
        return body

    async def commit_sync_result(
        self,
        details_id: UUID,
        details_changes: Mapping[str, object],
        invoice_totals: InvoiceTotals | None,
        history: Sequence[SyncHistoryEntry],
    ) -> None:
        """I7 in one round trip: Xero details, the invoice's totals and sync history, atomically ($batch)."""
        operations = [self.xero_details_change(details_id, details_changes, None)]
        if invoice_totals is not None:
            body = self.invoice_totals_body(
                invoice_totals.total_tax, invoice_totals.total_amount, invoice_totals.due_date
            )
            operations.append(ChangeOperation("PATCH", f"invoices({invoice_totals.invoice_id})", body, "*"))
        operations.extend(self.sync_history_change(entry) for entry in history)
        await self.execute_change_set(operations)

    async def set_invoice_state(
        self, invoice_id: UUID, state: InvoiceState | int, status_reason: int
    ) -> None:
        await self._patch(
            f"invoices({invoice_id})", {"statecode": int(state), "statuscode": int(status_reason)}
        )

    async def set_date_delivered(self, invoice_id: UUID, day: date) -> None:
        await self._patch(f"invoices({invoice_id})", {"datedelivered": day.isoformat()})

    async def set_invoice_connection(self, invoice_id: UUID, connection_id: UUID) -> None:
        nav = self.schema.lookup("invoice_connection").schema_name
        entity_set = self.schema.table("connection").entity_set
        await self._patch(f"invoices({invoice_id})", {f"{nav}@odata.bind": f"/{entity_set}({connection_id})"})

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

    # ---- Xero details ---------------------------------------------------------------------------
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

    def _invoice_connection_change(self, invoice_id: UUID, connection_id: UUID) -> ChangeOperation:
        nav = self.schema.lookup("invoice_connection").schema_name
        entity_set = self.schema.table("connection").entity_set
        body = {f"{nav}@odata.bind": f"/{entity_set}({connection_id})"}
        return ChangeOperation("PATCH", f"invoices({invoice_id})", body, "*")

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
            operations.append(self._invoice_connection_change(invoice_id, connection_id))
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

    async def find_xero_details_by_xero_invoice_id(self, xero_invoice_id: str) -> XeroDetails | None:
        """B5: the record of an invoice the connector created; None for invoices it does not track."""
        return await self._xero_details_where(self.schema.p("xeroinvoiceid"), xero_invoice_id)

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

    # ---- sync history ---------------------------------------------------------------------------
    def sync_history_change(self, entry: SyncHistoryEntry) -> ChangeOperation:
        body = sync_history_body(self.schema, entry)
        return ChangeOperation("POST", self.schema.table("sync_history").entity_set, body)

    async def add_sync_history(self, entry: SyncHistoryEntry) -> None:
        """One record per attempt. If the invoice is gone (deleted), keep the record with the id as text."""
        operation = self.sync_history_change(entry)
        try:
            await self.transport.send("POST", operation.path, json_body=operation.body)
        except NotFoundError:
            body = {
                k: v
                for k, v in (operation.body or {}).items()
                if k != f"{self.schema.lookup('history_invoice').schema_name}@odata.bind"
            }
            await self.transport.send("POST", operation.path, json_body=body)

    # ---- customers ------------------------------------------------------------------------------
    async def get_customer(self, kind: CustomerKind, customer_id: UUID) -> Customer:
        params = {"$select": ",".join(customer_columns(self.schema, kind))}
        row = await self.get_json(f"{ENTITY_SET[kind]}({customer_id})", params)
        return customer_from_json(self.schema, kind, row)

    async def find_customers_by_xero_contact_id(self, xero_contact_id: str) -> list[Customer]:
        """B3: the accounts and contacts that remember this Xero ContactID."""
        found: list[Customer] = []
        kinds: tuple[CustomerKind, ...] = ("account", "contact")
        for kind in kinds:
            params = {
                "$select": ",".join(customer_columns(self.schema, kind)),
                "$filter": f"{self.schema.p('xerocontactid')} eq {odata_string(xero_contact_id)}",
            }
            rows = (await self.get_json(ENTITY_SET[kind], params))["value"]
            found.extend(customer_from_json(self.schema, kind, row) for row in rows)
        return found

    async def update_customer_xero(
        self,
        kind: CustomerKind,
        customer_id: UUID,
        *,
        xero_contact_id: str | None = None,
        amount_owed: Decimal | None = None,
        amount_overdue: Decimal | None = None,
    ) -> None:
        """B3 / I5: remember the Xero ContactID and balances. Only the given values are written."""
        body: dict[str, Any] = {}
        if xero_contact_id is not None:
            body[self.schema.p("xerocontactid")] = xero_contact_id
        if amount_owed is not None:
            body[self.schema.p("amountowed")] = str(amount_owed)
        if amount_overdue is not None:
            body[self.schema.p("amountoverdue")] = str(amount_overdue)
        if body:
            await self._patch(f"{ENTITY_SET[kind]}({customer_id})", body)

    # ---- connections (C1) -----------------------------------------------------------------------
    async def list_connections(self) -> list[ConnectionSettings]:
        table = self.schema.table("connection")
        params = {"$select": ",".join(connection_columns(self.schema)), "$orderby": table.primary_name}
        rows = await self.list_all(table.entity_set, params)
        return [connection_from_json(self.schema, row) for row in rows]

    async def get_connection_by_tenant_id(self, tenant_id: str) -> ConnectionSettings | None:
        """Which connection a Xero webhook event belongs to."""
        table = self.schema.table("connection")
        params = {
            "$select": ",".join(connection_columns(self.schema)),
            "$filter": f"{self.schema.p('tenantid')} eq {odata_string(tenant_id)}",
            "$top": "1",
        }
        rows = (await self.get_json(table.entity_set, params))["value"]
        return connection_from_json(self.schema, rows[0]) if rows else None

    async def get_connection(self, connection_id: UUID) -> ConnectionSettings:
        table = self.schema.table("connection")
        row = await self.get_json(
            f"{table.entity_set}({connection_id})", {"$select": ",".join(connection_columns(self.schema))}
        )
        return connection_from_json(self.schema, row)

    async def get_default_connection(self) -> ConnectionSettings | None:
        table = self.schema.table("connection")
        params = {
            "$select": ",".join(connection_columns(self.schema)),
            "$filter": f"{self.schema.p('isdefault')} eq true",
            "$top": "1",
        }
        rows = (await self.get_json(table.entity_set, params))["value"]
        return connection_from_json(self.schema, rows[0]) if rows else None

    async def set_default_connection(self, connection_id: UUID) -> None:
        """Exactly one default: one atomic change set sets this one and clears the others (two calls)."""
        table = self.schema.table("connection")
        column = self.schema.p("isdefault")
        others = await self.get_json(
            table.entity_set, {"$select": table.primary_id, "$filter": f"{column} eq true"}
        )
        operations = [ChangeOperation("PATCH", f"{table.entity_set}({connection_id})", {column: True}, "*")]
        operations += [
            ChangeOperation("PATCH", f"{table.entity_set}({row[table.primary_id]})", {column: False}, "*")
            for row in others["value"]
            if row[table.primary_id] != str(connection_id)
        ]
        await self.execute_change_set(operations)

    async def create_connection(
        self, name: str, tenant_id: str, *, make_default: bool | None = None, **settings: object
    ) -> ConnectionSettings:
        """Create a connection (C3 defaults unless given). The first connection becomes the default."""
        table = self.schema.table("connection")
        defaults = ConnectionSettings(id=uuid.uuid4(), name=name, tenant_id=tenant_id, **settings)
        values = defaults.model_dump(exclude={"id", "is_default"})
        body = connection_body(self.schema, values)
        body[self.schema.p("isdefault")] = False
        response = await self.transport.send(
            "POST",
            table.entity_set,
            json_body=body,
            headers=REPRESENTATION,
            params={"$select": table.primary_id},
        )
        created = UUID(str(parse_json(response)[table.primary_id]))
        if make_default is None:
            make_default = await self.get_default_connection() is None
        if make_default:
            await self.set_default_connection(created)
        return await self.get_connection(created)

    async def update_connection(self, connection_id: UUID, changes: Mapping[str, object]) -> None:
        table = self.schema.table("connection")
        await self._patch(f"{table.entity_set}({connection_id})", connection_body(self.schema, changes))

    # ---- reference data (C4) --------------------------------------------------------------------
    async def upsert_reference_rows(
        self, table: str, rows: Sequence[Mapping[str, object]], connection_id: UUID | None = None
    ) -> int:
        """Upsert tax types / chart of accounts / branding themes. Each row needs "key" (the Xero code or id)
        and "name"; other keys are column names without the prefix (e.g. "taxtype", "rate", "code").
        Sent as change sets of up to 1000 upserts: one call per 1000 rows."""
        if table not in REFERENCE_TABLES:
            raise ValueError(f"unknown reference table {table!r}; use one of {REFERENCE_TABLES}")
        spec = self.schema.table(table)
        known = {column.logical_name for column in spec.columns}
        connection_nav = self.schema.lookup(f"{table}_connection").schema_name
        operations = []
        for row in rows:
            body: dict[str, Any] = {spec.primary_name: row["name"]}
            for key, value in row.items():
                if key in ("key", "name"):
                    continue
                column = self.schema.p(key.lower())
                if column not in known:
                    raise ValueError(f"{spec.logical_name} has no column {column!r}")
                body[column] = str(value) if isinstance(value, Decimal) else value
            if connection_id is not None:
                body[f"{connection_nav}@odata.bind"] = (
                    f"/{self.schema.table('connection').entity_set}({connection_id})"
                )
            row_id = reference_row_id(table, connection_id, str(row["key"]))
            operations.append(ChangeOperation("PATCH", f"{spec.entity_set}({row_id})", body))
        for start in range(0, len(operations), MAX_CHANGE_SET):
            await self.execute_change_set(operations[start : start + MAX_CHANGE_SET])
        return len(operations)

    # ---- batches --------------------------------------------------------------------------------
    async def execute_change_set(self, operations: Sequence[ChangeOperation]) -> list[ChangeResult]:
        """Send writes atomically in ONE $batch call. A failing write rolls all back and raises its error."""
        if not operations:
            return []
        content_type, body = encode_change_set(self.transport.base_url, operations)
        response = await self.transport.send(
            "POST", "$batch", content=body, headers={"Content-Type": content_type}
        )
        results: list[ChangeResult] = []
        for part in decode_batch_response(response):
            if part.status >= 400:
                raise_for_status(httpx.Response(part.status, headers=part.headers, content=part.body))
            data = None
            if part.body:
                try:
                    data = parse_json(httpx.Response(part.status, content=part.body))
                except ValueError:
                    data = None
            results.append(
                ChangeResult(part.status, part.headers.get("odata-entityid"), part.headers.get("etag"), data)
            )
        return results


def client_from_settings(settings: Any) -> DataverseClient:
    """A client for the configured org (settings: connector.settings.Settings)."""
    from connector.adapters.dataverse_auth import credential_from_settings

    return DataverseClient(
        settings.dataverse_url, credential_from_settings(settings), prefix=settings.dataverse_publisher_prefix
    )

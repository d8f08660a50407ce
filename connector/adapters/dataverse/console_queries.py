"""The admin console's reads from Dataverse: a connection's recent sync history, its failed invoices
with Xero's words, and the reference data its settings are checked against."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.base import DataverseBase
from connector.adapters.dataverse.schema import EXPORT_STATUS_VALUES, SYNC_ACTION_VALUES, SYNC_OUTCOME_VALUES
from connector.domain.connection_rules import FailedInvoice, HistoryLine, ReferenceChoices

ACTIONS = {value: name for name, value in SYNC_ACTION_VALUES.items()}
OUTCOMES = {value: name for name, value in SYNC_OUTCOME_VALUES.items()}
FAILED_LIMIT = 50


def _when(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def _odata_time(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%dT%H:%M:%SZ") if at.tzinfo is None else at.isoformat()


class ConsoleQueries:
    """Reads over an existing client's transport (the same one the handlers use)."""

    def __init__(self, client: DataverseBase) -> None:
        self._client = client
        self._schema = client.schema

    def _invoice_name(self, row: dict[str, Any], lookup: str) -> str:
        nav = self._schema.lookup(lookup).schema_name
        invoice = row.get(nav)
        return str(invoice.get("name") or "") if isinstance(invoice, dict) else ""

    def _history_line(self, row: dict[str, Any]) -> HistoryLine:
        p = self._schema.p
        invoice = row.get(self._schema.lookup("history_invoice").value_name)
        return HistoryLine(
            invoice_id=UUID(str(invoice)) if invoice else None,
            invoice_name=self._invoice_name(row, "history_invoice"),
            action=ACTIONS.get(row.get(p("action")), ""),  # type: ignore[arg-type]
            outcome=OUTCOMES.get(row.get(p("outcome")), ""),  # type: ignore[arg-type]
            detail=str(row.get(p("detail")) or ""),
            at=_when(row.get(p("occurredon"))),
        )

    def _history_params(self, where: str, top: int) -> dict[str, str]:
        p = self._schema.p
        invoice_nav = self._schema.lookup("history_invoice").schema_name
        return {
            "$select": ",".join(
                (
                    p("action"),
                    p("outcome"),
                    p("detail"),
                    p("occurredon"),
                    self._schema.lookup("history_invoice").value_name,
                )
            ),
            "$filter": where,
            "$orderby": f"{p('occurredon')} desc",
            "$expand": f"{invoice_nav}($select=name)",
            "$top": str(top),
        }

    async def recent_history(self, connection_id: UUID, since: datetime, top: int = 500) -> list[HistoryLine]:
        """Sync history of this connection since `since`, newest first."""
        table = self._schema.table("sync_history")
        column = self._schema.lookup("history_connection").value_name
        where = f"{column} eq {connection_id} and {self._schema.p('occurredon')} ge {_odata_time(since)}"
        page = await self._client.get_json(table.entity_set, self._history_params(where, top))
        return [self._history_line(row) for row in page["value"]]

    async def failed_invoices(self, connection_id: UUID) -> list[FailedInvoice]:
        """Invoices of this connection whose export status is Failed, each with its last failure."""
        p = self._schema.p
        table = self._schema.table("xero_details")
        invoice = self._schema.lookup("details_invoice")
        params = {
            "$select": f"{table.primary_id},{invoice.value_name}",
            "$filter": f"{self._schema.lookup('details_connection').value_name} eq {connection_id} and "
            f"{p('exportstatus')} eq {EXPORT_STATUS_VALUES['Failed']}",
            "$expand": f"{invoice.schema_name}($select=name)",
            "$top": str(FAILED_LIMIT),
        }
        rows = (await self._client.get_json(table.entity_set, params))["value"]
        reasons = await self._last_failures(
            [str(row[invoice.value_name]) for row in rows if row.get(invoice.value_name)]
        )
        return [
            FailedInvoice(
                details_id=UUID(str(row[table.primary_id])),
                invoice_id=UUID(str(row[invoice.value_name])) if row.get(invoice.value_name) else None,
                invoice_name=self._invoice_name(row, "details_invoice"),
                reason=reasons.get(str(row.get(invoice.value_name)), "Export status is Failed."),
            )
            for row in rows
        ]

    async def _last_failures(self, invoice_ids: list[str]) -> dict[str, str]:
        if not invoice_ids:
            return {}
        column = self._schema.lookup("history_invoice").value_name
        either = " or ".join(f"{column} eq {invoice_id}" for invoice_id in invoice_ids)
        where = f"({either}) and {self._schema.p('outcome')} eq {SYNC_OUTCOME_VALUES['Failed']}"
        table = self._schema.table("sync_history")
        page = await self._client.get_json(table.entity_set, self._history_params(where, 500))
        reasons: dict[str, str] = {}
        for row in page["value"]:  # newest first: keep the first seen per invoice
            reasons.setdefault(str(row.get(column)), str(row.get(self._schema.p("detail")) or ""))
        return reasons

    async def reference_choices(self, connection_id: UUID) -> ReferenceChoices:
        """Account codes and branding themes pulled from this organisation (empty until pulled)."""
        p = self._schema.p
        accounts, themes = self._schema.table("account_code"), self._schema.table("branding_theme")
        accounts_link = self._schema.lookup("account_code_connection").value_name
        themes_link = self._schema.lookup("branding_theme_connection").value_name
        account_rows = await self._client.list_all(
            accounts.entity_set, {"$select": p("code"), "$filter": f"{accounts_link} eq {connection_id}"}
        )
        theme_rows = await self._client.list_all(
            themes.entity_set,
            {
                "$select": f"{p('xeroid')},{themes.primary_name}",
                "$filter": f"{themes_link} eq {connection_id}",
            },
        )
        return ReferenceChoices(
            account_codes=frozenset(str(row[p("code")]) for row in account_rows if row.get(p("code"))),
            branding_themes={
                str(row[p("xeroid")]): str(row.get(themes.primary_name) or row[p("xeroid")])
                for row in theme_rows
                if row.get(p("xeroid"))
            },
        )

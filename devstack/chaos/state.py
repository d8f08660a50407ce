"""Snapshots of the emulators' own state: what Xero and Dynamics hold, never what the connector says."""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from devstack.local_platform import LocalPlatform

GONE = ("DELETED", "VOIDED")
_DYNAMICS_ID = re.compile(r"[?&]id=([0-9a-fA-F-]{36})")
EXPORT_STATUS = {100000000: "No", 100000001: "Yes", 100000002: "Failed", 100000003: "Ready to update"}
PAID_STATE = 2


def dynamics_id_of(url: object) -> str | None:
    """The Dynamics invoice a Xero document's Url points to (the connector's record link)."""
    found = _DYNAMICS_ID.search(str(url or ""))
    return found.group(1).lower() if found else None


@dataclass
class XeroView:
    invoices: dict[str, dict[str, Any]]  # InvoiceID → invoice
    credit_notes: list[dict[str, Any]]
    live_by_dynamics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def take(cls, platform: LocalPlatform, tenant_id: str) -> XeroView:
        assert platform.xero is not None
        state = platform.xero.state
        with state.lock:
            tenant = state.tenants[tenant_id]
            invoices = copy.deepcopy(dict(tenant.invoices))
            notes = copy.deepcopy(list(tenant.credit_notes.values()))
        view = cls({str(i["InvoiceID"]).lower(): i for i in invoices.values()}, notes)
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for invoice in view.invoices.values():
            dynamics_id = dynamics_id_of(invoice.get("Url"))
            if dynamics_id is not None and invoice.get("Status") not in GONE:
                grouped[dynamics_id].append(invoice)
        view.live_by_dynamics = dict(grouped)
        return view

    def live(self, dynamics_id: str) -> list[dict[str, Any]]:
        return self.live_by_dynamics.get(dynamics_id.lower(), [])

    def credit_notes_by_dynamics(self) -> tuple[dict[str, int], int]:
        """Live credit notes per Dynamics invoice (through what they credit), and those tied to none."""
        by_number = {str(i.get("InvoiceNumber")): i for i in self.invoices.values() if i.get("InvoiceNumber")}
        counts: dict[str, int] = defaultdict(int)
        orphans = 0
        for note in self.credit_notes:
            if note.get("Status") in GONE:
                continue
            credited = [
                self.invoices.get(str(a["Invoice"]["InvoiceID"]).lower())
                for a in note.get("Allocations", [])
                if not a.get("IsDeleted")
            ]
            invoice = next((i for i in credited if i is not None), None)
            reference = str(note.get("Reference") or "")
            if invoice is None and reference.startswith("Cancellation of "):
                invoice = by_number.get(reference.removeprefix("Cancellation of "))
            dynamics_id = dynamics_id_of(invoice.get("Url")) if invoice is not None else None
            if dynamics_id is None:
                orphans += 1
            else:
                counts[dynamics_id] += 1
        return dict(counts), orphans


@dataclass
class DynamicsView:
    state_codes: dict[str, int]  # invoice id → statecode
    export_status: dict[str, str]  # invoice id → export status (Xero details)
    xero_invoice_id: dict[str, str]  # invoice id → the Xero invoice its Xero details name

    @classmethod
    def take(cls, platform: LocalPlatform, prefix: str) -> DynamicsView:
        assert platform.dataverse is not None
        state = platform.dataverse.state
        with state.lock:
            invoices = {
                str(k).lower(): int(v.get("statecode") or 0) for k, v in state.rows["invoice"].items()
            }
            details = [dict(row) for row in state.rows.get(f"{prefix}_xerodetail", {}).values()]
        export, xero_ids = {}, {}
        for row in details:
            invoice_id = str(row.get(f"{prefix}_dynamicsinvoiceid") or "").lower()
            if not invoice_id:
                continue
            export[invoice_id] = EXPORT_STATUS.get(int(row.get(f"{prefix}_exportstatus") or 0), "—")
            if row.get(f"{prefix}_xeroinvoiceid"):
                xero_ids[invoice_id] = str(row[f"{prefix}_xeroinvoiceid"]).lower()
        return cls(invoices, export, xero_ids)


def target_invoice(xero: XeroView, dynamics: DynamicsView, dynamics_id: str) -> dict[str, Any] | None:
    """The Xero invoice a person would act on: the one Dynamics names, else the first one made."""
    named = xero.invoices.get(dynamics.xero_invoice_id.get(dynamics_id.lower(), ""))
    if named is not None and named.get("Status") not in GONE:
        return named
    live = xero.live(dynamics_id)
    return live[0] if live else None

"""After the sync has settled: accountants approve and pay in Xero, Sales users cancel in Dynamics."""

from __future__ import annotations

import functools
import logging
from typing import Any

import httpx

from devstack.chaos.context import Run
from devstack.chaos.kills import kill_mid_cancel
from devstack.chaos.state import DynamicsView, XeroView, target_invoice

logger = logging.getLogger("devstack.chaos")


def _refused(action: str, invoice: dict[str, Any], exc: httpx.HTTPStatusError) -> str:
    return f"{action} {invoice.get('InvoiceNumber')}: {exc.response.status_code} {exc.response.text[:120]}"


def _approve(run: Run, invoice: dict[str, Any]) -> bool:
    assert run.platform.xero is not None
    if invoice.get("Status") not in ("DRAFT", "SUBMITTED"):
        return True
    try:
        run.platform.xero.approve(run.tenant_id, str(invoice["InvoiceID"]))
    except httpx.HTTPStatusError as exc:
        run.note(_refused("approve", invoice, exc))
        return False
    return True


def pay_and_cancel(run: Run) -> None:
    """Some invoices approved in Xero, then cancelled in Dynamics (the first one's credit note
    under a kill); then half the invoices approved and paid in full in Xero."""
    assert run.platform.xero is not None and run.platform.dataverse is not None
    xero = XeroView.take(run.platform, run.tenant_id)
    dynamics = DynamicsView.take(run.platform, run.prefix)
    found = {plan.id: target_invoice(xero, dynamics, plan.id) for plan in run.workload.created}
    targets = {dynamics_id: invoice for dynamics_id, invoice in found.items() if invoice is not None}
    in_xero = sorted(targets)
    to_pay = run.rng.sample(in_xero, k=min(len(in_xero), round(run.config.invoices * run.config.paid_share)))
    rest = [dynamics_id for dynamics_id in in_xero if dynamics_id not in set(to_pay)]
    to_cancel = [
        d for d in run.rng.sample(rest, k=min(len(rest), run.config.cancels)) if _approve(run, targets[d])
    ]
    dataverse = run.platform.dataverse

    def cancel(dynamics_id: str) -> None:
        dataverse.ui_cancel(dynamics_id)
        run.cancelled[dynamics_id] = str(targets[dynamics_id]["InvoiceID"]).lower()

    # Cancels first: the back-sync of the payments would otherwise hold the credit note back for minutes.
    for index, dynamics_id in enumerate(to_cancel):
        if index == 0 and "cancel" in run.config.kills:
            kill_mid_cancel(run, functools.partial(cancel, dynamics_id))
        else:
            cancel(dynamics_id)
    for dynamics_id in to_pay:
        invoice = targets[dynamics_id]
        if not _approve(run, invoice):
            continue
        try:
            run.platform.xero.pay(run.tenant_id, str(invoice["InvoiceID"]))
        except httpx.HTTPStatusError as exc:
            run.note(_refused("pay", invoice, exc))
            continue
        run.paid[dynamics_id] = str(invoice["InvoiceID"]).lower()

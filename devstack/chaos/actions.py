"""After the sync has settled: accountants approve and pay in Xero, Sales users cancel in Dynamics."""

from __future__ import annotations

import logging

import httpx

from devstack.chaos.context import Run
from devstack.chaos.kills import kill_mid_cancel
from devstack.chaos.state import DynamicsView, XeroView, target_invoice

logger = logging.getLogger("devstack.chaos")


def _refused(action: str, invoice: dict[str, object], exc: httpx.HTTPStatusError) -> str:
    return f"{action} {invoice.get('InvoiceNumber')}: {exc.response.status_code} {exc.response.text[:120]}"


def _approve(run: Run, invoice: dict[str, object]) -> bool:
    assert run.platform.xero is not None
    if invoice.get("Status") not in ("DRAFT", "SUBMITTED"):
        return True
    try:
        run.platform.xero.approve(run.tenant_id, str(invoice["InvoiceID"]))
    except httpx.HTTPStatusError as exc:
        run.note(
            f"approve {invoice.get('InvoiceNumber')}: {exc.response.status_code} {exc.response.text[:120]}"
        )
        return False
    return True


def pay_and_cancel(run: Run) -> None:
    """Half the invoices approved and paid in full in Xero; some others approved, then cancelled."""
    assert run.platform.xero is not None and run.platform.dataverse is not None
    xero = XeroView.take(run.platform, run.tenant_id)
    dynamics = DynamicsView.take(run.platform, run.prefix)
    targets = {plan.id: target_invoice(xero, dynamics, plan.id) for plan in run.workload.created}
    in_xero = sorted(dynamics_id for dynamics_id, invoice in targets.items() if invoice is not None)
    to_pay = run.rng.sample(in_xero, k=min(len(in_xero), round(run.config.invoices * run.config.paid_share)))
    rest = [dynamics_id for dynamics_id in in_xero if dynamics_id not in set(to_pay)]
    to_cancel = run.rng.sample(rest, k=min(len(rest), run.config.cancels))
    for dynamics_id in to_pay:
        invoice = targets[dynamics_id]
        assert invoice is not None
        if not _approve(run, invoice):
            continue
        try:
            run.platform.xero.pay(run.tenant_id, str(invoice["InvoiceID"]))
        except httpx.HTTPStatusError as exc:
            run.note(
                f"pay {invoice.get('InvoiceNumber')}: {exc.response.status_code} {exc.response.text[:120]}"
            )
            continue
        run.paid[dynamics_id] = str(invoice["InvoiceID"]).lower()
    approved = []
    for dynamics_id in to_cancel:
        invoice = targets[dynamics_id]
        assert invoice is not None
        if _approve(run, invoice):
            approved.append(dynamics_id)
    if not approved:
        return
    dataverse = run.platform.dataverse

    def cancel(dynamics_id: str) -> None:
        invoice = targets[dynamics_id]
        assert invoice is not None
        dataverse.ui_cancel(dynamics_id)
        run.cancelled[dynamics_id] = str(invoice["InvoiceID"]).lower()

    first, others = approved[0], approved[1:]
    if "cancel" in run.config.kills:
        kill_mid_cancel(run, lambda: cancel(first))
    else:
        cancel(first)
    for dynamics_id in others:
        cancel(dynamics_id)

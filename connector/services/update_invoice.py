"""update_invoice (I11): push a Dynamics change to an invoice already in Xero."""

from __future__ import annotations

import asyncio

from connector.domain.dynamics import (
    ExportStatus,
    SyncAction,
)
from connector.domain.sync import history
from connector.domain.sync.eligibility import decide_update
from connector.domain.sync.invoice import paid_invoice_update
from connector.errors import (
    AuthorisationError,
    XeroValidationError,
)
from connector.services.claims import claim, release
from connector.services.connection_health import connection_lost
from connector.services.prepare import prepare
from connector.services.sync_attempt import SyncAttempt, SyncResult
from connector.services.write_back import fail
from connector.telemetry import get_logger

logger = get_logger("services.update_invoice")


async def update_invoice(attempt: SyncAttempt) -> SyncResult:
    invoice, details, connection = attempt.invoice, attempt.details, attempt.connection
    dataverse = attempt.deps.dataverse
    decision = decide_update(invoice, details, connection)
    if not decision.allowed:
        await dataverse.add_sync_history(history.update_refused(attempt.ctx, decision.reason or ""))
        await dataverse.update_xero_details(details.id, {"export_status": ExportStatus.YES}, details.etag)
        return SyncResult.FAILED
    await claim(attempt)
    try:
        draft = await prepare(attempt)
        if draft is None:
            return SyncResult.FAILED
        if decision.scope == "paid_fields_only":
            draft = paid_invoice_update(draft)
        assert details.xero_invoice_id is not None
        updated = await asyncio.to_thread(
            attempt.xero.update_invoice, details.xero_invoice_id, draft, attempt.key("update")
        )
    except XeroValidationError as exc:
        await fail(attempt, history.validation_failed(attempt.ctx, exc.messages, action=SyncAction.UPDATE))
        return SyncResult.FAILED
    except AuthorisationError:
        await release(attempt)
        await connection_lost(dataverse, connection, ctx=attempt.ctx)
        return SyncResult.WAITING_FOR_RECONNECT
    except BaseException:
        await release(attempt)
        raise
    await dataverse.update_xero_details(
        details.id,
        {
            "xero_status": updated.status,
            "xero_invoice_number": updated.invoice_number,
            "export_status": ExportStatus.YES,
            "amount_due": updated.amount_due,
            "total": updated.total,
            "total_tax": updated.total_tax,
            "due_date": updated.due_date,
            "claimed_until": None,
            "claimed_by": None,
            "last_xero_write": attempt.now,
        },
        None,
    )
    await dataverse.update_invoice_totals(
        invoice.id, total_tax=updated.total_tax, total_amount=updated.total, due_date=updated.due_date
    )
    await dataverse.add_sync_history(
        history.updated(attempt.ctx, invoice_type=updated.type, number=updated.invoice_number)
    )
    return SyncResult.UPDATED

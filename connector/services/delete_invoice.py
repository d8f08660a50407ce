"""delete_invoice (X2): a Dynamics invoice deleted; its Xero invoice deleted or voided where Xero allows."""

from __future__ import annotations

import asyncio
from uuid import UUID

from connector.domain.cancel.rules import (
    DeleteAction,
    decide_delete,
)
from connector.domain.dynamics import (
    ConnectionSettings,
    SyncAction,
    XeroDetails,
)
from connector.domain.messages import InvoiceCancelMessage
from connector.domain.sync import history
from connector.domain.xero_records import XeroInvoice
from connector.errors import AuthorisationError, NotFoundError, XeroValidationError
from connector.ports import (
    XeroStatusWrite,
)
from connector.services.cancellation import (
    CancelDependencies,
    CancelResult,
    cancel_key,
    connection_of,
    log_needs_attention,
)
from connector.telemetry import get_logger, log_step

logger = get_logger("services.delete_invoice")


async def delete_invoice(message: InvoiceCancelMessage, deps: CancelDependencies) -> CancelResult:
    """The Dynamics record is gone: work from Xero details (kept with a text copy of the invoice id) and
    the pre image; the outcome goes to logs and metrics, not sync history."""
    dataverse = deps.dataverse
    details = await dataverse.get_xero_details(message.invoice_id)
    pre_number = str((message.pre_image or {}).get("invoicenumber") or "") or None
    if details is None or not details.xero_invoice_id:
        log_step(logger, "delete.not_in_xero", invoice_id=message.invoice_id, invoice_number=pre_number)
        return CancelResult.NOT_IN_XERO
    connection = await connection_of(dataverse, details.connection_id or _pre_image_connection(message))
    if connection is None:
        log_needs_attention(message.invoice_id, details, "the invoice's connection no longer exists")
        return CancelResult.NEEDS_ATTENTION
    xero = deps.xero_for(connection)
    ctx = history.HistoryContext(
        invoice_id=message.invoice_id,
        at=deps.clock(),
        correlation_id=message.correlation_id,
        connection_id=connection.id,
    )
    try:
        xero_invoice = await asyncio.to_thread(xero.get_invoice, details.xero_invoice_id)
    except NotFoundError:
        log_step(
            logger,
            "delete.already_done",
            invoice_id=message.invoice_id,
            xero_number=details.xero_invoice_number,
        )
        return CancelResult.ALREADY_DONE
    except AuthorisationError:
        log_needs_attention(message.invoice_id, details, f"reconnect connection {connection.name} to Xero")
        return CancelResult.NEEDS_ATTENTION
    number = xero_invoice.invoice_number or details.xero_invoice_number
    decision = decide_delete(xero_invoice)
    if decision.action == DeleteAction.NOTHING_ALREADY_DONE:
        log_step(logger, "delete.already_done", invoice_id=message.invoice_id, xero_number=number)
        return CancelResult.ALREADY_DONE
    if decision.action == DeleteAction.NEEDS_ATTENTION:
        entry = history.needs_attention(
            ctx,
            invoice_type=xero_invoice.type,
            number=number,
            status=xero_invoice.status,
            amount_paid=xero_invoice.amount_paid,
        )
        log_needs_attention(message.invoice_id, details, entry.detail, number)
        return CancelResult.NEEDS_ATTENTION

    status: XeroStatusWrite = "DELETED" if decision.action == DeleteAction.DELETE else "VOIDED"
    return await _set_status(message, deps, details, connection, xero_invoice, status, ctx)


async def _set_status(
    message: InvoiceCancelMessage,
    deps: CancelDependencies,
    details: XeroDetails,
    connection: ConnectionSettings,
    xero_invoice: XeroInvoice,
    status: XeroStatusWrite,
    ctx: history.HistoryContext,
) -> CancelResult:
    """DELETED or VOIDED in Xero, then the new status on the Xero details the invoice left behind."""
    xero, dataverse = deps.xero_for(connection), deps.dataverse
    number = xero_invoice.invoice_number or details.xero_invoice_number
    key = cancel_key(connection, message.invoice_id, f"delete-{status.lower()}", xero_invoice.invoice_id)
    try:
        changed = await asyncio.to_thread(xero.set_invoice_status, xero_invoice.invoice_id, status, key)
    except (XeroValidationError, AuthorisationError) as exc:
        log_needs_attention(
            message.invoice_id, details, f"Xero refused to {status.lower()} it: {exc}", number
        )
        return CancelResult.NEEDS_ATTENTION
    try:
        await dataverse.update_xero_details(details.id, {"xero_status": changed.status}, None)
    except NotFoundError:
        pass  # the Xero details went with the invoice: nothing left to keep current
    make = history.deleted_in_xero if status == "DELETED" else history.voided_in_xero
    entry = make(ctx, action=SyncAction.DELETE, invoice_type=xero_invoice.type, number=number)
    log_step(
        logger,
        f"delete.{status.lower()}",
        invoice_id=message.invoice_id,
        connection=connection.name,
        xero_invoice_id=xero_invoice.invoice_id,
        xero_number=number,
        detail=entry.detail,
        correlation_id=message.correlation_id,
    )
    return CancelResult.DELETED if status == "DELETED" else CancelResult.VOIDED


def _pre_image_connection(message: InvoiceCancelMessage) -> UUID | None:
    """The connection lookup from the Delete step's pre image (`_<prefix>_connection_value`)."""
    for name, value in (message.pre_image or {}).items():
        if name.endswith("connection_value") or name.endswith("connectionid"):
            try:
                return UUID(str(value))
            except ValueError:
                return None
    return None

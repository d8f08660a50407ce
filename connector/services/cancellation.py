"""What cancelling and deleting an invoice share: results, dependencies, keys, the needs-attention log."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    XeroDetails,
)
from connector.domain.sync.invoice import idempotency_key
from connector.errors import NotFoundError
from connector.ports import (
    Clock,
    DataversePort,
    XeroForConnection,
)
from connector.services.item_cache import ItemCache
from connector.telemetry import get_logger, log_step

logger = get_logger("services.cancellation")

NEEDS_ATTENTION_METRIC = "invoice_delete_needs_attention"


class CancelResult(StrEnum):
    DELETED = "deleted"
    VOIDED = "voided"
    CREDITED_AND_ALLOCATED = "credited_and_allocated"
    CREDITED_UNALLOCATED = "credited_unallocated"
    FULLY_PAID = "fully_paid"  # X1 PAID: nothing in Xero
    SETTING_OFF = "setting_off"
    ALREADY_DONE = "already_done"
    NOT_IN_XERO = "not_in_xero"
    NOT_CANCELLED = "not_cancelled"  # the invoice is active again: the message is stale
    NEEDS_ATTENTION = "needs_attention"  # X2: a person must act in Xero (logged as an error + metric)
    FAILED = "failed"  # Xero refused; sync history says why


@dataclass
class CancelDependencies:
    dataverse: DataversePort
    xero_for: XeroForConnection
    clock: Clock
    items: ItemCache = field(default_factory=ItemCache)  # shared with the sync path: no second lookup
    org_url: str = ""  # the Dynamics org, for the Url a create in flight was sent with


async def connection_of(dataverse: DataversePort, connection_id: UUID | None) -> ConnectionSettings | None:
    if connection_id is None:
        return None
    try:
        return await dataverse.get_connection(connection_id)
    except NotFoundError:
        return None


def cancel_key(connection: ConnectionSettings, invoice_id: UUID, operation: str, revision: str) -> str:
    return idempotency_key(connection.id, invoice_id, operation, revision)


def credit_note_key(connection: ConnectionSettings, invoice_id: UUID, xero_invoice_id: str) -> str:
    """The Idempotency-Key of the cancel's credit note, and its pending-create record."""
    return cancel_key(connection, invoice_id, "credit-note", xero_invoice_id)


def log_needs_attention(
    invoice_id: UUID, details: XeroDetails, reason: str, number: str | None = None, *, step: str = "delete"
) -> None:
    """X2: a person must act in Xero. An error log with the Xero number, counted as a metric."""
    log_step(
        logger,
        f"{step}.needs_attention",
        logging.ERROR,
        invoice_id=invoice_id,
        xero_invoice_id=details.xero_invoice_id,
        xero_number=number or details.xero_invoice_number,
        reason=reason,
        metric=NEEDS_ATTENTION_METRIC,
        metric_value=1,
    )

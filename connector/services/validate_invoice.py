"""I16 in the sync path: check an invoice against the synced reference data before any Xero call, and
turn the lookups it carries (tracking options, the connection's defaults) into the values Xero takes."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable
from uuid import UUID

from connector.domain.dynamics import ExportStatus, SyncAction, SyncHistoryEntry, SyncOutcome
from connector.domain.reference_data import ReferenceData
from connector.domain.sync.history import HistoryContext
from connector.domain.sync.validation import check_invoice
from connector.services.sync_attempt import SyncAttempt
from connector.services.write_back import fail
from connector.telemetry import get_logger, log_step

logger = get_logger("services.validate_invoice")


@runtime_checkable
class ReferenceDataReader(Protocol):
    """A Dataverse client that can read the synced reference data (the real one can; fakes may not)."""

    async def get_reference_data(self, connection_id: UUID, *, fresh: bool = False) -> ReferenceData:
        """Kept a short while by the adapter; `fresh` reads the tables again."""


def not_sent(ctx: HistoryContext, problems: tuple[str, ...], action: SyncAction) -> SyncHistoryEntry:
    listed = "; ".join(problems)
    detail = f'Not sent to Xero: {listed}. Fix the invoice, then set export status back to "No".'
    return SyncHistoryEntry(
        invoice_id=ctx.invoice_id,
        action=action,
        detail=detail,
        outcome=SyncOutcome.FAILED,
        at=ctx.at,
        correlation_id=ctx.correlation_id,
        connection_id=ctx.connection_id,
    )


async def check_before_sending(attempt: SyncAttempt, *, purchase: bool | None = None) -> bool:
    """False when the invoice failed (export status Failed, sync history naming each line and value).

    On success the attempt's invoice and connection carry resolved lookups. A failed check reads the
    reference data again before failing: a copy kept from minutes ago may lack a value just synced.
    """
    if purchase is None and attempt.invoice.invoice_type == "credit_note":
        # A credit note that reached an invoice's path (a sweep batch): never send it as an invoice. Its
        # own sync (services.sync_credit_note) sends it; the claim, if any, expires by itself.
        log_step(logger, "sync.credit_note_skipped", logging.WARNING, invoice_id=attempt.invoice.id)
        return False
    reader = attempt.deps.dataverse
    if not isinstance(reader, ReferenceDataReader):
        return True  # no reference data to check against: behave as before
    checked = check_invoice(
        attempt.invoice,
        attempt.connection,
        await reader.get_reference_data(attempt.connection.id),
        purchase=purchase,
    )
    if checked.problems:
        fresh = await reader.get_reference_data(attempt.connection.id, fresh=True)
        checked = check_invoice(attempt.invoice, attempt.connection, fresh, purchase=purchase)
    if checked.problems:
        updating = attempt.details.export_status == ExportStatus.READY_TO_UPDATE
        action = SyncAction.UPDATE if updating else SyncAction.CREATE
        await fail(attempt, not_sent(attempt.ctx, checked.problems, action))
        log_step(logger, "sync.invalid", invoice_id=attempt.invoice.id, problems=len(checked.problems))
        return False
    attempt.invoice, attempt.connection = checked.invoice, checked.connection
    return True

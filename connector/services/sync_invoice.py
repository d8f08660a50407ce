"""sync_invoice (I1–I13): one Dynamics invoice to Xero, exactly once, with the result written back."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from connector.domain.dynamics import (
    ConnectionSettings,
    ExportStatus,
    Invoice,
    InvoiceState,
    InvoiceTotals,
    SyncAction,
    SyncHistoryEntry,
    XeroDetails,
)
from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage
from connector.domain.sync import contacts, history
from connector.domain.sync.date_delivered import date_delivered_on_create
from connector.domain.sync.eligibility import check_eligibility, decide_update, local_today
from connector.domain.sync.invoice import build_invoice_draft, idempotency_key, paid_invoice_update
from connector.domain.sync.items import items_to_create
from connector.domain.sync.line_kinds import item_code
from connector.domain.sync.lines import rounding_difference
from connector.domain.xero_records import XeroInvoice, XeroInvoiceDraft, XeroItem
from connector.errors import (
    AuthorisationError,
    ClaimedElsewhereError,
    ConcurrencyConflictError,
    NotFoundError,
    RateLimitedError,
    XeroValidationError,
)
from connector.ports import Clock, DataverseSyncPort, QueueSender, XeroForConnection, XeroSyncPort
from connector.services.item_cache import ItemCache
from connector.telemetry import get_logger, log_step

logger = get_logger("services.sync_invoice")

# Long enough for the slowest sync (a handful of Xero calls with timeouts); short enough that a crashed
# worker's invoice is picked up again within minutes.
CLAIM_SECONDS = 120
CLAIM_RECHECK_SECONDS = 5
# Xero recommends batches of up to 50 elements.
BATCH_SIZE = 50


class SyncResult(StrEnum):
    CREATED = "created"
    ADOPTED = "adopted"  # found in Xero from an earlier attempt that crashed before writing back
    UPDATED = "updated"
    FAILED = "failed"
    NOT_ELIGIBLE = "not_eligible"
    GONE = "gone"
    HANDED_TO_CANCEL = "handed_to_cancel"


@dataclass
class SyncDependencies:
    dataverse: DataverseSyncPort
    xero_for: XeroForConnection
    queues: QueueSender
    cancel_queue: str
    org_url: str
    clock: Clock
    items: ItemCache = field(default_factory=ItemCache)
    # Dynamics customer → Xero ContactID found or created by this process (also remembered on the record;
    # this spares the invoices that were read before that write a second lookup).
    contact_ids: dict[UUID, str] = field(default_factory=dict)


@dataclass
class SyncAttempt:
    """One sync attempt of one invoice: what every step needs."""

    message: InvoiceSyncMessage
    invoice: Invoice
    details: XeroDetails
    connection: ConnectionSettings
    now: datetime
    deps: SyncDependencies
    ctx: history.HistoryContext
    etag: str | None = None
    claimed_at_setup: bool = False  # the Xero details record was created already claimed by this attempt

    @property
    def xero(self) -> XeroSyncPort:
        return self.deps.xero_for(self.connection)

    def key(self, operation: str) -> str:
        revision = self.invoice.version_number or (self.invoice.modified_on or self.now).isoformat()
        return idempotency_key(self.connection.id, self.invoice.id, operation, revision)


async def sync_invoice(message: InvoiceSyncMessage, deps: SyncDependencies) -> SyncResult:
    """Re-read the invoice, check it, claim it, send it, write back. Safe to run any number of times."""
    loaded = await load_attempt(message, deps)
    if isinstance(loaded, SyncResult):
        return loaded
    if loaded.details.export_status == ExportStatus.READY_TO_UPDATE:
        return await _update(loaded)
    return await _create(loaded)


async def load_attempt(message: InvoiceSyncMessage, deps: SyncDependencies) -> SyncAttempt | SyncResult:
    """Everything before the first Xero call: re-read, I1 set-up, I13, eligibility."""
    dataverse = deps.dataverse
    try:
        snapshot = await dataverse.get_invoice_snapshot(message.invoice_id)
    except NotFoundError:
        log_step(logger, "sync.gone", invoice_id=message.invoice_id, correlation_id=message.correlation_id)
        return SyncResult.GONE
    invoice, details = snapshot.invoice, snapshot.xero_details
    now = deps.clock()

    if invoice.state == InvoiceState.CANCELED:
        return await _hand_to_cancel(message, details, deps)

    connection = await _connection_for(invoice, details, deps)
    if connection is None:
        log_step(logger, "sync.no_connection", logging.WARNING, invoice_id=invoice.id)
        return SyncResult.NOT_ELIGIBLE
    ctx = history.HistoryContext(
        invoice_id=invoice.id, at=now, correlation_id=message.correlation_id, connection_id=connection.id
    )
    today = local_today(now, connection.time_zone)
    if message.message_name == "Create":
        invoice = await _set_date_delivered(invoice, connection, today, ctx, dataverse)

    claimed_by: str | None = None
    if details is None:
        # I1: the sync path creates the Xero details record and gives a new invoice the default
        # connection, in one round trip; when the invoice can go at once, the record is born claimed.
        provisional = XeroDetails(id=uuid.uuid4(), invoice_id=invoice.id, connection_id=connection.id)
        with_connection = invoice.model_copy(update={"connection_id": connection.id})
        claim: dict[str, object] | None = None
        if check_eligibility(with_connection, provisional, connection, today).eligible:
            claimed_by = uuid.uuid4().hex
            claim = {"claimed_until": now + timedelta(seconds=CLAIM_SECONDS), "claimed_by": claimed_by}
        details = await dataverse.set_up_invoice(
            invoice.id, connection.id, set_connection=invoice.connection_id is None, claim=claim
        )
    elif invoice.connection_id is None:
        await dataverse.set_invoice_connection(invoice.id, connection.id)
    if invoice.connection_id is None:
        invoice = invoice.model_copy(update={"connection_id": connection.id})

    attempt = SyncAttempt(message, invoice, details, connection, now, deps, ctx)
    attempt.claimed_at_setup = claimed_by is not None and details.claimed_by == claimed_by
    if details.export_status == ExportStatus.READY_TO_UPDATE and details.xero_invoice_id:
        return attempt
    eligibility = check_eligibility(invoice, details, connection, today)
    if not eligibility.eligible:
        # Not an attempt: most updates of a synced invoice land here. Logged, not written to history.
        log_step(logger, "sync.not_eligible", invoice_id=invoice.id, reason=eligibility.reason)
        return SyncResult.NOT_ELIGIBLE
    return attempt


async def _connection_for(
    invoice: Invoice, details: XeroDetails | None, deps: SyncDependencies
) -> ConnectionSettings | None:
    connection_id = invoice.connection_id or (details.connection_id if details else None)
    if connection_id is not None:
        try:
            return await deps.dataverse.get_connection(connection_id)
        except NotFoundError:
            return None
    # C1: a new invoice gets the default connection.
    return await deps.dataverse.get_default_connection()


async def _set_date_delivered(
    invoice: Invoice,
    connection: ConnectionSettings,
    today: date,
    ctx: history.HistoryContext,
    dataverse: DataverseSyncPort,
) -> Invoice:
    day = date_delivered_on_create(invoice, connection, today)
    if day is None:
        return invoice
    await dataverse.set_date_delivered(invoice.id, day)
    await dataverse.add_sync_history(history.date_delivered_set(ctx, day))
    return invoice.model_copy(update={"date_delivered": day})


async def _hand_to_cancel(
    message: InvoiceSyncMessage, details: XeroDetails | None, deps: SyncDependencies
) -> SyncResult:
    """A cancel we could not see in the webhook (size exceeded): the cancel path is idempotent."""
    if details is None or not details.xero_invoice_id:
        return SyncResult.NOT_ELIGIBLE
    cancel = InvoiceCancelMessage(
        invoice_id=message.invoice_id,
        organization=message.organization,
        message_name=message.message_name,
        correlation_id=message.correlation_id,
        event_time=message.event_time,
        reason="canceled",
    )
    await asyncio.to_thread(deps.queues.send, deps.cancel_queue, cancel.model_dump_json())
    return SyncResult.HANDED_TO_CANCEL


# --- claim -----------------------------------------------------------------------------------------


async def _claim(attempt: SyncAttempt) -> bool:
    """Take the invoice with an ETag write. Returns whether an earlier attempt left a stale claim
    (it may have created the Xero invoice and crashed before writing back)."""
    details, now = attempt.details, attempt.now
    if details.claimed_until is not None and details.claimed_until > now:
        # Look again soon rather than at expiry: the holder usually finishes within seconds.
        wait = min((details.claimed_until - now).total_seconds() + 1, CLAIM_RECHECK_SECONDS)
        raise ClaimedElsewhereError(f"invoice {attempt.invoice.id} is being synced by another worker", wait)
    stale = details.claimed_until is not None
    changes = {"claimed_until": now + timedelta(seconds=CLAIM_SECONDS), "claimed_by": uuid.uuid4().hex}
    try:
        attempt.etag = await attempt.deps.dataverse.update_xero_details(details.id, changes, details.etag)
    except ConcurrencyConflictError:
        raise ClaimedElsewhereError(
            f"invoice {attempt.invoice.id} was claimed by another worker", 2
        ) from None
    return stale


async def _release(attempt: SyncAttempt, *, create_attempted: bool) -> None:
    """Give the claim back. After a create that may have reached Xero, leave it expired (not cleared),
    so the next attempt looks for that invoice in Xero before creating."""
    changes: dict[str, object] = {"claimed_until": attempt.now if create_attempted else None}
    if not create_attempted:
        changes["claimed_by"] = None
    try:
        await attempt.deps.dataverse.update_xero_details(attempt.details.id, changes, None)
    except Exception as exc:  # the claim expires by itself; never hide the original error
        log_step(
            logger,
            "sync.release_failed",
            logging.WARNING,
            invoice_id=attempt.invoice.id,
            error=type(exc).__name__,
        )


# --- create ----------------------------------------------------------------------------------------


async def _create(attempt: SyncAttempt) -> SyncResult:
    stale_claim = False if attempt.claimed_at_setup else await _claim(attempt)
    create_attempted = False
    try:
        draft = await _prepare(attempt)
        if draft is None:
            return SyncResult.FAILED
        xero = attempt.xero
        previous = await _find_previous_create(attempt, xero, draft.url) if stale_claim else None
        if previous is not None:
            created, result = previous, SyncResult.ADOPTED
        else:
            create_attempted = True
            created = await asyncio.to_thread(xero.create_invoice, draft, attempt.key("create"))
            result = SyncResult.CREATED
    except XeroValidationError as exc:
        await _fail(attempt, history.validation_failed(attempt.ctx, exc.messages))
        return SyncResult.FAILED
    except AuthorisationError:
        await _fail(attempt, history.reconnect_needed(attempt.ctx, attempt.connection.name))
        return SyncResult.FAILED
    except BaseException as exc:
        sent = create_attempted and not isinstance(exc, RateLimitedError)
        await _release(attempt, create_attempted=sent)
        raise
    await _write_back(attempt, created, result)
    return result


async def _prepare(attempt: SyncAttempt) -> XeroInvoiceDraft | None:
    """Contact (I5) and items (I6) resolved, then the draft; None when the invoice already failed."""
    contact_id = await _resolve_contact(attempt)
    if contact_id is None:
        await _fail(attempt, entry=None)
        return None
    items = await _ensure_items(attempt)
    return build_invoice_draft(attempt.invoice, attempt.connection, items, contact_id, attempt.deps.org_url)


async def sync_batch(attempts: list[SyncAttempt]) -> list[SyncResult]:
    """I2 backlog: invoices of one connection created in batches of up to 50 per Xero call, with
    summarizeErrors=false so each element succeeds or fails on its own."""
    results: list[SyncResult] = []
    ready: list[tuple[SyncAttempt, XeroInvoiceDraft]] = []
    claimed: list[SyncAttempt] = []  # claimed and not yet finished: released if the batch stops early
    try:
        if attempts:
            await _prewarm_items(attempts)
        for attempt in attempts:
            try:
                stale_claim = False if attempt.claimed_at_setup else await _claim(attempt)
            except ClaimedElsewhereError:
                continue  # its own message will finish it
            claimed.append(attempt)
            try:
                draft = await _prepare(attempt)
            except XeroValidationError as exc:
                await _fail(attempt, history.validation_failed(attempt.ctx, exc.messages))
                draft = None
            if draft is None:
                claimed.remove(attempt)
                results.append(SyncResult.FAILED)
                continue
            previous = await _find_previous_create(attempt, attempt.xero, draft.url) if stale_claim else None
            if previous is not None:
                claimed.remove(attempt)
                await _write_back(attempt, previous, SyncResult.ADOPTED)
                results.append(SyncResult.ADOPTED)
            else:
                ready.append((attempt, draft))
    except BaseException:
        for attempt in claimed:
            await _release(attempt, create_attempted=False)
        raise
    for start in range(0, len(ready), BATCH_SIZE):
        results.extend(await _create_chunk(ready[start : start + BATCH_SIZE]))
    return results


async def _create_chunk(chunk: list[tuple[SyncAttempt, XeroInvoiceDraft]]) -> list[SyncResult]:
    first = chunk[0][0]
    revision = ",".join(sorted(attempt.key("create") for attempt, _ in chunk))
    key = idempotency_key(first.connection.id, "batch", "create-batch", revision)
    try:
        created = await asyncio.to_thread(first.xero.create_invoices, [draft for _, draft in chunk], key)
    except BaseException as exc:
        # A 429 (Xero's or our own budget's) means nothing was created; anything else might have been.
        for attempt, _ in chunk:
            await _release(attempt, create_attempted=not isinstance(exc, RateLimitedError))
        raise
    results: list[SyncResult] = []
    for (attempt, _), element in zip(chunk, created, strict=True):
        if element.validation_errors:
            await _fail(attempt, history.validation_failed(attempt.ctx, element.validation_errors))
            results.append(SyncResult.FAILED)
        else:
            await _write_back(attempt, element, SyncResult.CREATED)
            results.append(SyncResult.CREATED)
    return results


async def _prewarm_items(attempts: list[SyncAttempt]) -> None:
    """One item lookup for a whole batch, instead of one per invoice."""
    first = attempts[0]
    codes = sorted(
        {item_code(line.product) for attempt in attempts for line in attempt.invoice.lines if line.product}
    )
    cache, connection_key = first.deps.items, str(first.connection.id)
    missing = [code for code in codes if code not in cache.known(connection_key, codes)]
    if missing:
        cache.remember(connection_key, await asyncio.to_thread(first.xero.get_items_by_codes, missing))


async def _find_previous_create(
    attempt: SyncAttempt, xero: XeroSyncPort, url: str | None
) -> XeroInvoice | None:
    if not url:
        return None
    found = await asyncio.to_thread(xero.find_invoices_by_url, url)
    live = [invoice for invoice in found if invoice.status not in ("DELETED", "VOIDED")]
    if live:
        log_step(logger, "sync.adopted", invoice_id=attempt.invoice.id, xero_invoice_id=live[0].invoice_id)
    return live[0] if live else None


async def _resolve_contact(attempt: SyncAttempt) -> str | None:
    """I5: the Xero ContactID for the customer, found or created; None when the invoice must fail
    (sync history already written)."""
    customer, connection, dataverse = attempt.invoice.customer, attempt.connection, attempt.deps.dataverse
    lookup = contacts.contact_lookup(customer, connection)
    if lookup is None:
        await dataverse.add_sync_history(
            history.customer_has_no_number(attempt.ctx, customer.name, connection.name)
        )
        return None
    xero = attempt.xero
    contact_id: str | None = lookup.value if lookup.field == "ContactID" else None
    # Another invoice of this customer, moments ago in this process, already found or created it.
    contact_id = contact_id or attempt.deps.contact_ids.get(customer.id)
    if contact_id is None:
        finder = xero.find_contact_by_name if lookup.field == "Name" else xero.find_contact_by_number
        found = await asyncio.to_thread(finder, lookup.value)
        if found is None:
            decision = contacts.decide_missing_contact(customer, connection)
            if decision.action == contacts.MissingContactAction.FAIL:
                await dataverse.add_sync_history(history.contact_missing(attempt.ctx, decision.reason or ""))
                return None
            contact_id = await _create_contact(attempt, xero)
            await dataverse.update_customer_xero(customer.kind, customer.id, xero_contact_id=contact_id)
            attempt.deps.contact_ids[customer.id] = contact_id
            return contact_id
        contact_id = found.contact_id
        await dataverse.update_customer_xero(customer.kind, customer.id, xero_contact_id=contact_id)
        attempt.deps.contact_ids[customer.id] = contact_id
    if contacts.should_update_contact(connection, just_created=False):
        await asyncio.to_thread(
            xero.update_contact,
            contact_id,
            contacts.contact_draft(customer),
            attempt.key(f"contact-update-{customer.id}"),
        )
    return contact_id


async def _create_contact(attempt: SyncAttempt, xero: XeroSyncPort) -> str:
    """Create the customer in Xero. Names are unique there: if another worker (or a person) created it
    meanwhile, Xero refuses the duplicate, and that contact is the one to use (I5)."""
    customer = attempt.invoice.customer
    try:
        created = await asyncio.to_thread(
            xero.create_contact, contacts.contact_draft(customer), attempt.key(f"contact-{customer.id}")
        )
    except XeroValidationError:
        existing = await asyncio.to_thread(xero.find_contact_by_name, contacts.contact_draft(customer).name)
        if existing is None:
            raise
        return existing.contact_id
    await attempt.deps.dataverse.add_sync_history(history.contact_created(attempt.ctx, created.name))
    return created.contact_id


async def _ensure_items(attempt: SyncAttempt) -> dict[str, XeroItem]:
    """I6: the Xero items of the invoice's products, created where missing and allowed."""
    invoice, connection = attempt.invoice, attempt.connection
    codes = sorted({item_code(line.product) for line in invoice.lines if line.product is not None})
    if not codes:
        return {}
    cache, connection_key = attempt.deps.items, str(connection.id)
    items = cache.known(connection_key, codes)
    missing = [code for code in codes if code not in items]
    if missing:
        fetched = await asyncio.to_thread(attempt.xero.get_items_by_codes, missing)
        cache.remember(connection_key, fetched)
        items.update({item.code: item for item in fetched})
    drafts = items_to_create(invoice, connection, items)
    if drafts:
        try:
            created = await asyncio.to_thread(attempt.xero.create_items, drafts, attempt.key("items"))
        except XeroValidationError:
            # Codes are unique in Xero: another worker may have just created the same item.
            created = await asyncio.to_thread(attempt.xero.get_items_by_codes, [d.code for d in drafts])
            if len(created) < len(drafts):
                raise
        cache.remember(connection_key, created)
        items.update({item.code: item for item in created})
    return items


# --- write back --------------------------------------------------------------------------------------


async def _write_back(attempt: SyncAttempt, created: XeroInvoice, result: SyncResult) -> None:
    """I7: Xero details first (the Xero id must never be lost), then totals, then history; I8 email."""
    xero, dataverse, connection = attempt.xero, attempt.deps.dataverse, attempt.connection
    online_url = None
    if created.status in ("AUTHORISED", "PAID"):
        online_url = await asyncio.to_thread(xero.get_online_invoice_url, created.invoice_id)
    changes: dict[str, object] = {
        "xero_invoice_id": created.invoice_id,
        "xero_invoice_number": created.invoice_number,
        "xero_status": created.status,
        "xero_url": _xero_deep_link(created),
        "online_invoice_url": online_url,
        "export_status": ExportStatus.YES,
        "exported_on": attempt.now,
        "amount_due": created.amount_due,
        "amount_paid": created.amount_paid,
        "amount_credited": created.amount_credited,
        "total": created.total,
        "total_tax": created.total_tax,
        "due_date": created.due_date,
        "claimed_until": None,
        "claimed_by": None,
    }
    invoice = attempt.invoice
    # Only when Xero's figures differ: an unchanged write would still fire the invoice's update webhook.
    totals = (
        InvoiceTotals(
            invoice_id=invoice.id,
            total_tax=created.total_tax,
            total_amount=created.total,
            due_date=created.due_date,
        )
        if (invoice.total_tax, invoice.total_amount) != (created.total_tax, created.total)
        or (created.due_date is not None and created.due_date != invoice.due_date)
        else None
    )
    entries: list[SyncHistoryEntry] = [
        history.created(
            attempt.ctx,
            invoice_type=created.type,
            number=created.invoice_number,
            status=created.status,
            total=created.total,
            currency_code=created.currency_code or invoice.currency_code,
        )
    ]
    if invoice.total_tax and rounding_difference(invoice.total_amount, created.total) is not None:
        entries.append(
            history.rounding_warning(
                attempt.ctx,
                dynamics_total=invoice.total_amount,
                xero_total=created.total,
                currency_code=invoice.currency_code,
            )
        )
    await dataverse.commit_sync_result(attempt.details.id, changes, totals, entries)
    if connection.send_email and created.status == "AUTHORISED":
        await asyncio.to_thread(xero.email_invoice, created.invoice_id, attempt.key("email"))
    log_step(
        logger,
        f"sync.{result.value}",
        invoice_id=attempt.invoice.id,
        connection=connection.name,
        xero_invoice_id=created.invoice_id,
        xero_number=created.invoice_number,
        correlation_id=attempt.message.correlation_id,
    )


def _xero_deep_link(invoice: XeroInvoice) -> str:
    path = "AccountsPayable/Edit.aspx" if invoice.type == "ACCPAY" else "AccountsReceivable/View.aspx"
    return f"https://go.xero.com/{path}?InvoiceID={invoice.invoice_id}"


async def _fail(attempt: SyncAttempt, entry: SyncHistoryEntry | None) -> None:
    """I10: export status Failed, the claim released, and the reason in sync history."""
    dataverse = attempt.deps.dataverse
    if entry is not None:
        await dataverse.add_sync_history(entry)
    changes = {"export_status": ExportStatus.FAILED, "claimed_until": None, "claimed_by": None}
    await dataverse.update_xero_details(attempt.details.id, changes, None)
    log_step(
        logger,
        "sync.failed",
        logging.WARNING,
        invoice_id=attempt.invoice.id,
        correlation_id=attempt.ctx.correlation_id,
    )


# --- update (I11) ------------------------------------------------------------------------------------


async def _update(attempt: SyncAttempt) -> SyncResult:
    invoice, details, connection = attempt.invoice, attempt.details, attempt.connection
    dataverse = attempt.deps.dataverse
    decision = decide_update(invoice, details, connection)
    if not decision.allowed:
        await dataverse.add_sync_history(history.update_refused(attempt.ctx, decision.reason or ""))
        await dataverse.update_xero_details(details.id, {"export_status": ExportStatus.YES}, details.etag)
        return SyncResult.FAILED
    await _claim(attempt)
    try:
        draft = await _prepare(attempt)
        if draft is None:
            return SyncResult.FAILED
        if decision.scope == "paid_fields_only":
            draft = paid_invoice_update(draft)
        assert details.xero_invoice_id is not None
        updated = await asyncio.to_thread(
            attempt.xero.update_invoice, details.xero_invoice_id, draft, attempt.key("update")
        )
    except XeroValidationError as exc:
        await _fail(attempt, history.validation_failed(attempt.ctx, exc.messages, action=SyncAction.UPDATE))
        return SyncResult.FAILED
    except AuthorisationError:
        await _fail(attempt, history.reconnect_needed(attempt.ctx, connection.name))
        return SyncResult.FAILED
    except BaseException:
        await _release(attempt, create_attempted=False)
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


async def sync_gave_up(
    message: InvoiceSyncMessage, reason: str, deps: SyncDependencies, attempts: int
) -> None:
    """O2: the last retry failed. Export status Failed and a sync-history line, so the user sees it.
    The claim is left as it is: if the create may have reached Xero, the next attempt looks there first."""
    try:
        snapshot = await deps.dataverse.get_invoice_snapshot(message.invoice_id)
    except NotFoundError:
        return
    details = snapshot.xero_details
    if details is None or details.export_status == ExportStatus.YES:
        return
    ctx = history.HistoryContext(
        invoice_id=message.invoice_id,
        at=deps.clock(),
        correlation_id=message.correlation_id,
        connection_id=details.connection_id,
    )
    await deps.dataverse.update_xero_details(details.id, {"export_status": ExportStatus.FAILED}, None)
    await deps.dataverse.add_sync_history(history.gave_up(ctx, attempts, reason))
    log_step(logger, "sync.gave_up", logging.ERROR, invoice_id=message.invoice_id, reason=reason)

"""The sweep (I2, B4): per connection, send every eligible invoice the events missed, in batches.

A backlog streams through in chunks: the ids are listed (one call per page), then each chunk of 50 is
read in one call, claimed, sent and written back before the next is read, so memory stays flat and a
budget that runs out stops the sweep with only that chunk to retry. Sent invoices leave the eligible
list, so the next sweep resumes where this one stopped.

One sweep per connection runs at a time, its balance refresh included: a second one finds the lease
held and ends. One reconcile per connection runs at a time, under a lease of its own: a pull that Xero
events asked for waits for the running one, never for a sweep's creates. A sweep stopped by the spent
budget asks for one successor when the budget is back and ends too, so sweeps queued by the timer and
by handlers never pile up retrying.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Protocol
from uuid import UUID

from connector.budget import waiting_for_xero_at_most
from connector.domain.connection_rules import settings_problems
from connector.domain.dynamics import ConnectionSettings, ExportStatus
from connector.domain.messages import InvoiceSyncMessage, SweepMessage
from connector.domain.sync.eligibility import local_today
from connector.errors import AuthorisationError, DeferredError, NotFoundError, RateLimitedError
from connector.ports import DataverseConnections, DataverseSweepPort, Lease, Leases
from connector.services.connection_health import connection_lost
from connector.services.sync_attempt import SyncAttempt, SyncDependencies, SyncResult, load_attempt
from connector.services.sync_batch import BATCH_SIZE, sync_batch
from connector.services.sync_credit_note import sync_credit_notes_apart
from connector.telemetry import get_logger, log_step

logger = get_logger("services.sweep")

Reconcile = Callable[[ConnectionSettings], Awaitable[object]]


class ReconcileRun(Protocol):
    def __call__(self, connection: ConnectionSettings, *, force: bool = False) -> Awaitable[object]: ...


# New invoices are looked at for this long; older ones without Xero details are the backfill's job.
MISSED_INVOICE_WINDOW = timedelta(days=2)
# The length of the connection's settings-problem column (adapters/dataverse/schema.py).
SETTINGS_PROBLEM_MAX_LENGTH = 1000
# A lease lapses a minute after its last renewal; the holder renews it this often while it works.
LEASE_RENEW_SECONDS = 20.0
# A sweep's calls (50 creates, or 500 changes, each) wait this long for a slot of Xero's budget, where
# one invoice's calls wait a few seconds: under contention the budget goes to the bulk work first.
SWEEP_XERO_WAIT_SECONDS = 30.0
# A pull asked for by Xero events comes back this soon when another pull of the connection holds its
# lease: dropped, it would leave the events' changes to the hourly reconcile.
LEASE_HELD_RETRY_SECONDS = 5.0


@dataclass
class SweepDependencies:
    dataverse: DataverseSweepPort
    sync: SyncDependencies
    reconcile: ReconcileRun | None = None
    leases: Leases | None = None  # None: a single instance (tests, tools)
    balances: Reconcile | None = None  # refreshes the balances that changed since the last sweep
    # Reference data for a connection swept on its own (just connected, reconnected, or "sync now").
    reference_data: Reconcile | None = None


async def sweep(message: SweepMessage, deps: SweepDependencies) -> Counter[str]:
    """Returns how many invoices ended in each SyncResult, across connections."""
    with waiting_for_xero_at_most(SWEEP_XERO_WAIT_SECONDS):
        return await _sweep_all(message, deps)


async def _sweep_all(message: SweepMessage, deps: SweepDependencies) -> Counter[str]:
    try:
        connections = await _connections(message, deps)
    except NotFoundError:
        # The connection was removed after this message was queued: nothing to sweep, nothing to retry.
        log_step(logger, "sweep.connection_gone", logging.WARNING, connection_id=message.connection_id)
        return Counter()
    totals: Counter[str] = Counter()
    spent: list[RateLimitedError] = []  # budgets that ran out, one per part of the sweep they stopped
    if message.connection_id is not None and deps.reference_data is not None:
        await _reference_data(connections[0], deps.reference_data)
    if message.connection_id is None:
        missed = _once(deps, "sweep-missed", partial(_sync_missed, message, deps))
        totals.update(await _within_budget(missed, spent, deps))
    for connection in connections:
        problem = await _mark_settings_problem(deps.dataverse, connection)
        if connection.needs_reconnect:
            log_step(logger, "sweep.skipped", logging.WARNING, connection=connection.name, reason="reconnect")
            continue
        if problem is not None:
            # One connection set up wrong (a bad time zone, say) must not stop the others.
            log_step(logger, "sweep.misconfigured", logging.ERROR, connection=connection.name, reason=problem)
            continue
        try:
            totals.update(await _within_budget(_connection(connection, message, deps), spent, deps))
        except AuthorisationError:
            # One organisation's lost authorisation must not stop the others: it waits for a reconnect.
            await connection_lost(deps.sync.dataverse, connection)
    if spent and deps.sync.sweeps is not None:
        # Every sweep resumes where the last stopped: one successor, when the budget is back, instead of
        # this message retrying beside the timer's.
        wait = max(exc.retry_after for exc in spent)
        log_step(logger, "sweep.budget_spent", logging.WARNING, retry_after=wait)
        await deps.sync.sweeps.ask(
            message.connection_id,
            wait,
            reconcile=message.reconcile_now,
            correlation_id=message.correlation_id,
            again=True,
        )
    return totals


async def _connection(
    connection: ConnectionSettings, message: SweepMessage, deps: SweepDependencies
) -> Counter[str]:
    if message.reconcile_now:
        # Xero events wait for this pull: it goes before a backlog of creates that may spend the budget,
        # and waits only for another pull, not for a sweep's creates or balances.
        await _reconcile(connection, deps, force=True)
    sweep_work = partial(_creates_and_balances, connection, message, deps)
    return await _once(deps, f"sweep-{connection.id}", sweep_work)


async def _creates_and_balances(
    connection: ConnectionSettings, message: SweepMessage, deps: SweepDependencies
) -> Counter[str]:
    results = await _sweep(connection, message, deps)
    if not message.reconcile_now:
        await _reconcile(connection, deps, force=False)
    if deps.balances is not None:
        await deps.balances(connection)
    return results


async def _reconcile(connection: ConnectionSettings, deps: SweepDependencies, *, force: bool) -> None:
    """One pull per connection at a time; a forced one (Xero events wait for it) waits its turn."""
    run = deps.reconcile
    if run is None:
        return

    async def pull() -> Counter[str]:
        await run(connection, force=force)
        return Counter()

    await _once(deps, f"reconcile-{connection.id}", pull, wait_if_held=force)


async def _within_budget(
    work: Awaitable[Counter[str]], spent: list[RateLimitedError], deps: SweepDependencies
) -> Counter[str]:
    """The work's results; a budget that ran out stops only this part (another organisation's is its
    own), and is noted in `spent`."""
    try:
        return await work
    except RateLimitedError as exc:
        if deps.sync.sweeps is None:
            raise
        spent.append(exc)
        return Counter()


def settings_problem(connection: ConnectionSettings) -> str | None:
    """The plain message a misconfigured connection carries in Dynamics; None when its settings are valid."""
    problems = settings_problems(connection)
    return " ".join(problems)[:SETTINGS_PROBLEM_MAX_LENGTH] if problems else None


async def _mark_settings_problem(
    dataverse: DataverseConnections, connection: ConnectionSettings
) -> str | None:
    """Mark the connection misconfigured, or clear the mark once it is fixed. Written only when the message
    changes, so a connection left broken costs no write per sweep."""
    problem = settings_problem(connection)
    if problem != connection.settings_problem:
        await dataverse.update_connection(connection.id, {"settings_problem": problem})
        step = "connection.misconfigured" if problem else "connection.settings_fixed"
        log_step(logger, step, logging.WARNING if problem else logging.INFO, connection=connection.name)
    return problem


async def _reference_data(connection: ConnectionSettings, sync: Reconcile) -> None:
    try:
        await sync(connection)
    except Exception as exc:  # the invoices must go even if the reference tables cannot be pulled now
        log_step(logger, "sweep.reference_data_failed", logging.WARNING, error=type(exc).__name__)


async def _connections(message: SweepMessage, deps: SweepDependencies) -> list[ConnectionSettings]:
    if message.connection_id is not None:
        return [await deps.dataverse.get_connection(message.connection_id)]
    return await deps.dataverse.list_connections()


async def _once(
    deps: SweepDependencies,
    name: str,
    work: Callable[[], Awaitable[Counter[str]]],
    *,
    wait_if_held: bool = False,
) -> Counter[str]:
    """Run `work` under the named lease, renewed while it runs; while another instance holds it, skip
    the work, or (`wait_if_held`) put the message back until the lease is free."""
    if deps.leases is None:
        return await work()
    lease = await deps.leases.acquire(name)
    if lease is None and wait_if_held:
        raise DeferredError(f"{name} is held by another instance", LEASE_HELD_RETRY_SECONDS)
    if lease is None:
        log_step(logger, "sweep.already_running", lease=name)
        return Counter()
    renewing = asyncio.get_running_loop().create_task(_keep_renewed(lease, name))
    try:
        return await work()
    finally:
        renewing.cancel()
        await lease.release()


async def _keep_renewed(lease: Lease, name: str) -> None:
    while True:
        await asyncio.sleep(LEASE_RENEW_SECONDS)
        try:
            await lease.renew()
        except Exception as exc:  # lost: another instance may start the same work, which claims make safe
            log_step(logger, "sweep.lease_lost", logging.WARNING, lease=name, error=type(exc).__name__)
            return


async def _load_chunk(
    invoice_ids: Sequence[UUID], message: SweepMessage, deps: SweepDependencies
) -> tuple[list[SyncAttempt], Counter[str]]:
    """One chunk of invoices, read in one call, loaded as if each one's own sync message had arrived."""
    attempts: list[SyncAttempt] = []
    results: Counter[str] = Counter()
    for snapshot in await deps.sync.dataverse.get_invoice_snapshots(invoice_ids):
        sync_message = InvoiceSyncMessage(
            invoice_id=snapshot.invoice.id,
            organization="",
            message_name="Sweep",
            correlation_id=message.correlation_id,
            event_time=message.scheduled_for,
        )
        loaded = await load_attempt(sync_message, deps.sync, snapshot)
        if isinstance(loaded, SyncAttempt) and loaded.details.export_status == ExportStatus.NO:
            attempts.append(loaded)
        elif isinstance(loaded, SyncResult):
            results[loaded.value] += 1
    return attempts, results


async def _sync_chunks(
    invoice_ids: Sequence[UUID], message: SweepMessage, deps: SweepDependencies
) -> Counter[str]:
    results: Counter[str] = Counter()
    for start in range(0, len(invoice_ids), BATCH_SIZE):
        attempts, skipped = await _load_chunk(invoice_ids[start : start + BATCH_SIZE], message, deps)
        results.update(skipped)
        by_connection: dict[UUID, list[SyncAttempt]] = defaultdict(list)
        for attempt in attempts:
            by_connection[attempt.connection.id].append(attempt)
        for group in by_connection.values():
            invoices, credit_notes = await sync_credit_notes_apart(group)  # never batched as invoices
            results.update(result.value for result in credit_notes)
            results.update(result.value for result in await sync_batch(invoices))
    return results


async def _drain(
    list_ids: Callable[[], Awaitable[list[UUID]]], message: SweepMessage, deps: SweepDependencies
) -> tuple[Counter[str], int]:
    """Send what the listing gives, then list again for what arrived while it was sent (a backlog takes
    minutes), until a listing has nothing this run has not tried. Results, and how many were found."""
    results: Counter[str] = Counter()
    tried: set[UUID] = set()
    while True:
        invoice_ids = [invoice_id for invoice_id in await list_ids() if invoice_id not in tried]
        if not invoice_ids:
            return results, len(tried)
        tried.update(invoice_ids)
        results.update(await _sync_chunks(invoice_ids, message, deps))


async def _sync_missed(message: SweepMessage, deps: SweepDependencies) -> Counter[str]:
    """I1 for new invoices whose webhooks were all lost: set them up (Xero details, default connection)
    and send the eligible ones, per connection, in batches."""
    since = deps.sync.clock() - MISSED_INVOICE_WINDOW
    listing = partial(deps.dataverse.list_recent_invoice_ids_without_xero_details, since)
    results, _ = await _drain(listing, message, deps)
    return results


async def _sweep(
    connection: ConnectionSettings, message: SweepMessage, deps: SweepDependencies
) -> Counter[str]:
    today = local_today(deps.sync.clock(), connection.time_zone)
    listing = partial(deps.dataverse.list_eligible_invoice_ids, connection.id, today)
    results, found = await _drain(listing, message, deps)
    log_step(
        logger,
        "sweep.connection_done",
        connection=connection.name,
        found=found,
        correlation_id=message.correlation_id,
        **{f"n_{name}": count for name, count in results.items()},
    )
    return results

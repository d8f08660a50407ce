"""Reads of Xero invoices asked for at about the same time (the events of one webhook delivery, handled
side by side) gathered into one `GET /Invoices?IDs=` per connection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from connector.domain.xero_records import XeroInvoice
from connector.errors import NotFoundError
from connector.ports import XeroPort

WINDOW_SECONDS = 0.2
MAX_IDS = 50


@dataclass
class _Batch:
    xero: XeroPort
    waiting: dict[str, list[asyncio.Future[XeroInvoice]]] = field(default_factory=dict)


class InvoiceReads:
    """One process's coalescer. `get` answers as a lone `get_invoice` would, NotFoundError included."""

    def __init__(self, window_seconds: float = WINDOW_SECONDS) -> None:
        self._window = window_seconds
        self._open: dict[str, _Batch] = {}

    async def get(self, xero: XeroPort, connection_key: str, invoice_id: str) -> XeroInvoice:
        batch = self._open.get(connection_key)
        if batch is None or len(batch.waiting) >= MAX_IDS:
            batch = self._open[connection_key] = _Batch(xero)
            asyncio.get_running_loop().create_task(self._flush(connection_key, batch))
        future: asyncio.Future[XeroInvoice] = asyncio.get_running_loop().create_future()
        batch.waiting.setdefault(invoice_id, []).append(future)
        return await future

    async def _flush(self, connection_key: str, batch: _Batch) -> None:
        await asyncio.sleep(self._window)
        if self._open.get(connection_key) is batch:
            del self._open[connection_key]
        futures = [future for waiting in batch.waiting.values() for future in waiting]
        try:
            found = await asyncio.to_thread(batch.xero.get_invoices_by_ids, list(batch.waiting))
        except BaseException as exc:
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        by_id = {invoice.invoice_id: invoice for invoice in found}
        for invoice_id, waiting in batch.waiting.items():
            for future in waiting:
                if future.done():
                    continue
                if invoice_id in by_id:
                    future.set_result(by_id[invoice_id])
                else:
                    future.set_exception(NotFoundError(f"Xero get_invoices: {invoice_id} not found"))

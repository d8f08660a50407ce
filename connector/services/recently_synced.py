"""Invoices this process has just seen in Xero, so the Create event of one costs no re-read.

One save in the Sales UI reaches the connector as several events: an Update per line at once, and the
invoice's Create, held back a moment. The first handler to read the invoice sees it all and sends it;
the Create that follows can only find it in Xero (a creation is in every later read of the invoice), so
it is dropped unread. Any other event may carry an edit, so it is always read.
"""

from __future__ import annotations

from collections import OrderedDict
from uuid import UUID

from connector.domain.messages import InvoiceSyncMessage


class RecentlySynced:
    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._seen: OrderedDict[UUID, None] = OrderedDict()

    def note(self, invoice_id: UUID) -> None:
        """A handler found the invoice in Xero (or put it there)."""
        self._seen.pop(invoice_id, None)
        self._seen[invoice_id] = None
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)

    def covers(self, message: InvoiceSyncMessage) -> bool:
        """The message is the Create event of an invoice already in Xero."""
        return message.message_name == "Create" and message.invoice_id in self._seen

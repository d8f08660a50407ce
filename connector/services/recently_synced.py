"""Invoices this process has just seen in Xero, so a webhook about an older change costs no re-read.

One save in the Sales UI reaches the connector as several events (the invoice's Create, held back a
moment, and an Update per line); the first handler to read the invoice sees them all and sends it. An
event whose change happened no later than a version of the invoice already known to be in Xero would
only find it not eligible, so it is dropped unread. Only invoices in Xero are remembered: for one that is
not, a skipped event could hold back a send, so every event is read.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from uuid import UUID

from connector.domain.messages import InvoiceSyncMessage

# The events Dataverse sends for a save: the others (export status set back, console retry, sweep)
# ask for work whatever the invoice's version.
SAVE_EVENTS = frozenset({"Create", "Update"})


class RecentlySynced:
    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._seen: OrderedDict[UUID, datetime] = OrderedDict()

    def note(self, invoice_id: UUID, modified_on: datetime | None) -> None:
        """The invoice is in Xero as of this version (its modifiedon)."""
        if modified_on is None or modified_on.tzinfo is None:
            return
        known = self._seen.pop(invoice_id, None)
        self._seen[invoice_id] = modified_on if known is None else max(known, modified_on)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)

    def covers(self, message: InvoiceSyncMessage) -> bool:
        """The message's change is already in a version of the invoice known to be in Xero."""
        known = self._seen.get(message.invoice_id)
        happened = message.event_time
        if known is None or message.message_name not in SAVE_EVENTS or happened.tzinfo is None:
            return False
        return happened <= known

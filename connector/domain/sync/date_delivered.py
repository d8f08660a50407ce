"""I13: Date Delivered filled in automatically when an invoice is created, if the connection says so."""

from __future__ import annotations

from datetime import date

from connector.domain.dynamics import ConnectionSettings, Invoice


def date_delivered_on_create(invoice: Invoice, connection: ConnectionSettings, today: date) -> date | None:
    """The date to write on a newly created invoice, or None to leave it alone.

    `today` is the date in the connection's time zone (`eligibility.local_today`). A date the user
    already entered is never overwritten.
    """
    if not connection.set_date_delivered_on_create or invoice.date_delivered is not None:
        return None
    return today

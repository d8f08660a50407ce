"""I1 eligibility, the time-zone "today", I11 update decisions and I13 Date Delivered."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connector.domain.dynamics import ExportStatus, InvoiceState
from connector.domain.sync.date_delivered import date_delivered_on_create
from connector.domain.sync.eligibility import (
    IneligibleReason,
    check_eligibility,
    decide_update,
    local_today,
)
from tests.factories import connection, details, invoice, uid

TODAY = date(2026, 3, 2)


def test_i1_invoice_meeting_all_conditions_is_eligible() -> None:
    result = check_eligibility(invoice(), details(), connection(), TODAY)
    assert result.eligible is True
    assert result.code is None
    assert result.reason is None


def test_i1_date_delivered_today_or_earlier_is_eligible() -> None:
    assert check_eligibility(
        invoice(date_delivered=date(2026, 3, 2)), details(), connection(), TODAY
    ).eligible
    assert check_eligibility(
        invoice(date_delivered=date(2025, 12, 31)), details(), connection(), TODAY
    ).eligible


@pytest.mark.parametrize(
    ("invoice_kwargs", "details_value", "connection_value", "code", "reason"),
    [
        (
            {},
            None,
            connection(),
            IneligibleReason.NO_XERO_DETAILS,
            "The invoice has no Xero details record. Run the backfill command to create one.",
        ),
        (
            {"connection_id": None},
            details(),
            connection(),
            IneligibleReason.NO_CONNECTION,
            "No Xero connection is set on the invoice.",
        ),
        ({}, details(), None, IneligibleReason.NO_CONNECTION, "No Xero connection is set on the invoice."),
        (
            {"connection_id": uid("another connection")},
            details(),
            connection(),
            IneligibleReason.WRONG_CONNECTION,
            "The connection set on the invoice could not be found. Choose a valid connection.",
        ),
        (
            {},
            details(),
            connection(needs_reconnect=True),
            IneligibleReason.RECONNECT_NEEDED,
            "Reconnect connection Contoso UK to Xero.",
        ),
        (
            {"date_delivered": None},
            details(),
            connection(),
            IneligibleReason.NO_DATE_DELIVERED,
            "Date Delivered is not set.",
        ),
        (
            {"date_delivered": date(2026, 3, 3)},
            details(),
            connection(),
            IneligibleReason.FUTURE_DATE_DELIVERED,
            "Date Delivered (2026-03-03) is in the future; the invoice will be sent on that day.",
        ),
        (
            {},
            details(export_status=ExportStatus.YES),
            connection(),
            IneligibleReason.EXPORT_STATUS,
            'Export status is "Yes"; only invoices with export status "No" are sent to Xero.',
        ),
        (
            {},
            details(export_status=ExportStatus.FAILED),
            connection(),
            IneligibleReason.EXPORT_STATUS,
            'Export status is "Failed"; only invoices with export status "No" are sent to Xero.',
        ),
        ({"lines": []}, details(), connection(), IneligibleReason.NO_LINES, "The invoice has no lines."),
        (
            {"state": InvoiceState.CANCELED},
            details(),
            connection(),
            IneligibleReason.NOT_ACTIVE,
            "The invoice is cancelled in Dynamics, so it is not sent to Xero.",
        ),
        (
            {"state": InvoiceState.PAID},
            details(),
            connection(),
            IneligibleReason.NOT_ACTIVE,
            "The invoice is paid in Dynamics, so it is not sent to Xero.",
        ),
    ],
)
def test_i1_ineligible_invoice_says_why_in_plain_words(
    invoice_kwargs: dict[str, object],
    details_value: object,
    connection_value: object,
    code: IneligibleReason,
    reason: str,
) -> None:
    result = check_eligibility(invoice(**invoice_kwargs), details_value, connection_value, TODAY)  # type: ignore[arg-type]
    assert result.eligible is False
    assert result.code == code
    assert result.reason == reason


@pytest.mark.parametrize(
    ("now_utc", "zone", "expected"),
    [
        # 2026-03-01 12:30 UTC is already 2 March in Auckland (UTC+13 in March, daylight time)
        (datetime(2026, 3, 1, 12, 30, tzinfo=UTC), "Pacific/Auckland", date(2026, 3, 2)),
        (datetime(2026, 3, 1, 10, 59, tzinfo=UTC), "Pacific/Auckland", date(2026, 3, 1)),
        (datetime(2026, 3, 1, 11, 0, tzinfo=UTC), "Pacific/Auckland", date(2026, 3, 2)),
        # 2026-03-02 03:00 UTC is still 1 March in Los Angeles (UTC-8)
        (datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "America/Los_Angeles", date(2026, 3, 1)),
        (datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "UTC", date(2026, 3, 2)),
        (datetime(2026, 3, 2, 3, 0), "UTC", date(2026, 3, 2)),  # naive is taken as UTC
    ],
)
def test_i1_today_is_computed_in_the_connection_time_zone(
    now_utc: datetime, zone: str, expected: date
) -> None:
    assert local_today(now_utc, zone) == expected


def test_i1_date_delivered_tomorrow_in_utc_is_today_in_auckland() -> None:
    """A 2 March invoice waits in UTC at 12:30 on 1 March, but is due in Auckland at that instant."""
    now = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    inv = invoice(date_delivered=date(2026, 3, 2))
    utc_conn = connection(time_zone="UTC")
    nz_conn = connection(time_zone="Pacific/Auckland")
    assert not check_eligibility(inv, details(), utc_conn, local_today(now, utc_conn.time_zone)).eligible
    assert check_eligibility(inv, details(), nz_conn, local_today(now, nz_conn.time_zone)).eligible


@pytest.mark.parametrize("zone", ["Mars/Olympus", "America", ""])  # "America" is a folder of zones
def test_i1_unknown_time_zone_is_an_error_not_utc(zone: str) -> None:
    with pytest.raises(ValueError, match=f"Unknown time zone '{zone}'"):
        local_today(datetime(2026, 3, 2, tzinfo=UTC), zone)


READY = {"export_status": ExportStatus.READY_TO_UPDATE, "xero_invoice_id": "a1b2"}


def test_i11_update_refused_when_connection_does_not_allow_updates() -> None:
    decision = decide_update(invoice(), details(**READY), connection())
    assert decision.allowed is False
    assert decision.reason == (
        'Invoice updates are not allowed for connection Contoso UK: turn on "Allow invoice update in Xero" '
        "to push changes."
    )


def test_i11_unpaid_invoice_is_fully_updatable() -> None:
    decision = decide_update(
        invoice(), details(**READY, xero_status="AUTHORISED"), connection(allow_invoice_update=True)
    )
    assert decision.allowed is True
    assert decision.scope == "full"


@pytest.mark.parametrize(
    ("xero_status", "amount_paid"),
    [("PAID", Decimal("120.00")), ("AUTHORISED", Decimal("0.01"))],
)
def test_i11_paid_invoice_updates_only_the_paid_fields(xero_status: str, amount_paid: Decimal) -> None:
    decision = decide_update(
        invoice(),
        details(**READY, xero_status=xero_status, amount_paid=amount_paid),
        connection(allow_invoice_update=True),
    )
    assert decision.allowed is True
    assert decision.scope == "paid_fields_only"


@pytest.mark.parametrize(
    ("xero_status", "amount_paid"),
    [("PAID", Decimal("120.00")), ("AUTHORISED", Decimal("50.00"))],
)
def test_i11_paid_bill_is_never_updated(xero_status: str, amount_paid: Decimal) -> None:
    decision = decide_update(
        invoice(invoice_type="purchase"),
        details(**READY, xero_status=xero_status, amount_paid=amount_paid),
        connection(allow_invoice_update=True),
    )
    assert decision.allowed is False
    assert decision.reason == "The bill is paid in Xero; paid bills are never updated."


def test_i11_unpaid_bill_is_updatable() -> None:
    decision = decide_update(
        invoice(invoice_type="purchase"),
        details(**READY, xero_status="AUTHORISED", amount_paid=Decimal(0)),
        connection(allow_invoice_update=True),
    )
    assert (decision.allowed, decision.scope) == (True, "full")


def test_i11_update_needs_ready_to_update_and_a_xero_invoice() -> None:
    conn = connection(allow_invoice_update=True)
    not_ready = decide_update(invoice(), details(export_status=ExportStatus.YES, xero_invoice_id="a1"), conn)
    never_sent = decide_update(invoice(), details(export_status=ExportStatus.READY_TO_UPDATE), conn)
    assert (not_ready.allowed, not_ready.reason) == (False, 'Export status is not "Ready to update".')
    assert never_sent.allowed is False
    assert never_sent.reason == (
        'The invoice has not been created in Xero yet; set export status to "No" to create it.'
    )


def test_i13_date_delivered_set_on_create_when_setting_on() -> None:
    conn = connection(set_date_delivered_on_create=True)
    assert date_delivered_on_create(invoice(date_delivered=None), conn, TODAY) == date(2026, 3, 2)


def test_i13_date_delivered_left_alone_when_setting_off_or_already_set() -> None:
    assert date_delivered_on_create(invoice(date_delivered=None), connection(), TODAY) is None
    conn = connection(set_date_delivered_on_create=True)
    assert date_delivered_on_create(invoice(date_delivered=date(2026, 2, 1)), conn, TODAY) is None

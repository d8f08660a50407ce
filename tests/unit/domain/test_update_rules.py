"""I11 decided from Xero's current state: which rows of the update rules allow what, what a paid invoice
keeps, and B2's overdue figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from connector.domain.back_sync.rules import overdue_figures
from connector.domain.dynamics import ExportStatus
from connector.domain.sync.eligibility import decide_update, update_settings_refusal
from connector.domain.sync.invoice import full_invoice_update, locked_changes, with_line_ids
from connector.domain.xero_records import XeroInvoice, XeroInvoiceDraft, XeroLineItem, XeroLineTracking
from tests.factories import connection, details, invoice

READY = details(export_status=ExportStatus.READY_TO_UPDATE, xero_invoice_id="x-1", xero_status="DRAFT")
ALLOWED = connection(allow_invoice_update=True)


def xero(status: str = "DRAFT", **overrides: Any) -> XeroInvoice:
    values: dict[str, Any] = {"invoice_id": "x-1", "type": "ACCREC", "status": status, **overrides}
    return XeroInvoice.model_validate(values)


@pytest.mark.parametrize(
    ("current", "default_status", "status"),
    [
        ("DRAFT", "DRAFT", "DRAFT"),
        ("DRAFT", "SUBMITTED", "SUBMITTED"),
        ("DRAFT", "AUTHORISED", "AUTHORISED"),
        ("SUBMITTED", "DRAFT", "SUBMITTED"),  # a Xero user's submission is never undone
        ("SUBMITTED", "AUTHORISED", "AUTHORISED"),
        ("AUTHORISED", "DRAFT", "AUTHORISED"),  # never backwards
    ],
)
def test_i11_unpaid_invoices_take_everything_and_their_status_only_moves_forward(
    current: str, default_status: str, status: str
) -> None:
    decision = decide_update(
        invoice(),
        READY,
        connection(allow_invoice_update=True, default_invoice_status=default_status),
        xero(current),
    )
    assert (decision.allowed, decision.scope, decision.status) == (True, "full", status)


@pytest.mark.parametrize(
    ("status", "paid", "credited"),
    [("AUTHORISED", "10.00", "0"), ("AUTHORISED", "0", "5.00"), ("PAID", "57.50", "0")],
    ids=["part-paid", "credit-allocated", "paid"],
)
def test_i11_an_invoice_with_payments_changes_only_the_paid_fields_at_its_own_status(
    status: str, paid: str, credited: str
) -> None:
    current = xero(status, amount_paid=Decimal(paid), amount_credited=Decimal(credited))
    decision = decide_update(invoice(), READY, ALLOWED, current)
    assert (decision.allowed, decision.scope, decision.status) == (True, "paid_fields_only", status)


@pytest.mark.parametrize(("status", "paid"), [("AUTHORISED", "1.00"), ("PAID", "57.50")])
def test_i11_a_paid_bill_is_never_updated(status: str, paid: str) -> None:
    decision = decide_update(
        invoice(invoice_type="purchase"),
        READY,
        ALLOWED,
        xero(status, type="ACCPAY", amount_paid=Decimal(paid)),
    )
    assert (decision.allowed, decision.reason) == (
        False,
        "The bill is paid in Xero; paid bills are never updated.",
    )


@pytest.mark.parametrize("status", ["VOIDED", "DELETED"])
def test_i11_a_voided_or_deleted_invoice_is_not_updated(status: str) -> None:
    decision = decide_update(invoice(), READY, ALLOWED, xero(status))
    assert (decision.allowed, decision.reason) == (
        False,
        f"The Xero invoice is {status.lower()}, so it can no longer be changed.",
    )


def test_i11_xeros_current_state_wins_over_the_last_back_sync() -> None:
    """The details still say PAID (a payment since deleted in Xero): the bill is updatable again."""
    stale = READY.model_copy(update={"xero_status": "PAID", "amount_paid": Decimal("57.50")})
    bill = invoice(invoice_type="purchase")
    assert decide_update(bill, stale, ALLOWED).allowed is False
    assert decide_update(bill, stale, ALLOWED, xero("AUTHORISED", type="ACCPAY")).scope == "full"


def test_i11_the_settings_are_checked_before_any_xero_call() -> None:
    assert update_settings_refusal(READY, ALLOWED) is None
    off = update_settings_refusal(READY, connection())
    assert off is not None and off.reason and off.reason.startswith("Invoice updates are not allowed")
    never_sent = update_settings_refusal(READY.model_copy(update={"xero_invoice_id": None}), ALLOWED)
    assert never_sent is not None and not never_sent.allowed


def line(quantity: str | None = "2", unit: str | None = "25.00", **extra: Any) -> XeroLineItem:
    values = {
        "description": "Widget",
        "quantity": quantity,
        "unit_amount": unit,
        "account_code": "200",
        **extra,
    }
    return XeroLineItem.model_validate(values)


def draft(lines: list[XeroLineItem], **extra: Any) -> XeroInvoiceDraft:
    return XeroInvoiceDraft.model_validate({"type": "ACCREC", "line_items": lines, **extra})


HELD = (line(line_item_id="li-1", tax_type="OUTPUT2"), line("1", "10.00", line_item_id="li-2"))
CURRENT = xero(
    "AUTHORISED",
    amount_paid=Decimal("10"),
    date=date(2026, 11, 1),
    currency_code="NZD",
    line_amount_types="Exclusive",
    line_items=HELD,
)


def test_i11_what_a_paid_invoice_keeps_is_named_in_words() -> None:
    same = draft([line(description="Widget, blue", account_code="260"), line("1", "10.00")])
    assert locked_changes(same, CURRENT) == []  # descriptions and account codes may change
    moved = draft(
        [line("3", "25.00", tax_type="INPUT2", discount_rate=Decimal(10)), line("1", "12.00"), line()],
        date=date(2026, 11, 5),
        currency_code="USD",
        line_amount_types="Inclusive",
    )
    assert locked_changes(moved, CURRENT) == [
        "the date",
        "the currency",
        "whether amounts include tax",
        "the number of lines (3 in Dynamics, 2 in Xero)",
        "the quantity, discount and tax type of line 1",
        "the unit price of line 2",
    ]


def test_i11_a_value_left_to_xero_is_not_a_change() -> None:
    note = draft([line(None, None, description="Thanks!"), line("1", "10.00")])
    assert locked_changes(note, CURRENT) == []
    untaxed = CURRENT.model_copy(update={"line_items": (line(line_item_id="li-1"), HELD[1])})
    assert locked_changes(draft([line(tax_type="OUTPUT2"), line("1", "10.00")]), untaxed) == []


def test_i11_a_full_update_names_xeros_lines_in_order_and_adds_the_rest() -> None:
    tracked = line(tracking=(XeroLineTracking(category="Region", option="North"),))
    lines = with_line_ids([tracked, line("1", "10.00"), line("1", "5.00")], HELD)
    assert [li.line_item_id for li in lines] == ["li-1", "li-2", None]
    assert lines[0].tracking == tracked.tracking
    sent = full_invoice_update(draft([line()]), CURRENT, "AUTHORISED")
    assert (sent.status, [li.line_item_id for li in sent.line_items]) == ("AUTHORISED", ["li-1"])


def test_i11_a_line_dumps_without_an_id_as_before() -> None:
    """Pending creates fingerprint drafts: a line with no Xero id must dump exactly as it did."""
    assert "line_item_id" not in line().model_dump()
    assert line(line_item_id="li-9").model_dump()["line_item_id"] == "li-9"


@pytest.mark.parametrize(
    ("status", "due", "due_date", "expected"),
    [
        ("AUTHORISED", "40.00", date(2026, 11, 10), (Decimal("40.00"), 11)),
        ("AUTHORISED", "40.00", date(2026, 11, 21), (Decimal(0), 0)),  # due today is not overdue
        ("AUTHORISED", "0", date(2026, 11, 1), (Decimal(0), 0)),
        ("PAID", "0", date(2026, 11, 1), (Decimal(0), 0)),
        ("DRAFT", "40.00", date(2026, 11, 1), (Decimal(0), 0)),
        ("AUTHORISED", "40.00", None, (Decimal(0), 0)),
    ],
)
def test_b2_overdue_amount_and_days(
    status: str, due: str, due_date: date | None, expected: tuple[Decimal, int]
) -> None:
    assert overdue_figures(status, Decimal(due), due_date, date(2026, 11, 21)) == expected

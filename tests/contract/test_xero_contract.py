"""The Xero port's contract (issue 10): FakeXero and XeroClient-on-the-emulator answer alike.

Each test runs on both sides (tests/contract/conftest.py). Xero's words are the emulator's
(devstack/xero/README.md says which of them are assumptions).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from connector.adapters.xero.errors import XeroApiError
from connector.domain.sync.invoice import full_invoice_update, locked_changes, paid_invoice_update
from connector.domain.xero_records import XeroCreditNoteDraft, XeroInvoice, XeroLineTracking
from connector.errors import NotFoundError, RetryableError, XeroValidationError
from tests.contract.conftest import XeroSide, draft, key, line

NOT_MODIFIABLE = "Invoice not of valid status for modification"
HAS_PAYMENTS = "This document cannot be edited as it has a payment or credit note allocated to it."
NOT_EMAILABLE = "Only AUTHORISED sales invoices can be emailed"
JPY = "Organisation is not subscribed to currency JPY"  # a real currency the organisation lacks


def refused(call: object) -> list[str]:
    """Xero's messages for a refused call (the call is a zero-argument lambda)."""
    assert callable(call)
    with pytest.raises(XeroValidationError) as caught:
        call()
    return list(caught.value.messages)


def created(xero: XeroSide, status: str = "DRAFT", **overrides: object) -> XeroInvoice:
    return xero.port.create_invoice(draft(xero, status=status, **overrides), key())


def paid_part(xero: XeroSide, amount: str = "10.00") -> XeroInvoice:
    invoice = created(xero, "AUTHORISED")
    xero.pay(invoice.invoice_id, Decimal(amount))
    return xero.port.get_invoice(invoice.invoice_id)


# --- I7: create --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["DRAFT", "AUTHORISED"])
def test_i7_create_draft_or_authorised_with_xeros_totals(xero: XeroSide, status: str) -> None:
    sent = draft(xero, status=status)
    invoice = xero.port.create_invoice(sent, key())
    assert invoice.status == status
    assert invoice.invoice_number and invoice.invoice_number.startswith("INV-")
    assert (invoice.sub_total, invoice.total_tax, invoice.total) == (
        Decimal("50"),
        Decimal("7.5"),
        Decimal("57.5"),
    )
    assert invoice.amount_due == Decimal("57.50")
    assert (invoice.reference, invoice.url, invoice.contact_id) == (sent.reference, sent.url, xero.contact_id)
    again = xero.port.get_invoice(invoice.invoice_id)
    assert (again.status, again.total, again.invoice_number) == (
        status,
        invoice.total,
        invoice.invoice_number,
    )


def test_i7_online_invoice_url_for_an_authorised_invoice_and_none_for_a_draft(xero: XeroSide) -> None:
    url = xero.port.get_online_invoice_url(created(xero, "AUTHORISED").invoice_id)
    assert url and url.startswith("http")
    assert refused(lambda: xero.port.get_online_invoice_url(created(xero).invoice_id)) == [
        "No online invoice for a draft, deleted or purchase invoice"
    ]


def test_i7_an_unknown_invoice_is_not_found(xero: XeroSide) -> None:
    with pytest.raises(NotFoundError):
        xero.port.get_invoice("6f0b1a6e-1111-4222-8333-944455556666")


# --- I10: Xero's validation, word for word -------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "messages"),
    [
        ({"currency_code": "JPY"}, [JPY]),
        (
            {"line_items": [line(account_code="NOPE")]},
            ["Account code 'NOPE' is not a valid code for this document."],
        ),
        (
            {"line_items": [line(account_code="999")]},
            ["Account code '999' is not a valid code for this document."],
        ),
        (
            {"line_items": [line(account_code=None)]},
            ["Account code must be specified for a line item with an amount"],
        ),
        (
            {"currency_code": "JPY", "line_items": [line(account_code="NOPE")]},
            [JPY, "Account code 'NOPE' is not a valid code for this document."],
        ),
        (
            {"status": "AUTHORISED", "line_items": []},
            ["A Invoice must have at least one line item to be approved"],
        ),
    ],
    ids=["currency", "unknown-account", "archived-account", "no-account", "both", "approve-empty"],
)
def test_i10_a_refused_create_raises_xeros_words_and_creates_nothing(
    xero: XeroSide, overrides: dict[str, object], messages: list[str]
) -> None:
    sent = draft(xero, **overrides)
    assert refused(lambda: xero.port.create_invoice(sent, key())) == messages
    assert xero.port.find_invoices_by_urls([sent.url or ""]) == []


def test_i10_invoice_numbers_are_unique_until_deleted(xero: XeroSide) -> None:
    first = created(xero)
    assert first.invoice_number
    assert refused(lambda: created(xero, invoice_number=first.invoice_number)) == [
        "Invoice # must be unique."
    ]
    xero.port.set_invoice_status(first.invoice_id, "DELETED", key())
    assert created(xero, invoice_number=first.invoice_number).invoice_number == first.invoice_number


# --- I11: updates and the status machine ---------------------------------------------------------------


def test_i11_a_draft_takes_any_change_and_xero_recomputes_its_totals(xero: XeroSide) -> None:
    sent = draft(xero)
    invoice = xero.port.create_invoice(sent, key())
    changed = sent.model_copy(update={"reference": "ORD-CHANGED", "line_items": [line(quantity="3")]})
    updated = xero.port.update_invoice(invoice.invoice_id, changed, key())
    assert updated.reference == "ORD-CHANGED"
    assert (updated.total, updated.amount_due) == (Decimal("86.25"), Decimal("86.25"))
    assert xero.port.get_invoice(invoice.invoice_id).total == Decimal("86.25")


def test_i11_status_moves_forward_draft_submitted_draft_authorised(xero: XeroSide) -> None:
    sent = draft(xero)
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    for status in ("SUBMITTED", "DRAFT", "SUBMITTED", "AUTHORISED"):
        moved = xero.port.update_invoice(invoice_id, sent.model_copy(update={"status": status}), key())
        assert moved.status == status


@pytest.mark.parametrize("target", ["DRAFT", "SUBMITTED"])
def test_i11_an_authorised_invoice_cannot_go_back(xero: XeroSide, target: str) -> None:
    sent = draft(xero, status="AUTHORISED")
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    back = sent.model_copy(update={"status": target})
    assert refused(lambda: xero.port.update_invoice(invoice_id, back, key())) == [
        f"{NOT_MODIFIABLE}: an AUTHORISED document cannot go back to {target}"
    ]
    assert xero.port.get_invoice(invoice_id).status == "AUTHORISED"


def test_i11_paid_cannot_be_asked_for(xero: XeroSide) -> None:
    sent = draft(xero, status="AUTHORISED")
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    assert refused(
        lambda: xero.port.update_invoice(invoice_id, sent.model_copy(update={"status": "PAID"}), key())
    ) == ["Invoice status cannot be set to PAID; it becomes PAID when fully paid"]


def test_i11_a_part_paid_invoice_changes_only_what_xero_allows(xero: XeroSide) -> None:
    sent = draft(xero, status="AUTHORISED")
    invoice = xero.port.create_invoice(sent, key())
    xero.pay(invoice.invoice_id, Decimal("10.00"))
    allowed = sent.model_copy(
        update={
            "reference": "ORD-PAID-EDIT",
            "due_date": dt.date(2026, 12, 5),
            "url": sent.url + "&edited=1" if sent.url else None,
            "invoice_number": f"{invoice.invoice_number}-A",
            "line_items": [line(description="Widget, blue", account_code="260")],
        }
    )
    updated = xero.port.update_invoice(invoice.invoice_id, allowed, key())
    assert (updated.reference, updated.due_date, updated.url) == (
        allowed.reference,
        allowed.due_date,
        allowed.url,
    )
    assert updated.invoice_number == allowed.invoice_number
    assert (updated.total, updated.amount_due) == (Decimal("57.5"), Decimal("47.5"))

    refusals: dict[str, dict[str, object]] = {
        "quantity": {"line_items": [line(quantity="3")]},
        "unit amount": {"line_items": [line(unit="30.00")]},
        "another line": {"line_items": [line(), line()]},
        "date": {"date": dt.date(2026, 11, 5)},
        "amount types": {"line_amount_types": "Inclusive"},
    }
    for name, change in refusals.items():
        attempt = allowed.model_copy(update=change)
        assert refused(lambda a=attempt: xero.port.update_invoice(invoice.invoice_id, a, key())) == [
            HAS_PAYMENTS
        ], name
    assert refused(lambda: xero.port.set_invoice_status(invoice.invoice_id, "VOIDED", key())) == [
        HAS_PAYMENTS
    ]
    assert xero.port.get_invoice(invoice.invoice_id).total == Decimal("57.5")
    # No LineItems at all is not "no lines": Xero keeps the ones it has.
    kept = xero.port.update_invoice(
        invoice.invoice_id, allowed.model_copy(update={"line_items": [], "reference": "ORD-NO-LINES"}), key()
    )
    assert (kept.reference, kept.total, len(kept.line_items)) == ("ORD-NO-LINES", Decimal("57.5"), 1)


def test_i11_a_paid_invoice_keeps_its_status_and_amounts(xero: XeroSide) -> None:
    sent = draft(xero, status="AUTHORISED")
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    xero.pay(invoice_id, None)
    assert xero.port.get_invoice(invoice_id).status == "PAID"
    assert refused(
        lambda: xero.port.update_invoice(invoice_id, sent.model_copy(update={"reference": "R"}), key())
    ) == [NOT_MODIFIABLE]
    kept = sent.model_copy(update={"status": "PAID", "reference": "ORD-AFTER-PAYMENT"})
    assert xero.port.update_invoice(invoice_id, kept, key()).reference == "ORD-AFTER-PAYMENT"
    assert refused(lambda: xero.port.set_invoice_status(invoice_id, "DELETED", key())) == [NOT_MODIFIABLE]


REGION_NORTH = (XeroLineTracking(category="Region", option="North"),)
REGION_SOUTH = (XeroLineTracking(category="Region", option="South"),)


def test_i11_a_read_carries_the_lines_with_their_ids_and_tracking(xero: XeroSide) -> None:
    sent = draft(xero, line_items=[line(tracking=REGION_NORTH), line("1", "10.00", description="Fitting")])
    invoice = xero.port.create_invoice(sent, key())
    read = xero.port.get_invoice(invoice.invoice_id)
    assert read.line_amount_types == "Exclusive"
    assert [(li.description, li.quantity, li.unit_amount, li.account_code) for li in read.line_items] == [
        ("Widget", Decimal("2"), Decimal("25"), "200"),
        ("Fitting", Decimal("1"), Decimal("10"), "200"),
    ]
    assert [li.tracking for li in read.line_items] == [REGION_NORTH, ()]
    ids = [li.line_item_id for li in read.line_items]
    assert all(ids) and len(set(ids)) == 2


def test_i11_a_full_update_keeps_the_lines_it_names(xero: XeroSide) -> None:
    sent = draft(xero, status="AUTHORISED", line_items=[line(), line("1", "10.00")])
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    current = xero.port.get_invoice(invoice_id)
    edited = sent.model_copy(
        update={"line_items": [line(quantity="3"), line("1", "10.00"), line("1", "5.00")]}
    )
    updated = xero.port.update_invoice(invoice_id, full_invoice_update(edited, current, "AUTHORISED"), key())
    assert updated.status == "AUTHORISED" and updated.total == Decimal("103.5")  # (75 + 10 + 5) × 1.15
    held = [li.line_item_id for li in current.line_items]
    assert [li.line_item_id for li in updated.line_items][:2] == held
    assert updated.line_items[2].line_item_id not in held


@pytest.mark.parametrize("paid", ["part", "full"])
def test_i11_the_connectors_paid_update_changes_what_xero_allows_and_keeps_the_amounts(
    xero: XeroSide, paid: str
) -> None:
    sent = draft(xero, status="AUTHORISED", line_items=[line(tracking=REGION_NORTH)])
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    xero.pay(invoice_id, Decimal("10.00") if paid == "part" else None)
    current = xero.port.get_invoice(invoice_id)
    edited = sent.model_copy(
        update={
            "reference": "ORD-EDITED",
            "due_date": dt.date(2026, 12, 24),
            "line_items": [
                line("3", "30.00", description="Widget, blue", account_code="260", tracking=REGION_SOUTH)
            ],
        }
    )
    updated = xero.port.update_invoice(invoice_id, paid_invoice_update(edited, current), key())
    assert (updated.status, updated.reference, updated.due_date) == (
        current.status,
        "ORD-EDITED",
        dt.date(2026, 12, 24),
    )
    [held] = xero.port.get_invoice(invoice_id).line_items
    assert (held.line_item_id, held.description, held.account_code, held.tracking) == (
        current.line_items[0].line_item_id,
        "Widget, blue",
        "260",
        REGION_SOUTH,
    )
    assert (held.quantity, held.unit_amount, updated.total) == (Decimal("2"), Decimal("25"), Decimal("57.5"))
    assert locked_changes(edited, current) == ["the quantity and unit price of line 1"]


def test_i11_the_connectors_paid_update_clears_tracking_the_user_removed(xero: XeroSide) -> None:
    sent = draft(xero, status="AUTHORISED", line_items=[line(tracking=REGION_NORTH)])
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    xero.pay(invoice_id, Decimal("10.00"))
    current = xero.port.get_invoice(invoice_id)
    untracked = sent.model_copy(update={"line_items": [line()]})
    xero.port.update_invoice(invoice_id, paid_invoice_update(untracked, current), key())
    assert xero.port.get_invoice(invoice_id).line_items[0].tracking == ()


def test_i11_a_draft_updated_without_lines_keeps_them(xero: XeroSide) -> None:
    sent = draft(xero)
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    moved = sent.model_copy(update={"line_items": [], "status": "AUTHORISED", "reference": "ORD-APPROVED"})
    updated = xero.port.update_invoice(invoice_id, moved, key())
    assert (updated.status, updated.reference, updated.total) == (
        "AUTHORISED",
        "ORD-APPROVED",
        Decimal("57.5"),
    )


# --- I8: email -----------------------------------------------------------------------------------------


def test_i8_only_authorised_sales_invoices_are_emailed(xero: XeroSide) -> None:
    draft_id = created(xero).invoice_id
    assert refused(lambda: xero.port.email_invoice(draft_id, key())) == [NOT_EMAILABLE]
    xero.approve(draft_id)
    xero.port.email_invoice(draft_id, key())
    paid = created(xero, "AUTHORISED").invoice_id
    xero.pay(paid, None)
    assert refused(lambda: xero.port.email_invoice(paid, key())) == [NOT_EMAILABLE]
    with pytest.raises(NotFoundError):
        xero.port.email_invoice("6f0b1a6e-1111-4222-8333-944455556666", key())


def test_i8_an_email_that_fails_on_the_way_is_sent_by_the_retry_with_the_same_key(xero: XeroSide) -> None:
    invoice_id = created(xero, "AUTHORISED").invoice_id
    email_key = key()
    xero.fail_next_email()
    with pytest.raises(RetryableError):
        xero.port.email_invoice(invoice_id, email_key)
    assert xero.port.get_invoice(invoice_id).sent_to_contact is False
    xero.port.email_invoice(invoice_id, email_key)  # a 5xx is not kept against the key
    assert xero.port.get_invoice(invoice_id).sent_to_contact is True


def test_i8_the_same_email_key_is_replayed_even_once_the_invoice_is_paid(xero: XeroSide) -> None:
    """Why the connector keeps one key per Xero invoice: a retry after a lost answer sends nothing."""
    invoice_id = created(xero, "AUTHORISED").invoice_id
    email_key = key()
    xero.port.email_invoice(invoice_id, email_key)
    xero.pay(invoice_id, None)
    xero.port.email_invoice(invoice_id, email_key)  # replayed: no refusal for a now-paid invoice
    assert refused(lambda: xero.port.email_invoice(invoice_id, key())) == [NOT_EMAILABLE]


# --- O7: Idempotency-Key ----------------------------------------------------------------------------------


def test_o7_the_same_key_and_body_replay_the_first_create(xero: XeroSide) -> None:
    sent, create_key = draft(xero), key()
    first = xero.port.create_invoice(sent, create_key)
    second = xero.port.create_invoice(sent, create_key)
    assert second.invoice_id == first.invoice_id
    assert [i.invoice_id for i in xero.port.find_invoices_by_urls([sent.url or ""])] == [first.invoice_id]


def test_o7_the_same_key_with_another_request_is_refused_with_422(xero: XeroSide) -> None:
    sent, create_key = draft(xero), key()
    first = xero.port.create_invoice(sent, create_key)
    with pytest.raises(XeroApiError) as other_body:
        xero.port.create_invoice(sent.model_copy(update={"reference": "ORD-OTHER"}), create_key)
    with pytest.raises(XeroApiError) as other_call:
        xero.port.set_invoice_status(first.invoice_id, "DELETED", create_key)
    assert (other_body.value.status, other_call.value.status) == (422, 422)
    assert xero.port.get_invoice(first.invoice_id).status == "DRAFT"
    assert len(xero.port.find_invoices_by_urls([sent.url or ""])) == 1


def test_o7_a_refusal_is_replayed_too(xero: XeroSide) -> None:
    """Xero keeps any answer but a 5xx: the same key and body get the same 400 again."""
    sent, create_key = draft(xero, currency_code="JPY"), key()
    assert refused(lambda: xero.port.create_invoice(sent, create_key)) == [JPY]
    assert refused(lambda: xero.port.create_invoice(sent, create_key)) == [JPY]
    with pytest.raises(XeroApiError) as fixed:
        xero.port.create_invoice(sent.model_copy(update={"currency_code": "NZD"}), create_key)
    assert fixed.value.status == 422  # a fixed invoice needs a key of its own
    assert xero.port.find_invoices_by_urls([sent.url or ""]) == []


# --- I2: batches -------------------------------------------------------------------------------------------


def test_i2_a_bad_element_fails_alone_with_summarize_errors_false(xero: XeroSide) -> None:
    good, bad, also_good = draft(xero), draft(xero, currency_code="JPY"), draft(xero)
    batch_key = key()
    results = xero.port.create_invoices([good, bad, also_good], batch_key, summarize_errors=False)
    assert [r.validation_errors for r in results] == [[], [JPY], []]
    assert results[0].invoice_id != results[2].invoice_id
    found = xero.port.find_invoices_by_urls([good.url or "", bad.url or "", also_good.url or ""])
    assert {i.invoice_id for i in found} == {results[0].invoice_id, results[2].invoice_id}
    replayed = xero.port.create_invoices([good, bad, also_good], batch_key, summarize_errors=False)
    assert [r.invoice_id for r in replayed] == [r.invoice_id for r in results]


def test_i2_summarized_errors_fail_the_call_yet_keep_the_good_elements(xero: XeroSide) -> None:
    good, bad = draft(xero), draft(xero, currency_code="JPY")
    assert refused(lambda: xero.port.create_invoices([good, bad], key(), summarize_errors=True)) == [JPY]
    assert len(xero.port.find_invoices_by_urls([good.url or "", bad.url or ""])) == 1


def test_o7_find_invoices_by_urls_finds_exactly_those(xero: XeroSide) -> None:
    invoices = [created(xero) for _ in range(3)]
    urls = [xero.port.get_invoice(i.invoice_id).url or "" for i in invoices]
    found = xero.port.find_invoices_by_urls([urls[0], urls[2].upper(), "https://crm.example/never-sent"])
    assert {i.invoice_id for i in found} == {invoices[0].invoice_id, invoices[2].invoice_id}
    assert xero.port.find_invoices_by_urls(["https://crm.example/never-sent"]) == []


# --- X1: credit notes and allocation ----------------------------------------------------------------------


def credit_note(xero: XeroSide, quantity: str = "4", reference: str = "CN-CONTRACT") -> XeroCreditNoteDraft:
    """4 × 25.00 + 15% GST = 115.00 of credit."""
    return XeroCreditNoteDraft(
        type="ACCRECCREDIT",
        contact_id=xero.contact_id,
        date=dt.date(2026, 11, 2),
        reference=reference,
        currency_code="NZD",
        line_items=[line(quantity=quantity)],
    )


def test_x1_a_credit_note_allocates_within_its_credit_and_the_amount_due(xero: XeroSide) -> None:
    reference = f"CN-{key()[-8:]}"
    note = xero.port.create_credit_note(credit_note(xero, reference=reference), key())
    assert (note.status, note.total, note.remaining_credit) == ("AUTHORISED", Decimal("115"), Decimal("115"))
    assert note.credit_note_number and note.credit_note_number.startswith("CN-")
    first, second, drafted = (
        created(xero, "AUTHORISED"),
        created(xero, "AUTHORISED", line_items=[line("4")]),
        created(xero),
    )
    foreign = created(xero, "AUTHORISED", contact_id=xero.other_contact_id())

    def allocate(invoice: XeroInvoice, amount: str) -> list[str]:
        return refused(
            lambda: xero.port.allocate_credit_note(
                note.credit_note_id, invoice.invoice_id, Decimal(amount), key()
            )
        )

    assert allocate(drafted, "10") == ["Credit notes can only be allocated to AUTHORISED invoices"]
    assert allocate(first, "0") == ["Allocation amount must be greater than zero"]
    assert allocate(first, "60") == ["The amount allocated exceeds the amount due on the invoice"]
    assert allocate(foreign, "5") == ["The credit note and the invoice must be for the same contact"]

    xero.port.allocate_credit_note(
        note.credit_note_id, first.invoice_id, Decimal("57.50"), key(), on=dt.date(2026, 11, 2)
    )
    credited = xero.port.get_invoice(first.invoice_id)
    assert (credited.status, credited.amount_credited, credited.amount_due) == (
        "PAID",
        Decimal("57.5"),
        Decimal(0),
    )
    assert allocate(second, "60") == ["The amount allocated exceeds the remaining credit on the credit note"]
    [found] = xero.port.find_credit_notes_by_reference(reference)
    assert (found.credit_note_id, found.remaining_credit) == (note.credit_note_id, Decimal("57.5"))
    assert refused(lambda: xero.port.set_invoice_status(first.invoice_id, "VOIDED", key())) == [HAS_PAYMENTS]


def test_x1_a_refused_credit_note_says_why(xero: XeroSide) -> None:
    bad = credit_note(xero).model_copy(update={"line_items": [line(account_code="NOPE")]})
    assert refused(lambda: xero.port.create_credit_note(bad, key())) == [
        "Account code 'NOPE' is not a valid code for this document."
    ]


# --- X2: void and delete -----------------------------------------------------------------------------------


def test_x2_a_draft_is_deleted_not_voided_and_then_read_only(xero: XeroSide) -> None:
    sent = draft(xero)
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    assert refused(lambda: xero.port.set_invoice_status(invoice_id, "VOIDED", key())) == [
        f"{NOT_MODIFIABLE}: only AUTHORISED documents can be voided; delete it instead"
    ]
    deleted = xero.port.set_invoice_status(invoice_id, "DELETED", key())
    assert (deleted.status, deleted.amount_due) == ("DELETED", Decimal(0))
    assert refused(lambda: xero.port.set_invoice_status(invoice_id, "DELETED", key())) == [NOT_MODIFIABLE]
    assert refused(lambda: xero.port.update_invoice(invoice_id, sent, key())) == [NOT_MODIFIABLE]
    assert xero.port.get_invoice(invoice_id).status == "DELETED"


def test_x2_an_authorised_invoice_is_voided_not_deleted_and_then_read_only(xero: XeroSide) -> None:
    sent = draft(xero, status="AUTHORISED")
    invoice_id = xero.port.create_invoice(sent, key()).invoice_id
    assert refused(lambda: xero.port.set_invoice_status(invoice_id, "DELETED", key())) == [
        f"{NOT_MODIFIABLE}: only DRAFT or SUBMITTED documents can be deleted; void it instead"
    ]
    void_key = key()
    voided = xero.port.set_invoice_status(invoice_id, "VOIDED", void_key)
    assert (voided.status, voided.amount_due) == ("VOIDED", Decimal(0))
    assert xero.port.set_invoice_status(invoice_id, "VOIDED", void_key).status == "VOIDED"  # a replay
    assert refused(lambda: xero.port.set_invoice_status(invoice_id, "VOIDED", key())) == [NOT_MODIFIABLE]
    assert refused(lambda: xero.port.update_invoice(invoice_id, sent, key())) == [NOT_MODIFIABLE]
    assert refused(lambda: xero.port.email_invoice(invoice_id, key())) == [NOT_EMAILABLE]


# --- I1 backfill: invoices already in Xero -----------------------------------------------------------------


def test_i1_find_invoices_by_numbers_finds_sales_and_bills_exactly(xero: XeroSide) -> None:
    sale = created(xero)
    bill = xero.port.create_invoice(
        draft(
            xero,
            type="ACCPAY",
            invoice_number="SUP-7731",
            reference=None,
            line_items=[line(account_code="300")],
        ),
        key(),
    )
    assert sale.invoice_number
    found = xero.port.find_invoices_by_numbers([sale.invoice_number, "SUP-7731", "NEVER-1", "sup-7731"])
    by_id = {i.invoice_id: i for i in found}
    assert set(by_id) == {sale.invoice_id, bill.invoice_id}
    assert (by_id[bill.invoice_id].type, by_id[bill.invoice_id].contact_id, by_id[bill.invoice_id].total) == (
        "ACCPAY",
        xero.contact_id,
        Decimal("57.5"),
    )
    assert xero.port.find_invoices_by_numbers(["NEVER-1"]) == []

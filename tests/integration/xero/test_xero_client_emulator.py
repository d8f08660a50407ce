"""XeroClient against the Xero emulator: every adapter method, error mapping, tokens, no duplicate PUTs."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from pydantic import SecretStr

from connector.adapters.storage.token_store import TokenSet
from connector.adapters.xero.client import XeroClient
from connector.domain.xero_records import (
    XeroAddress,
    XeroContactDraft,
    XeroCreditNoteDraft,
    XeroInvoiceDraft,
    XeroItemDraft,
    XeroLineItem,
)
from connector.errors import (
    AuthorisationError,
    RateLimitedError,
    RetryableError,
    XeroValidationError,
)
from connector.settings import load_settings
from devstack.xero.testing import SeededOrganisation, XeroEmulatorHandle, running_xero_emulator
from tests.fakes.storage import MemoryTokenStore

pytestmark = pytest.mark.integration

TIMEOUT_SECONDS = 2


@pytest.fixture(scope="module")
def xero() -> Iterator[XeroEmulatorHandle]:
    with running_xero_emulator() as handle:
        yield handle


@dataclass
class Connected:
    xero: XeroEmulatorHandle
    org: SeededOrganisation
    store: MemoryTokenStore
    client: XeroClient

    def contact_id(self, name: str = "Ridgeway University") -> str:
        found = self.client.find_contact_by_name(name)
        assert found is not None
        return found.contact_id


def token_set(token: dict[str, object]) -> TokenSet:
    return TokenSet.model_validate(
        {k: token[k] for k in ("access_token", "refresh_token", "expires_at", "scope") if k in token}
    )


def connect(
    xero: XeroEmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    *,
    custom: bool = False,
    store_token: bool = True,
) -> Connected:
    org = xero.seed_organisation(name=f"Org {uuid.uuid4().hex[:6]}", country="NZ", custom_connection=custom)
    monkeypatch.setenv("XERO_API_BASE_URL", xero.base_url + "/api.xro/2.0")
    monkeypatch.setenv("XERO_CONNECTIONS_BASE_URL", xero.base_url)
    monkeypatch.setenv("XERO_IDENTITY_BASE_URL", xero.base_url)
    monkeypatch.setenv("XERO_CLIENT_ID", org.client_id)
    monkeypatch.setenv("XERO_CLIENT_SECRET", org.client_secret)
    monkeypatch.setenv("XERO_TIMEOUT_SECONDS", str(TIMEOUT_SECONDS))
    store = MemoryTokenStore()
    if store_token:
        store.save("conn", token_set(org.token))
    client = XeroClient(
        load_settings(), "conn", "" if custom else org.tenant_id, store, custom_connection=custom
    )
    return Connected(xero, org, store, client)


@pytest.fixture
def conn(xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[Connected]:
    yield connect(xero, monkeypatch)
    xero.control.delete("/faults")


def invoice_draft(contact_id: str, **overrides: object) -> XeroInvoiceDraft:
    values: dict[str, object] = {
        "type": "ACCREC",
        "contact_id": contact_id,
        "date": dt.date(2026, 11, 1),
        "due_date": dt.date(2026, 11, 20),
        "reference": f"ORD-{uuid.uuid4().hex[:8]}",
        "url": f"https://crm.example/main.aspx?id={uuid.uuid4()}",
        "line_items": [
            XeroLineItem(
                description="Widget", quantity=Decimal(2), unit_amount=Decimal("25.00"), account_code="200"
            )
        ],
    }
    values.update(overrides)
    return XeroInvoiceDraft.model_validate(values)


def key() -> str:
    return uuid.uuid4().hex


def puts_to(conn: Connected, path_end: str) -> list[dict[str, object]]:
    """PUT requests this connection's organisation received (the emulator is shared by the module)."""
    return [
        r
        for r in conn.xero.request_log()
        if r["method"] == "PUT" and str(r["path"]).endswith(path_end) and r["tenant"] == conn.org.tenant_id
    ]


# --- contacts ---------------------------------------------------------------------------------------


def test_i5_contacts_find_create_update_and_balances(conn: Connected) -> None:
    client = conn.client
    by_name = client.find_contact_by_name("ridgeway university")
    by_number = client.find_contact_by_number("CUST-001")
    assert by_name is not None and by_number is not None
    assert by_name.contact_id == by_number.contact_id
    assert client.find_contact_by_name("Nobody Ltd") is None
    assert client.find_contact_by_number("NOPE-1") is None

    draft = XeroContactDraft(
        name="Contoso Pharmaceuticals",
        contact_number="CRM-42",
        email="ap@contoso.example",
        phone="+64 9 555 0100",
        address=XeroAddress(line1="1 Queen St", city="Auckland", postal_code="1010", country="New Zealand"),
    )
    created = client.create_contact(draft, key())
    assert created.name == "Contoso Pharmaceuticals"
    assert created.contact_number == "CRM-42"
    updated = client.update_contact(
        created.contact_id, draft.model_copy(update={"name": "Contoso Pharma"}), key()
    )
    assert updated.name == "Contoso Pharma"
    fetched = client.get_contact(created.contact_id)
    assert fetched.receivable_outstanding == Decimal(0)

    with pytest.raises(XeroValidationError) as caught:
        client.create_contact(XeroContactDraft(name="Contoso Pharma"), key())
    assert caught.value.messages and all(isinstance(m, str) and m for m in caught.value.messages)


# --- items ------------------------------------------------------------------------------------------


def test_i6_items_by_code_and_create(conn: Connected) -> None:
    client = conn.client
    found = client.get_items_by_codes(["WIDGET", "CONSULT", "NOT-THERE", "WIDGET"])
    assert sorted(item.code for item in found) == ["CONSULT", "WIDGET"]
    widget = next(item for item in found if item.code == "WIDGET")
    assert widget.sales_account_code == "200"
    assert client.get_items_by_codes([]) == []

    created = client.create_items(
        [XeroItemDraft(code="GADGET-9", name="Gadget", unit_price=Decimal("9.99"), sales_account_code="200")],
        key(),
    )
    assert [item.code for item in created] == ["GADGET-9"]
    assert [item.code for item in client.get_items_by_codes(["GADGET-9"])] == ["GADGET-9"]


# --- invoices ---------------------------------------------------------------------------------------


def test_i3_invoice_lifecycle_through_every_invoice_method(conn: Connected) -> None:
    client = conn.client
    contact_id = conn.contact_id()
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    draft = invoice_draft(contact_id)
    created = client.create_invoice(draft, key())
    assert created.status == "DRAFT"
    assert created.invoice_number
    assert created.sub_total == Decimal("50.00")
    assert created.total == Decimal("57.50")  # 15% NZ GST
    assert created.date == dt.date(2026, 11, 1)

    assert [i.invoice_id for i in client.find_invoices_by_urls([draft.url or ""])] == [created.invoice_id]
    by_reference = client.find_invoice_by_reference(draft.reference or "")
    assert by_reference is not None and by_reference.invoice_id == created.invoice_id
    assert client.find_invoice_by_reference("no-such-reference") is None

    changed = client.update_invoice(
        created.invoice_id, draft.model_copy(update={"reference": "ORD-CHANGED"}), key()
    )
    assert changed.reference == "ORD-CHANGED"
    assert client.get_invoice(created.invoice_id).reference == "ORD-CHANGED"

    modified = client.get_invoices_modified_since(started)
    assert created.invoice_id in {i.invoice_id for i in modified}
    # pageSize goes to Xero (reconcile asks for 1,000 a page): pages of one, oldest change first.
    second = client.create_invoice(invoice_draft(contact_id), key())
    modified = client.get_invoices_modified_since(started)
    assert [invoice.invoice_id for invoice in modified] == [created.invoice_id, second.invoice_id]
    pages = [client.get_invoices_modified_since(started, page, page_size=1) for page in (1, 2, 3)]
    assert all(len(page) <= 1 for page in pages)
    paged = [invoice.invoice_id for page in pages for invoice in page]
    assert paged == [invoice.invoice_id for invoice in modified][:3]

    approved = client.set_invoice_status(created.invoice_id, "AUTHORISED", key())
    assert approved.status == "AUTHORISED"
    url = client.get_online_invoice_url(created.invoice_id)
    assert url and url.startswith("http")
    client.email_invoice(created.invoice_id, key())
    assert client.get_contact(contact_id).receivable_outstanding == Decimal("57.50")

    voided = client.set_invoice_status(created.invoice_id, "VOIDED", key())
    assert voided.status == "VOIDED"

    other = client.create_invoice(invoice_draft(contact_id), key())
    assert client.set_invoice_status(other.invoice_id, "DELETED", key()).status == "DELETED"


def test_i4_unitdp_4_keeps_four_decimal_unit_amounts(conn: Connected) -> None:
    line = XeroLineItem(
        description="Bolt", quantity=Decimal(100), unit_amount=Decimal("10.1234"), account_code="200"
    )
    four = conn.client.create_invoice(invoice_draft(conn.contact_id(), line_items=[line], unit_dp=4), key())
    two = conn.client.create_invoice(invoice_draft(conn.contact_id(), line_items=[line]), key())
    assert four.sub_total == Decimal("1012.34")
    assert two.sub_total == Decimal("1012.00")


def test_i2_batch_gives_per_element_results_with_xeros_words(conn: Connected) -> None:
    contact_id = conn.contact_id()
    good = invoice_draft(contact_id)
    first = conn.client.create_invoice(invoice_draft(contact_id), key())
    duplicate_number = invoice_draft(contact_id, invoice_number=first.invoice_number)
    results = conn.client.create_invoices([good, duplicate_number], key())
    assert len(results) == 2
    assert results[0].validation_errors == [] and results[0].invoice_id
    assert results[1].validation_errors == ["Invoice # must be unique."]


def test_create_invoice_validation_error_keeps_xeros_message(conn: Connected) -> None:
    first = conn.client.create_invoice(invoice_draft(conn.contact_id()), key())
    with pytest.raises(XeroValidationError) as caught:
        conn.client.create_invoice(
            invoice_draft(conn.contact_id(), invoice_number=first.invoice_number), key()
        )
    assert caught.value.messages == ["Invoice # must be unique."]


def test_summarized_batch_400_is_a_validation_error(conn: Connected) -> None:
    bad_line = XeroLineItem(description="x", quantity=Decimal(1), unit_amount=Decimal(1), account_code="NOPE")
    with pytest.raises(XeroValidationError) as caught:
        conn.client.create_invoices([invoice_draft(conn.contact_id(), line_items=[bad_line])], key(), True)
    assert caught.value.messages


# --- credit notes -----------------------------------------------------------------------------------


def test_i9_credit_note_create_allocate_and_find(conn: Connected) -> None:
    client = conn.client
    contact_id = conn.contact_id()
    invoice = client.create_invoice(invoice_draft(contact_id, status="AUTHORISED"), key())
    reference = f"CANCEL-{uuid.uuid4().hex[:6]}"
    note = client.create_credit_note(
        XeroCreditNoteDraft(
            type="ACCRECCREDIT",
            contact_id=contact_id,
            date=dt.date(2026, 11, 2),
            reference=reference,
            line_items=[
                XeroLineItem(
                    description="Widget",
                    quantity=Decimal(2),
                    unit_amount=Decimal("25.00"),
                    account_code="200",
                )
            ],
        ),
        key(),
    )
    assert note.status == "AUTHORISED"
    assert note.total == Decimal("57.50")
    client.allocate_credit_note(
        note.credit_note_id, invoice.invoice_id, Decimal("57.50"), key(), on=dt.date(2026, 11, 2)
    )
    found = client.find_credit_notes_by_reference(reference)
    assert [(n.credit_note_id, n.remaining_credit) for n in found] == [(note.credit_note_id, Decimal(0))]
    after = client.get_invoice(invoice.invoice_id)
    assert after.amount_credited == Decimal("57.50")
    assert after.status == "PAID"


# --- reference data and identity --------------------------------------------------------------------


def test_c4_reference_data_and_connections(conn: Connected) -> None:
    client = conn.client
    rates = client.get_tax_rates()
    assert rates and all(isinstance(r.effective_rate, Decimal) for r in rates)
    assert "200" in {a.code for a in client.get_accounts()}
    assert "Standard" in {t.name for t in client.get_branding_themes()}
    assert conn.org.tenant_id in {c.tenant_id for c in client.get_connections()}


# --- bookkeeping --------------------------------------------------------------------------------------


def test_o3_calls_are_counted_and_headroom_captured(conn: Connected) -> None:
    client = conn.client
    client.get_accounts()
    first = client.last_headroom
    client.get_accounts()
    client.get_tax_rates()
    assert client.call_counts == {"get_accounts": 2, "get_tax_rates": 1}
    assert client.total_calls == 3
    assert first is not None and client.last_headroom is not None
    assert first.minute_remaining is not None and first.day_remaining is not None
    assert client.last_headroom.minute_remaining is not None
    assert client.last_headroom.minute_remaining < first.minute_remaining
    assert client.last_headroom.app_minute_remaining is not None


# --- error mapping ------------------------------------------------------------------------------------


def test_o3_429_from_a_fault_carries_retry_after_and_problem(conn: Connected) -> None:
    conn.xero.add_fault("rate_limit", method="GET", path="/Accounts", retry_after=7, problem="day")
    with pytest.raises(RateLimitedError) as caught:
        conn.client.get_accounts()
    assert caught.value.retry_after == 7.0
    assert caught.value.problem == "day"


def test_o3_the_real_minute_limit_maps_to_rate_limited(conn: Connected) -> None:
    conn.xero.set_limits(rate_limit_per_minute=2)
    try:
        conn.client.get_accounts()
        conn.client.get_accounts()
        with pytest.raises(RateLimitedError) as caught:
            conn.client.get_accounts()
        assert caught.value.problem == "minute"
        assert 0 < caught.value.retry_after <= 60
    finally:
        conn.xero.set_limits(rate_limit_per_minute=60)


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_fault_is_retryable(conn: Connected, status: int) -> None:
    conn.xero.add_fault("status", method="GET", path="/TaxRates", status=status)
    with pytest.raises(RetryableError) as caught:
        conn.client.get_tax_rates()
    assert not isinstance(caught.value, RateLimitedError)


def test_dropped_connection_is_retryable(conn: Connected) -> None:
    conn.xero.add_fault("drop", method="GET", path="/Accounts")
    with pytest.raises(RetryableError):
        conn.client.get_accounts()


def test_an_expired_access_token_gets_401_then_one_refresh_and_retry(conn: Connected) -> None:
    original = conn.store.get("conn")
    assert original is not None and original.refresh_token is not None
    conn.xero.advance_clock(3600)  # the emulator now sees our access token as expired; we do not
    try:
        assert conn.client.get_accounts()
    finally:
        conn.xero.advance_clock(-3600)
    rotated = conn.store.get("conn")
    assert rotated is not None and rotated.refresh_token is not None
    assert rotated.refresh_token.get_secret_value() != original.refresh_token.get_secret_value()
    assert conn.client.call_counts["get_accounts"] == 2  # the 401 and the retry


def test_a_revoked_refresh_token_is_an_authorisation_error(conn: Connected) -> None:
    conn.store.save(
        "conn",
        TokenSet(
            access_token=SecretStr("not-a-token"),
            refresh_token=SecretStr("revoked-refresh-token"),
            expires_at=time.time() + 5,  # due for refresh
            scope=["offline_access"],
        ),
    )
    with pytest.raises(AuthorisationError) as caught:
        conn.client.get_accounts()
    assert "invalid_grant" in str(caught.value)
    assert "revoked-refresh-token" not in str(caught.value)


def test_a_bad_access_token_with_a_bad_refresh_is_an_authorisation_error(conn: Connected) -> None:
    conn.store.save(
        "conn",
        TokenSet(
            access_token=SecretStr("bogus"),
            refresh_token=SecretStr("also-bogus"),
            expires_at=time.time() + 900,
        ),
    )
    with pytest.raises(AuthorisationError):
        conn.client.get_tax_rates()


def test_custom_connection_fetches_its_own_token(
    xero: XeroEmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = connect(xero, monkeypatch, custom=True, store_token=False)
    assert "200" in {a.code for a in custom.client.get_accounts()}
    stored = custom.store.get("conn")
    assert stored is not None
    assert stored.grant_type == "client_credentials"
    assert stored.refresh_token is None


# --- no duplicates --------------------------------------------------------------------------------


def test_a_slow_put_reaches_xero_once(conn: Connected) -> None:
    conn.xero.add_fault("slow", method="PUT", path="/Invoices$", delay=TIMEOUT_SECONDS + 1.5)
    draft = invoice_draft(conn.contact_id())
    with pytest.raises(RetryableError):
        conn.client.create_invoice(draft, key())
    time.sleep(2.0)  # a hidden urllib3 retry would have arrived by now
    assert len(puts_to(conn, "/Invoices")) == 1


def test_commit_then_timeout_is_found_by_url_and_the_retry_does_not_duplicate(conn: Connected) -> None:
    conn.xero.add_fault("commit_then_timeout", method="PUT", path="/Invoices$", delay=TIMEOUT_SECONDS + 1)
    draft = invoice_draft(conn.contact_id())
    idempotency_key = key()
    with pytest.raises(RetryableError):
        conn.client.create_invoice(draft, idempotency_key)
    # Crash-window lookup: Xero did create it.
    found = conn.client.find_invoices_by_urls([draft.url or ""])
    assert len(found) == 1
    # Retrying with the same Idempotency-Key replays instead of creating a second invoice.
    again = conn.client.create_invoice(draft, idempotency_key)
    assert again.invoice_id == found[0].invoice_id
    assert len(conn.client.find_invoices_by_urls([draft.url or ""])) == 1

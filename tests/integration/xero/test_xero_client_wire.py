"""XeroClient on the wire: what it sends, and how it reads statuses and headers (scripted server)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from connector.adapters.storage.token_store import TokenSet
from connector.adapters.xero.client import XeroClient, XeroClientFactory
from connector.domain.xero_records import RateLimitHeadroom, XeroInvoiceDraft, XeroLineItem
from connector.errors import (
    AuthorisationError,
    NotFoundError,
    RateLimitedError,
    RetryableError,
    XeroValidationError,
)
from connector.settings import load_settings
from devstack.asgi_server import serve_in_thread
from tests.fakes.storage import MemoryTokenStore
from tests.integration.xero.scripted_xero import ScriptedXero

TENANT = "tenant-1"
Scripted = tuple[ScriptedXero, XeroClient, MemoryTokenStore]
INVOICE_ID = "8f9c6a1e-1111-4c5e-9f00-000000000001"


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Scripted]:
    server = ScriptedXero()
    with serve_in_thread(server.app()) as running:
        monkeypatch.setenv("XERO_API_BASE_URL", running.base_url + "/api.xro/2.0")
        monkeypatch.setenv("XERO_CONNECTIONS_BASE_URL", running.base_url)
        monkeypatch.setenv("XERO_IDENTITY_BASE_URL", running.base_url)
        monkeypatch.setenv("XERO_TIMEOUT_SECONDS", "1")
        store = MemoryTokenStore()
        store.save(
            "conn-1",
            TokenSet(
                access_token=SecretStr("access-1"),
                refresh_token=SecretStr("refresh-1"),
                expires_at=time.time() + 1800,
                scope=["offline_access", "accounting.invoices"],
            ),
        )
        client = XeroClientFactory(load_settings(), store).for_connection("conn-1", TENANT)
        yield server, client, store


def invoice_json(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "InvoiceID": INVOICE_ID,
        "InvoiceNumber": "INV-0001",
        "Type": "ACCREC",
        "Status": "DRAFT",
        "Contact": {"ContactID": "c0ffee00-0000-0000-0000-000000000001", "Name": "Acme"},
        "Date": "/Date(1793491200000+0000)/",
        "SubTotal": 100.0,
        "TotalTax": 15.0,
        "Total": 115.0,
        "AmountDue": 115.0,
        "AmountPaid": 0.0,
        "CurrencyCode": "NZD",
        "Reference": "ORD-1",
    }
    body.update(overrides)
    return body


def draft(**overrides: object) -> XeroInvoiceDraft:
    values: dict[str, object] = {
        "type": "ACCREC",
        "contact_id": "c0ffee00-0000-0000-0000-000000000001",
        "date": dt.date(2026, 11, 1),
        "reference": "ORD-1",
        "line_items": [
            XeroLineItem(description="Widget", quantity=Decimal(2), unit_amount=Decimal("50.1234"))
        ],
    }
    values.update(overrides)
    return XeroInvoiceDraft.model_validate(values)


def test_i7_create_invoice_sends_tenant_token_idempotency_key_and_a_utc_date(scripted: Scripted) -> None:
    server, client, _ = scripted
    server.answer(200, {"Invoices": [invoice_json()]})
    invoice = client.create_invoice(draft(unit_dp=4), idempotency_key="conn-1:inv-1:create:1")
    sent = server.seen[0]
    assert (sent.method, sent.path) == ("PUT", "/api.xro/2.0/Invoices")
    assert sent.headers["xero-tenant-id"] == TENANT
    assert sent.headers["authorization"] == "Bearer access-1"
    assert sent.headers["idempotency-key"] == "conn-1:inv-1:create:1"
    assert sent.query == {"summarizeErrors": "False", "unitdp": "4"}
    body = sent.body["Invoices"][0]
    assert body["Date"] == "/Date(1793491200000)/"  # 2026-11-01 00:00 UTC: no time-zone shift
    assert body["LineItems"][0]["UnitAmount"] == pytest.approx(50.1234)
    assert invoice.invoice_id == INVOICE_ID
    assert invoice.total == Decimal("115.0")
    assert invoice.date == dt.date(2026, 11, 1)


def test_o3_every_call_is_counted_and_headroom_captured(scripted: Scripted) -> None:
    server, client, _ = scripted
    server.answer(
        200, {"Invoices": [invoice_json()]}, {"X-MinLimit-Remaining": "41", "X-DayLimit-Remaining": "4321"}
    )
    server.answer(200, {"Invoices": []}, {"X-MinLimit-Remaining": "40"})
    client.get_invoice(INVOICE_ID)
    client.find_invoices_by_urls(["https://crm.example/invoice/1"])
    assert client.call_counts == {"get_invoice": 1, "get_invoices": 1}
    assert client.total_calls == 2
    assert client.last_headroom == RateLimitHeadroom(
        minute_remaining=40, day_remaining=4999, app_minute_remaining=9999
    )
    assert server.seen[1].query["where"] == 'Url=="https://crm.example/invoice/1"'


def test_i10_summarized_400_maps_to_validation_error_with_xeros_words(scripted: Scripted) -> None:
    server, client, _ = scripted
    server.answer(
        400,
        {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": [
                {
                    "ValidationErrors": [
                        {"Message": "Invoice # must be unique."},
                        {"Message": "Account code '999' is not a valid code for this document."},
                    ]
                }
            ],
        },
    )
    with pytest.raises(XeroValidationError) as caught:
        client.create_invoices([draft()], "key-1", summarize_errors=True)
    assert caught.value.messages == [
        "Invoice # must be unique.",
        "Account code '999' is not a valid code for this document.",
    ]


def test_i10_a_400_with_a_plain_text_body_is_still_a_validation_error(scripted: Scripted) -> None:
    server, client, _ = scripted
    server.answer(400, "Bad request")
    with pytest.raises(XeroValidationError) as caught:
        client.create_invoices([draft()], "key-9", summarize_errors=True)
    assert caught.value.messages == ["Xero rejected create_invoices (HTTP 400)"]


def test_i2_per_element_errors_come_back_on_each_invoice(scripted: Scripted) -> None:
    server, client, _ = scripted
    failed = invoice_json(
        InvoiceID="00000000-0000-0000-0000-000000000000",
        HasErrors=True,
        StatusAttributeString="ERROR",
        ValidationErrors=[{"Message": "Invoice # must be unique."}],
    )
    server.answer(200, {"Invoices": [invoice_json(), failed]})
    results = client.create_invoices([draft(), draft(invoice_number="INV-0001")], "key-2")
    assert [r.validation_errors for r in results] == [[], ["Invoice # must be unique."]]
    server.answer(200, {"Invoices": [failed]})
    with pytest.raises(XeroValidationError) as caught:
        client.create_invoice(draft(), "key-3")
    assert caught.value.messages == ["Invoice # must be unique."]


def test_o3_429_maps_to_rate_limited_with_retry_after_and_problem(scripted: Scripted) -> None:
    server, client, _ = scripted
    server.answer(
        429, "", {"Retry-After": "37", "X-Rate-Limit-Problem": "minute", "X-MinLimit-Remaining": "0"}
    )
    with pytest.raises(RateLimitedError) as caught:
        client.get_tax_rates()
    assert caught.value.retry_after == 37.0
    assert caught.value.problem == "minute"
    assert client.last_headroom is not None and client.last_headroom.minute_remaining == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_o2_5xx_is_retryable(scripted: Scripted, status: int) -> None:
    server, client, _ = scripted
    server.answer(status, "Organisation offline")
    with pytest.raises(RetryableError) as caught:
        client.get_accounts()
    assert not isinstance(caught.value, RateLimitedError)


def test_o2_404_is_not_found(scripted: Scripted) -> None:
    server, client, _ = scripted
    server.answer(404, "The resource you're looking for cannot be found")
    with pytest.raises(NotFoundError):
        client.get_invoice(INVOICE_ID)


def test_c2_401_refreshes_once_then_retries_with_the_new_token(scripted: Scripted) -> None:
    server, client, store = scripted
    server.answer(401, {"Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"})
    server.answer(
        200, {"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 1800, "scope": "a b"}
    )
    server.answer(200, {"TaxRates": []})
    assert client.get_tax_rates() == []
    assert [s.path for s in server.seen] == [
        "/api.xro/2.0/TaxRates",
        "/connect/token",
        "/api.xro/2.0/TaxRates",
    ]
    assert server.seen[2].headers["authorization"] == "Bearer access-2"
    stored = store.get("conn-1")
    assert stored is not None and stored.refresh_token is not None
    assert stored.refresh_token.get_secret_value() == "refresh-2"


def test_c2_repeated_401_is_an_authorisation_error_without_secrets(scripted: Scripted) -> None:
    server, client, _ = scripted
    server.answer(401, {"Title": "Unauthorized"})
    server.answer(
        200, {"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 1800, "scope": "a"}
    )
    server.answer(403, {"Title": "Forbidden"})
    with pytest.raises(AuthorisationError) as caught:
        client.get_accounts()
    for secret in ("access-1", "access-2", "refresh-1", "refresh-2", "test-client-secret"):
        assert secret not in str(caught.value)
    assert caught.value.__cause__ is None  # the SDK exception (with headers) is not chained


def test_c2_expired_token_is_refreshed_before_the_call(scripted: Scripted) -> None:
    server, client, store = scripted
    store.save(
        "conn-1",
        TokenSet(
            access_token=SecretStr("old"),
            refresh_token=SecretStr("refresh-1"),
            expires_at=time.time() + 5,
            scope=["offline_access"],
        ),
    )
    server.answer(200, {"access_token": "access-3", "refresh_token": "refresh-3", "expires_in": 1800})
    server.answer(200, {"BrandingThemes": [{"BrandingThemeID": "b1", "Name": "Standard"}]})
    themes = client.get_branding_themes()
    assert [t.name for t in themes] == ["Standard"]
    assert server.seen[0].path == "/connect/token"
    assert server.seen[0].body.startswith("grant_type=refresh_token")
    assert server.seen[1].headers["authorization"] == "Bearer access-3"


def test_i7_a_slow_put_is_sent_once_not_retried_by_urllib3(scripted: Scripted) -> None:
    server, client, _ = scripted
    server.answer(200, {"Invoices": [invoice_json()]}, delay=2.5)
    with pytest.raises(RetryableError):
        client.create_invoice(draft(), "key-slow")
    time.sleep(2.0)  # let any hidden retry reach the server before counting
    assert [s.method for s in server.seen] == ["PUT"]


def test_o2_connection_refused_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    from devstack.free_ports import free_port

    monkeypatch.setenv("XERO_API_BASE_URL", f"http://127.0.0.1:{free_port()}/api.xro/2.0")
    store = MemoryTokenStore()
    store.save("c", TokenSet(access_token=SecretStr("a"), expires_at=time.time() + 1800))
    client = XeroClient(load_settings(), "c", TENANT, store)
    with pytest.raises(RetryableError):
        client.get_accounts()

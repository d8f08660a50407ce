"""Payments, credit notes, contacts, settings, idempotency, rate limits, tokens, faults and webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from xero_python.accounting import (
    Account,
    Allocation,
    Allocations,
    Contact,
    Contacts,
    CreditNote,
    CreditNotes,
    Invoice,
    Item,
    Items,
    Payment,
    PaymentDelete,
    Payments,
)
from xero_python.exceptions import AccountingBadRequestException, RateLimitException

from devstack.asgi_server import serve_in_thread
from tests.devstack.xero.conftest import Sdk
from tests.devstack.xero.helpers import invoice, invoices, line


def approved(sdk: Sdk, amount: str = "100.00", **extra: Any) -> Invoice:
    return sdk.accounting.create_invoices(
        sdk.tenant_id, invoices(invoice("AUTHORISED", [line(amount)], **extra))
    ).invoices[0]


def test_b2_payments_part_and_full_then_delete(sdk: Sdk) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    inv = approved(sdk)  # 115.00
    part = Payment(
        invoice=Invoice(invoice_id=inv.invoice_id),
        account=Account(code="090"),
        amount=Decimal("15"),
        date=date(2026, 3, 5),
    )
    created = api.create_payments(tid, Payments(payments=[part])).payments[0]
    after = api.get_invoice(tid, inv.invoice_id).invoices[0]
    assert (after.status, after.amount_paid, after.amount_due) == (
        "AUTHORISED",
        Decimal("15"),
        Decimal("100"),
    )
    rest = Payment(
        invoice=Invoice(invoice_id=inv.invoice_id),
        account=Account(code="090"),
        amount=Decimal("100"),
        date=date(2026, 3, 6),
    )
    api.create_payment(tid, rest)
    assert api.get_invoice(tid, inv.invoice_id).invoices[0].status == "PAID"
    with pytest.raises(AccountingBadRequestException):
        api.create_payment(tid, rest)
    api.delete_payment(tid, created.payment_id, PaymentDelete(status="DELETED"))
    back = api.get_invoice(tid, inv.invoice_id).invoices[0]
    assert (back.status, back.amount_due) == ("AUTHORISED", Decimal("15"))
    assert len(api.get_payments(tid).payments) == 2
    assert api.get_payment(tid, created.payment_id).payments[0].status == "DELETED"


def test_b2_overpayment_and_draft_payment_are_refused(sdk: Sdk) -> None:
    inv = approved(sdk)
    too_much = Payment(
        invoice=Invoice(invoice_id=inv.invoice_id),
        account=Account(code="090"),
        amount=Decimal("200"),
        date=date(2026, 3, 5),
    )
    with pytest.raises(AccountingBadRequestException) as error:
        sdk.accounting.create_payment(sdk.tenant_id, too_much)
    assert "exceeds" in error.value.reason


def test_x1_credit_note_allocation_settles_invoice(sdk: Sdk) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    inv = approved(sdk)
    note = CreditNote(
        type="ACCRECCREDIT",
        contact=Contact(contact_id=inv.contact.contact_id),
        date=date(2026, 3, 2),
        line_items=[line("100.00")],
        status="AUTHORISED",
    )
    created = api.create_credit_notes(tid, CreditNotes(credit_notes=[note])).credit_notes[0]
    assert created.credit_note_number == "CN-0001" and created.remaining_credit == Decimal("115")
    allocation = Allocation(
        invoice=Invoice(invoice_id=inv.invoice_id), amount=Decimal("115"), date=date(2026, 3, 3)
    )
    api.create_credit_note_allocation(tid, created.credit_note_id, Allocations(allocations=[allocation]))
    settled = api.get_invoice(tid, inv.invoice_id).invoices[0]
    assert (settled.status, settled.amount_credited, settled.amount_due) == (
        "PAID",
        Decimal("115"),
        Decimal("0"),
    )
    assert api.get_credit_note(tid, created.credit_note_id).credit_notes[0].status == "PAID"
    assert len(api.get_credit_notes(tid).credit_notes) == 1


def test_x2_void_refused_once_paid(sdk: Sdk, xero: Any) -> None:
    inv = approved(sdk)
    xero.pay(sdk.tenant_id, inv.invoice_id, "10.00")
    with pytest.raises(AccountingBadRequestException):
        sdk.accounting.update_invoice(sdk.tenant_id, inv.invoice_id, invoices(Invoice(status="VOIDED")))


def test_i5_b3_contacts_crud_filters_and_balances(sdk: Sdk, xero: Any) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    made = api.create_contacts(
        tid,
        Contacts(
            contacts=[
                Contact(
                    name="Zeta", contact_number="CRM-42", email_address="z@x.example", account_number="A-9"
                )
            ]
        ),
    ).contacts[0]
    for where in (
        'ContactNumber=="CRM-42"',
        'Name=="zeta"',
        'EmailAddress=="z@x.example"',
        'AccountNumber=="A-9"',
    ):
        assert [c.contact_id for c in api.get_contacts(tid, where=where).contacts] == [made.contact_id]
    assert [c.contact_id for c in api.get_contacts(tid, search_term="zet").contacts] == [made.contact_id]
    assert [c.contact_id for c in api.get_contacts(tid, i_ds=[made.contact_id]).contacts] == [made.contact_id]
    assert api.get_contact(tid, made.contact_id).contacts[0].name == "Zeta"
    updated = api.update_or_create_contacts(
        tid, Contacts(contacts=[Contact(contact_number="CRM-42", name="Zeta Ltd")])
    ).contacts[0]
    assert updated.contact_id == made.contact_id and updated.name == "Zeta Ltd"
    with pytest.raises(AccountingBadRequestException):
        api.create_contacts(tid, Contacts(contacts=[Contact(name="Zeta Ltd")]))
    due_soon = approved(sdk, contact="Zeta Ltd", due_date=date(2026, 4, 30))
    approved(sdk, "50.00", contact="Zeta Ltd", due_date=date(2026, 3, 10))
    xero.set_today(date(2026, 4, 1))
    balances = api.get_contact(tid, made.contact_id).contacts[0].balances.accounts_receivable
    assert (balances.outstanding, balances.overdue) == (Decimal("172.5"), Decimal("57.5"))
    assert due_soon.amount_due == Decimal("115")


def test_i6_c4_items_and_settings(sdk: Sdk) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    item = Item(code="GADGET", name="Gadget")
    assert api.create_items(tid, Items(items=[item])).items[0].code == "GADGET"
    assert {i.code for i in api.get_items(tid).items} == {"WIDGET", "CONSULT", "GADGET"}
    assert (
        api.update_or_create_items(tid, Items(items=[Item(code="GADGET", name="Gadget 2")])).items[0].name
        == "Gadget 2"
    )
    rates = {r.tax_type: r.effective_rate for r in api.get_tax_rates(tid).tax_rates}
    assert rates["OUTPUT2"] == Decimal("15") and rates["NONE"] == Decimal("0")
    assert {"090", "200", "300", "400"} <= {a.code for a in api.get_accounts(tid).accounts}
    assert [a.code for a in api.get_accounts(tid, where='Type=="BANK"').accounts] == ["090"]
    assert api.get_branding_themes(tid).branding_themes[0].name == "Standard"
    assert api.get_organisations(tid).organisations[0].base_currency.value == "NZD"
    assert {c.code.value for c in api.get_currencies(tid).currencies} == {"NZD", "USD"}


def test_i7_idempotency_key_replays_and_rejects_other_bodies(sdk: Sdk, xero: Any) -> None:
    api, tid = sdk.accounting, sdk.tenant_id
    first = api.create_invoices(tid, invoices(invoice(reference="once")), idempotency_key="k-1").invoices[0]
    again = api.create_invoices(tid, invoices(invoice(reference="once")), idempotency_key="k-1").invoices[0]
    assert again.invoice_id == first.invoice_id
    assert len(api.get_invoices(tid).invoices) == 1
    raw = httpx.put(
        f"{xero.base_url}/api.xro/2.0/Invoices",
        json={"Invoices": []},
        headers={
            "Authorization": f"Bearer {sdk.token['access_token']}",
            "xero-tenant-id": tid,
            "Idempotency-Key": "k-1",
        },
    )
    assert raw.status_code == 422 and raw.json()["Status"] == 422


def test_o3_rate_limit_headers_and_429(sdk: Sdk, xero: Any) -> None:
    xero.set_limits(rate_limit_per_minute=3, rate_limit_time_scale=30.0)
    _, _, headers = sdk.accounting.get_organisations(sdk.tenant_id, _return_http_data_only=False)
    assert (
        headers["X-MinLimit-Remaining"] == "2"
        and "X-DayLimit-Remaining" in headers
        and "X-AppMinLimit-Remaining" in headers
    )
    sdk.accounting.get_organisations(sdk.tenant_id)
    sdk.accounting.get_organisations(sdk.tenant_id)
    # POST: urllib3 (under the SDK) silently retries a GET/PUT 429 after Retry-After; POST it does not.
    with pytest.raises(RateLimitException) as error:
        sdk.accounting.update_or_create_invoices(sdk.tenant_id, invoices(invoice()))
    assert error.value.rate_limit == "minute" and int(error.value.headers["Retry-After"]) >= 1
    time.sleep(2.1)  # a minute lasts 2 s at scale 30
    sdk.accounting.get_organisations(sdk.tenant_id)


def test_o3_concurrent_limit(sdk: Sdk, xero: Any) -> None:
    import concurrent.futures

    xero.set_limits(rate_limit_concurrent=2)
    xero.add_fault("slow", method="GET", path="/Organisation", count=3, delay=0.5)
    headers = {"Authorization": f"Bearer {sdk.token['access_token']}", "xero-tenant-id": sdk.tenant_id}
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        codes = list(
            pool.map(
                lambda _: httpx.get(f"{xero.base_url}/api.xro/2.0/Organisation", headers=headers, timeout=5),
                range(3),
            )
        )
    problems = [r.headers.get("X-Rate-Limit-Problem") for r in codes if r.status_code == 429]
    assert sorted(r.status_code for r in codes) == [200, 200, 429] and problems == ["concurrent"]


def test_c2_bad_token_is_401_problem(xero: Any, sdk: Sdk) -> None:
    raw = httpx.get(
        f"{xero.base_url}/api.xro/2.0/Invoices",
        headers={"Authorization": "Bearer nope", "xero-tenant-id": sdk.tenant_id},
    )
    assert raw.status_code == 401
    assert raw.json()["Title"] == "Unauthorized" and raw.json()["Detail"] == "AuthenticationUnsuccessful"
    other = httpx.get(
        f"{xero.base_url}/api.xro/2.0/Invoices",
        headers={"Authorization": f"Bearer {sdk.token['access_token']}", "xero-tenant-id": "x"},
    )
    assert other.status_code == 403


def test_c2_sdk_refreshes_expired_token_and_rotation_has_grace(xero: Any, sdk: Sdk) -> None:
    xero.set_limits(access_token_lifetime=5, refresh_token_grace_seconds=30)
    old_refresh = sdk.token["refresh_token"]
    sdk.token["expires_at"] = time.time() - 1  # the SDK refreshes before calling
    sdk.accounting.get_organisations(sdk.tenant_id)
    assert sdk.saved and sdk.saved[-1]["refresh_token"] != old_refresh
    form = {
        "grant_type": "refresh_token",
        "refresh_token": old_refresh,
        "client_id": sdk.api_client.configuration.oauth2_token.client_id,
        "client_secret": sdk.api_client.configuration.oauth2_token.client_secret,
    }
    assert httpx.post(f"{xero.base_url}/connect/token", data=form).status_code == 200  # within grace
    xero.advance_clock(60)
    refused = httpx.post(f"{xero.base_url}/connect/token", data=form)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    stale = httpx.get(
        f"{xero.base_url}/connections", headers={"Authorization": f"Bearer {sdk.saved[-1]['access_token']}"}
    )
    assert stale.status_code == 401  # its 5 s lifetime is over after the clock moved


def test_c2_connections_and_client_credentials_and_authorize(xero: Any, sdk: Sdk) -> None:
    assert [c.tenant_id for c in sdk.identity.get_connections()] == [sdk.tenant_id]
    custom = xero.seed_organisation(name="Custom Co", custom_connection=True)
    token = httpx.post(
        f"{xero.base_url}/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(custom.client_id, custom.client_secret),
    ).json()
    assert "refresh_token" not in token
    org = httpx.get(
        f"{xero.base_url}/api.xro/2.0/Organisation",
        headers={"Authorization": f"Bearer {token['access_token']}", "xero-tenant-id": ""},
    )
    assert org.json()["Organisations"][0]["Name"] == "Custom Co"
    page = httpx.get(
        f"{xero.base_url}/identity/connect/authorize",
        params={
            "response_type": "code",
            "client_id": custom.client_id,
            "redirect_uri": "http://127.0.0.1:9/cb",
            "scope": "offline_access accounting.transactions",
            "state": "s1",
        },
    )
    assert "Custom Co" in page.text
    consent = httpx.post(str(page.url), data={"tenant_id": sdk.tenant_id})
    assert consent.status_code == 302 and "state=s1" in consent.headers["location"]
    code = consent.headers["location"].split("code=")[1].split("&")[0]
    granted = httpx.post(
        f"{xero.base_url}/connect/token",
        auth=(custom.client_id, custom.client_secret),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:9/cb"},
    ).json()
    assert granted["refresh_token"] and granted["expires_in"] == 1800


def test_o7_faults_5xx_and_commit_then_drop(xero: Any, sdk: Sdk) -> None:
    xero.add_fault("status", method="GET", path="/Organisation", status=503)
    with pytest.raises(Exception) as error:
        sdk.accounting.get_organisations(sdk.tenant_id)
    assert getattr(error.value, "status", None) == 503
    xero.add_fault("commit_then_drop", method="POST", path="/Invoices$")
    headers = {"Authorization": f"Bearer {sdk.token['access_token']}", "xero-tenant-id": sdk.tenant_id}
    body = {
        "Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Dropped"}, "LineItems": [{"Description": "x"}]}]
    }
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{xero.base_url}/api.xro/2.0/Invoices", json=body, headers=headers)
    assert len(sdk.accounting.get_invoices(sdk.tenant_id).invoices) == 1  # the write happened
    log = xero.request_log()
    assert any(e["fault"] == "commit_then_drop" for e in log) and all("duration_ms" in e for e in log)


def verify_xero_signature(raw_body: bytes, header: str, key: str) -> bool:
    """Written from Xero's docs: base64(HMAC-SHA256(key as UTF-8, raw body)), constant-time compare."""
    expected = base64.b64encode(hmac.new(key.encode("utf-8"), raw_body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, header)


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]], list[int]]]:
    received: list[dict[str, Any]] = []
    fail_first: list[int] = [0]

    async def hook(request: Request) -> Response:
        raw = await request.body()
        if not verify_xero_signature(raw, request.headers.get("x-xero-signature", ""), "signing-key"):
            return Response(status_code=401)
        payload = json.loads(raw)
        if payload["events"] and fail_first[0] > 0:
            fail_first[0] -= 1
            return Response(status_code=500)
        received.append(payload)
        return Response(status_code=200)

    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        yield server.base_url + "/hook", received, fail_first


def test_b1_webhooks_intent_to_receive_events_and_retry(xero: Any, sdk: Sdk, receiver: Any) -> None:
    url, received, fail_first = receiver
    sub = xero.subscribe_webhooks(url, "signing-key")
    assert sub["status"] == "OK" and {r["status"] for r in sub["intent_to_receive"]} == {200, 401}
    fail_first[0] = 1
    inv = approved(sdk)
    xero.pay(sdk.tenant_id, inv.invoice_id, "5.00")
    deliveries = xero.flush_webhooks()
    events = [e for payload in received for e in payload["events"]]
    kinds = {(e["eventCategory"], e["eventType"]) for e in events}
    assert {("INVOICE", "CREATE"), ("CONTACT", "CREATE"), ("INVOICE", "UPDATE")} <= kinds
    assert any(d["status"] == 500 for d in deliveries) and deliveries[-1]["status"] == 200
    assert all(e["tenantId"] == sdk.tenant_id for e in events)


def test_b1_webhook_subscription_fails_when_receiver_ignores_signatures(xero: Any) -> None:
    async def lax(request: Request) -> Response:
        return Response(status_code=200)

    with serve_in_thread(Starlette(routes=[Route("/hook", lax, methods=["POST"])])) as server:
        sub = xero.subscribe_webhooks(server.base_url + "/hook", "k")
    assert sub["status"] == "FAILED"


def test_spec_conformance_was_checked(needs_spec: None, xero: Any, sdk: Sdk) -> None:
    approved(sdk)
    sdk.accounting.get_invoices(sdk.tenant_id)
    checks = xero.state.spec_checks
    assert any(c["kind"] == "response" for c in checks) and any(c["kind"] == "request" for c in checks)
    assert all(c["ok"] for c in checks if c["kind"] == "response")

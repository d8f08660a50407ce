"""C1/C3 rules the console, the CLI and the sweep share; PKCE (RFC 7636) and Xero's consent URL."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

from connector.domain.connection_rules import (
    ReferenceChoices,
    only_default,
    pkce_pair,
    read_settings_form,
    settings_problems,
)
from tests.factories import connection


def test_c1_only_default_sets_the_chosen_one_and_clears_the_others() -> None:
    a, b, c = (uuid4() for _ in range(3))
    assert only_default({str(a): True, str(b): True, str(c): False}, c) == {
        str(c): True,
        str(a): False,
        str(b): False,
    }
    assert only_default({str(a): True}, a) == {}  # already so: nothing to write


def test_c3_a_bad_time_zone_status_or_tenant_is_a_plain_problem() -> None:
    problems = settings_problems(connection(time_zone="Mars/Base", tenant_id=""))
    assert any("Time zone" in p for p in problems) and any("organisation" in p for p in problems)
    assert settings_problems(connection(time_zone="Pacific/Auckland")) == []


def test_c3_account_codes_are_checked_against_reference_data_once_pulled() -> None:
    chosen = connection(default_sales_account_code="999", default_purchase_account_code=None)
    assert settings_problems(chosen) == []  # nothing pulled yet: cannot tell
    problems = settings_problems(chosen, ReferenceChoices(account_codes=frozenset({"200"})))
    assert problems == ['Default sales account code "999" is not in the organisation\'s chart of accounts.']


def test_c3_settings_form_writes_only_changes_and_nothing_when_a_field_is_wrong() -> None:
    current = connection(
        name="Contoso", time_zone="UTC", default_sales_account_code=None, default_purchase_account_code=None
    )
    form = {"name": "Contoso", "default_invoice_status": "DRAFT", "time_zone": "Pacific/Auckland"}
    form |= {"use_xero_invoice_number": "on", "create_contacts": "on", "create_products": "on"}
    form |= {"create_credit_note_on_cancel": "on"}
    read = read_settings_form(form, current)
    assert read.errors == {} and read.changes == {"time_zone": "Pacific/Auckland"}
    bad = read_settings_form(
        {**form, "default_sales_account_code": "999"}, current, ReferenceChoices(frozenset({"200"}))
    )
    assert bad.changes == {} and "default_sales_account_code" in bad.errors


def test_c2_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_c2_consent_url_carries_client_redirect_scopes_state_and_pkce(monkeypatch: object) -> None:
    from connector.adapters.xero.onboarding import consent_url
    from connector.settings import Settings

    settings = Settings(
        DATAVERSE_URL="https://org.example",
        DATAVERSE_WEBHOOK_SECRET="s",
        XERO_WEBHOOK_KEY="k",
        AzureWebJobsStorage="UseDevelopmentStorage=true",
        XERO_CLIENT_ID="client-1",
        XERO_SCOPES="offline_access  accounting.invoices",
    )
    url = consent_url(settings, "https://app/api/console/xero/callback", "st4te", "ch4llenge")
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://login.xero.com/identity/connect/authorize"
    )
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "response_type": "code",
        "client_id": "client-1",
        "redirect_uri": "https://app/api/console/xero/callback",
        "scope": "offline_access accounting.invoices",
        "state": "st4te",
        "code_challenge": "ch4llenge",
        "code_challenge_method": "S256",
    }

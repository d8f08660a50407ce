"""O6 security: who gets in, forged and replayed answers, CSRF, escaping, no secret on a page or in a log."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devstack.oidc import READER_USER
from tests.integration.admin.console_stack import (
    NASTY,
    ConsoleStack,
    consent,
    csrf_of,
    sign_in,
    through_xero,
)

pytestmark = pytest.mark.timeout(120)


def connected(stack: ConsoleStack, client: httpx.Client, name: str) -> httpx.Response:
    page = sign_in(stack, client)
    picked = consent(stack, client, page.text, [name])
    return client.post(
        f"{stack.console}/xero/picked",
        data={"csrf": csrf_of(picked.text), "tenant_id": stack.tenants[name]},
        follow_redirects=True,
    )


def test_o6_no_session_pages_redirect_to_sign_in_and_actions_get_401(stack: ConsoleStack) -> None:
    with stack.browser() as client:
        page = client.get(stack.console)
        assert page.status_code == 303
        assert page.headers["location"] == "/api/console/signin?next=/api/console"
        action = client.post(f"{stack.console}/xero/connect", data={"csrf": "x"})
        assert action.status_code == 401
        assert client.post(f"{stack.console}/sync").status_code == 401


def test_o6_signed_in_without_the_admin_role_gets_403(stack: ConsoleStack) -> None:
    with stack.browser() as client:
        page = sign_in(stack, client, READER_USER)
        assert page.status_code == 403
        assert READER_USER in page.text and "Connector.Admin" in page.text
        assert client.get(f"{stack.console}/xero/pick").status_code == 403


def test_o6_every_page_has_a_strict_csp_and_a_safe_session_cookie(stack: ConsoleStack) -> None:
    with stack.browser() as client:
        response = client.get(stack.console)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        page = sign_in(stack, client)
        assert page.status_code == 200 and "Signed in as Ada Admin" in page.text
        assert "<script" not in page.text
        cookie = next(h for h in page.history if "set-cookie" in h.headers).headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=" in cookie
        # plain http is allowed on 127.0.0.1 only; anywhere else the cookie is Secure
        assert "Secure" not in cookie


def test_o6_post_without_its_csrf_token_is_refused_with_403(stack: ConsoleStack) -> None:
    with stack.browser() as client:
        sign_in(stack, client)
        for data in ({}, {"csrf": "forged"}):
            response = client.post(f"{stack.console}/xero/connect", data=data)
            assert response.status_code == 403
            assert "location" not in response.headers


@pytest.mark.organisations("Contoso NZ")
def test_c2_forged_or_replayed_state_gets_400_and_nothing_is_stored(stack: ConsoleStack) -> None:
    from connector.adapters.storage.blob import blob_service_from_settings
    from connector.settings import get_settings

    settings = get_settings()
    tokens = blob_service_from_settings(settings).get_container_client(settings.token_container)
    with stack.browser() as client:
        home = sign_in(stack, client)
        start = client.post(f"{stack.console}/xero/connect", data={"csrf": csrf_of(home.text)})
        authorize = start.headers["location"]
        params = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        forged = client.get(f"{stack.console}/xero/callback", params={"code": "stolen", "state": "forged"})
        assert forged.status_code == 400 and "Nothing was stored" in forged.text
        assert list(tokens.list_blobs()) == []
        # A real consent, then its answer replayed
        again = client.post(f"{stack.console}/xero/connect", data={"csrf": csrf_of(home.text)})
        answered = through_xero(stack, client, again, ["Contoso NZ"])
        assert answered.url.path.endswith("/xero/pick")
        callback = answered.history[0].url
        replayed = client.get(str(callback))
        assert replayed.status_code == 400
        assert params["state"] not in replayed.text
    assert all(blob.name.startswith("pending-") for blob in tokens.list_blobs())


@pytest.mark.organisations(NASTY)
def test_o6_an_organisation_named_like_a_script_renders_as_text(stack: ConsoleStack) -> None:
    with stack.browser() as client:
        page = connected(stack, client, NASTY)
        assert page.status_code == 200
        assert NASTY not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<script" not in client.get(stack.console).text


@pytest.mark.organisations("Contoso NZ")
def test_o6_no_token_or_secret_reaches_a_page_or_a_log(
    stack: ConsoleStack, caplog: pytest.LogCaptureFixture
) -> None:
    from connector.adapters.storage.token_store import token_store_from_settings
    from connector.settings import get_settings

    caplog.set_level(logging.DEBUG)
    pages = []
    with stack.browser() as client:
        page = connected(stack, client, "Contoso NZ")
        pages += [page.text, client.get(stack.console).text]
        connection_id = page.url.path.rsplit("/", 1)[-1]
        store = token_store_from_settings(get_settings())
        tokens = store.get(connection_id)
        assert tokens is not None and tokens.refresh_token is not None
        cookie = client.cookies.get("xc_console") or ""
    values = [tokens.access_token.get_secret_value(), tokens.refresh_token.get_secret_value(), *stack.secrets]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for value in values:
        assert value not in logged
        assert all(value not in text for text in pages)
        assert value not in cookie  # the cookie is encrypted, and holds no token anyway
    assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+", "\n".join(pages))  # no JWT (id token) either

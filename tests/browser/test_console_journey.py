"""O6 end to end in a real browser: sign in at the OpenID provider, connect Xero on the emulator's consent
page, lose the connection at Xero, see the invoices wait, reconnect, and see them reach Xero."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connector.domain.dynamics import ExportStatus
from devstack.oidc import ADMIN_USER
from devstack.scenario import wait_for, xero_details
from tests.integration.admin.console_stack import ConsoleStack, create_invoice, revoke_at_xero

pytestmark = pytest.mark.timeout(120)


def off_thread(work: Any, *args: Any) -> Any:
    """Playwright's sync API keeps an event loop in this thread: helpers running their own go elsewhere."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work, *args).result()


def details_of(invoice_id: str) -> Any:
    return off_thread(xero_details, invoice_id)


def exported(invoice_id: str) -> Any:
    return wait_for(
        lambda: (d := details_of(invoice_id)) is not None and d.export_status == ExportStatus.YES and d,
        timeout=30,
    )


def allow_at_xero(page: Any, organisation: str) -> None:
    page.wait_for_url(re.compile(r".*/identity/connect/authorize.*"))
    page.get_by_label(organisation).check()
    page.get_by_role("button", name="Allow access").click()


@pytest.mark.organisations("Contoso NZ", "Fabrikam AU")
def test_o6_c2_connect_lose_reconnect_journey(stack: ConsoleStack, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(stack.console)
    page.get_by_role("button", name=ADMIN_USER).click()  # the provider's one-click user, as Entra's login
    expect(page.get_by_role("heading", name="Connections")).to_be_visible()
    expect(page.get_by_text("Signed in as Ada Admin")).to_be_visible()

    page.get_by_role("button", name="Connect to Xero").click()
    allow_at_xero(page, "Contoso NZ")
    expect(page.get_by_role("heading", name="Which organisations?")).to_be_visible()
    page.get_by_label("Contoso NZ").check()
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.get_by_text("Connected Contoso NZ.")).to_be_visible()
    expect(page.get_by_role("heading", name="Contoso NZ (default)")).to_be_visible()

    page.get_by_label("Default sales account code").fill("200")
    page.get_by_label("Default purchase account code").fill("300")
    page.get_by_label("Time zone").select_option("Pacific/Auckland")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    first = off_thread(create_invoice, stack, "Before the outage")
    exported(first)
    page.reload()
    expect(page.get_by_text("1 synced, 0 failed")).to_be_visible()
    expect(page.get_by_text(re.compile(r"of 60 this minute"))).to_be_visible()

    off_thread(revoke_at_xero, stack, "Contoso NZ")
    waiting = off_thread(create_invoice, stack, "During the outage")

    def says_reconnect() -> bool:
        page.reload()
        return page.get_by_text("Reconnect this connection").count() > 0

    wait_for(says_reconnect, timeout=30, interval=0.5)
    details = details_of(waiting)
    assert details is not None and details.export_status == ExportStatus.NO  # it waits; no Failed storm

    page.get_by_role("button", name="Reconnect").click()
    allow_at_xero(page, "Contoso NZ")
    expect(page.get_by_text(re.compile("Reconnected Contoso NZ"))).to_be_visible()
    sent = exported(waiting)
    assert sent.xero_invoice_number
    page.reload()
    expect(page.get_by_text("Reconnect this connection")).to_have_count(0)

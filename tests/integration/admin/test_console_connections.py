"""C1/C2/C3 through the console: the same organisation keeps its record, exactly one default, settings
validated before anything is written, failed invoices retried."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connector.domain.dynamics import ConnectionSettings
from tests.integration.admin.console_stack import ConsoleStack, consent, csrf_of, sign_in

pytestmark = pytest.mark.timeout(120)


def connections() -> list[ConnectionSettings]:
    from connector.adapters.dataverse.client import client_from_settings
    from connector.settings import get_settings

    async def work() -> list[ConnectionSettings]:
        async with client_from_settings(get_settings()) as client:
            return await client.list_connections()

    return asyncio.run(work())


def connect(stack: ConsoleStack, client: httpx.Client, page: str, name: str) -> httpx.Response:
    picked = consent(stack, client, page, [name])
    return client.post(
        f"{stack.console}/xero/picked",
        data={"csrf": csrf_of(picked.text), "tenant_id": stack.tenants[name]},
        follow_redirects=True,
    )


@pytest.mark.organisations("Contoso NZ", "Fabrikam AU")
def test_c1_c2_same_organisation_same_record_and_exactly_one_default(stack: ConsoleStack) -> None:
    with stack.browser() as client:
        home = sign_in(stack, client)
        first = connect(stack, client, home.text, "Contoso NZ")
        again = connect(stack, client, first.text, "Contoso NZ")
        assert again.url == first.url  # the same connection page: same record
        assert "Reconnected Contoso NZ." in again.text
        fabrikam = connect(stack, client, again.text, "Fabrikam AU")
        assert "Connected Fabrikam AU." in fabrikam.text
        by_name = {c.name: c for c in connections()}
        assert sorted(by_name) == ["Contoso NZ", "Fabrikam AU"]
        assert by_name["Contoso NZ"].is_default and not by_name["Fabrikam AU"].is_default
        made = client.post(
            f"{fabrikam.url}/default", data={"csrf": csrf_of(fabrikam.text)}, follow_redirects=True
        )
        assert "Fabrikam AU is now the default connection." in made.text
        assert [c.name for c in connections() if c.is_default] == ["Fabrikam AU"]
        # Repeating it changes nothing and still leaves exactly one
        client.post(f"{fabrikam.url}/default", data={"csrf": csrf_of(made.text)}, follow_redirects=True)
        assert [c.name for c in connections() if c.is_default] == ["Fabrikam AU"]


@pytest.mark.organisations("Contoso NZ")
def test_c3_settings_are_validated_before_anything_is_written(stack: ConsoleStack) -> None:
    with stack.browser() as client:
        page = connect(stack, client, sign_in(stack, client).text, "Contoso NZ")
        form = {
            "csrf": csrf_of(page.text),
            "name": "Contoso NZ",
            "default_invoice_status": "PAID",
            "time_zone": "Mars/Olympus_Mons",
            "create_contacts": "",
            "allow_contact_update": "on",
        }
        refused = client.post(f"{page.url}/settings", data=form)
        assert refused.status_code == 400
        assert "Choose an IANA time zone" in refused.text
        assert "Choose one of DRAFT, SUBMITTED, AUTHORISED." in refused.text
        assert "Contact update works only when creating contacts is allowed." in refused.text
        (saved,) = connections()
        assert saved.time_zone == "UTC" and saved.default_invoice_status == "DRAFT" and saved.create_contacts
        form.update(
            default_invoice_status="AUTHORISED", time_zone="Pacific/Auckland", allow_contact_update=""
        )
        accepted = client.post(f"{page.url}/settings", data=form, follow_redirects=True)
        assert "Settings saved." in accepted.text
        (saved,) = connections()
        assert (saved.default_invoice_status, saved.time_zone) == ("AUTHORISED", "Pacific/Auckland")
        assert not saved.create_contacts and not saved.use_xero_invoice_number  # unticked boxes mean No

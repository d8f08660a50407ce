"""What Dataverse refuses is refused, and what the emulator lacks is a 501: never a silent 200."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.devstack.dataverse.conftest import batch_body

CRM = "Microsoft.Dynamics.CRM."


@pytest.mark.parametrize("option", ["$bogus", "$skip", "$search", "$format", "$Select"])
def test_unknown_or_unsupported_system_query_option_is_400(
    api: httpx.Client, seeded: dict[str, Any], option: str
) -> None:
    response = api.get("accounts", params={option: "1"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80060888",
        "message": f"The query parameter {option} is not supported",
    }


def test_unsupported_option_inside_expand_is_400(api: httpx.Client, seeded: dict[str, Any]) -> None:
    response = api.get("invoices", params={"$expand": "invoice_details($select=quantity;$skip=1)"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The query parameter $skip is not supported"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("fetchXml", "<fetch><entity name='account'><attribute name='name'/></entity></fetch>"),
        ("$apply", "aggregate($count as total)"),
        ("savedQuery", "00000000-0000-0000-0000-000000000001"),
    ],
)
def test_queries_the_emulator_does_not_implement_are_501(
    api: httpx.Client, seeded: dict[str, Any], option: str, value: str
) -> None:
    response = api.get("accounts", params={option: value})
    assert response.status_code == 501
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and "does not implement" in error["message"]


def test_change_tracking_is_501(api: httpx.Client, seeded: dict[str, Any]) -> None:
    response = api.get("accounts", headers={"Prefer": "odata.track-changes"})
    assert response.status_code == 501


def test_create_multiple_is_501_and_creates_nothing(api: httpx.Client, seeded: dict[str, Any]) -> None:
    before = len(api.get("accounts").json()["value"])
    body = {"Targets": [{"@odata.type": f"{CRM}account", "name": "Bulk 1"}]}
    for path in (f"accounts/{CRM}CreateMultiple", f"accounts/{CRM}UpdateMultiple", "CreateMultiple"):
        response = api.post(path, json=body)
        assert response.status_code == 501, path
        assert "does not implement" in response.json()["error"]["message"]
    assert len(api.get("accounts").json()["value"]) == before


def test_unimplemented_unbound_and_bound_messages_are_501(api: httpx.Client, seeded: dict[str, Any]) -> None:
    account_id = seeded["accounts"]["Contoso Ltd"]
    assert api.post("ExecuteWorkflow", json={}).status_code == 501
    assert api.get("RetrieveVersion()").status_code == 501
    assert api.post(f"accounts({account_id})/{CRM}Merge", json={}).status_code == 501
    assert api.get("$metadata").status_code == 501
    assert api.get("WhoAmI").status_code == 200
    assert api.get("nosuchset").status_code == 404


def test_unknown_filter_or_orderby_column_is_400_even_on_an_empty_table(api: httpx.Client) -> None:
    assert api.get("invoices").json()["value"] == []
    bad_filter = api.get("invoices", params={"$filter": "nosuchcolumn eq 1"})
    assert bad_filter.status_code == 400 and "nosuchcolumn" in bad_filter.json()["error"]["message"]
    bad_order = api.get("invoices", params={"$orderby": "nosuchcolumn desc"})
    assert bad_order.status_code == 400
    assert api.get("invoices", params={"$orderby": "createdon sideways"}).status_code == 400


def test_batch_part_with_an_unsupported_option_is_refused(api: httpx.Client, seeded: dict[str, Any]) -> None:
    body, headers = batch_body(str(api.base_url), ["accounts?$select=name", "accounts?$skip=1"])
    response = api.post("$batch", content=body, headers={**headers, "Prefer": "odata.continue-on-error"})
    assert response.status_code == 200
    assert response.text.count("HTTP/1.1 200") == 1
    assert "HTTP/1.1 400" in response.text and "The query parameter $skip is not supported" in response.text


def test_supported_queries_still_answer(api: httpx.Client, seeded: dict[str, Any]) -> None:
    params = {
        "$select": "name,accountnumber",
        "$filter": "startswith(accountnumber,'ACC')",
        "$orderby": "accountnumber desc",
        "$top": "2",
        "$count": "true",
        "$expand": "transactioncurrencyid($select=isocurrencycode)",
    }
    response = api.get("accounts", params=params)
    assert response.status_code == 200
    assert [row["accountnumber"] for row in response.json()["value"]] == ["ACC-003", "ACC-002"]
    count = api.get("accounts/$count", params={"$filter": "startswith(accountnumber,'ACC')"})
    assert (count.status_code, count.text) == (200, "3")
    tagged = api.get("accounts", params={"$select": "name", "tag": "xero-sync"})
    assert tagged.status_code == 200

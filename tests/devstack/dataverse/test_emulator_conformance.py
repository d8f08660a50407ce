"""The emulator follows the documented Web API shapes (reference/dataverse.md §2–3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.dataverse.testing import DataverseEmulatorHandle


@pytest.fixture
def http(dv: DataverseEmulatorHandle) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {dv.token}", "Accept": "application/json", "OData-Version": "4.0"}
    with httpx.Client(base_url=dv.api_url, headers=headers) as client:
        yield client


def test_missing_token_is_401_and_issued_token_works(
    dv: DataverseEmulatorHandle, seeded: dict[str, Any]
) -> None:
    assert httpx.get(dv.api_url + "accounts").status_code == 401
    token = dv.issue_token()
    assert httpx.get(dv.api_url + "accounts", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_error_shape_and_404(http: httpx.Client, seeded: dict[str, Any]) -> None:
    response = http.get("accounts(00000000-0000-0000-0000-000000000001)")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"code", "message"}
    bad = http.get("accounts", params={"$select": "nosuchcolumn"})
    assert bad.status_code == 400 and "nosuchcolumn" in bad.json()["error"]["message"]


def test_create_returns_204_with_entity_id_or_201_with_representation(
    http: httpx.Client, seeded: dict[str, Any]
) -> None:
    plain = http.post("accounts", json={"name": "New Co"})
    assert plain.status_code == 204 and plain.headers["OData-EntityId"].startswith(
        str(http.base_url) + "accounts("
    )
    full = http.post("accounts", json={"name": "Rep Co"}, headers={"Prefer": "return=representation"})
    assert full.status_code == 201 and full.json()["name"] == "Rep Co"
    assert full.json()["@odata.etag"].startswith('W/"')


def test_if_match_mismatch_is_412_and_upsert_guards(http: httpx.Client, seeded: dict[str, Any]) -> None:
    account_id = seeded["accounts"]["Contoso Ltd"]
    etag = http.get(f"accounts({account_id})").json()["@odata.etag"]
    assert (
        http.patch(
            f"accounts({account_id})", json={"telephone1": "1"}, headers={"If-Match": etag}
        ).status_code
        == 204
    )
    assert (
        http.patch(
            f"accounts({account_id})", json={"telephone1": "2"}, headers={"If-Match": etag}
        ).status_code
        == 412
    )
    missing = "11111111-1111-1111-1111-111111111111"
    assert (
        http.patch(f"accounts({missing})", json={"name": "x"}, headers={"If-Match": "*"}).status_code == 404
    )
    assert (
        http.patch(f"accounts({account_id})", json={"name": "x"}, headers={"If-None-Match": "*"}).status_code
        == 412
    )
    assert http.patch(f"accounts({missing})", json={"name": "Upserted"}).status_code == 204
    assert http.get(f"accounts({missing})").json()["name"] == "Upserted"


def test_paging_with_maxpagesize_and_next_link(http: httpx.Client, seeded: dict[str, Any]) -> None:
    headers = {"Prefer": "odata.maxpagesize=2"}
    page = http.get(
        "products",
        params={"$select": "productnumber", "$orderby": "productnumber", "$count": "true"},
        headers=headers,
    ).json()
    numbers = [row["productnumber"] for row in page["value"]]
    assert page["@odata.count"] == 4
    while "@odata.nextLink" in page:
        page = http.get(page["@odata.nextLink"], headers=headers).json()
        numbers += [row["productnumber"] for row in page["value"]]
    assert numbers == ["BND-001", "GAD-002", "SRV-001", "WID-001"]


def test_filter_operators_and_lookups(
    http: httpx.Client, dv: DataverseEmulatorHandle, seeded: dict[str, Any]
) -> None:
    def names(query: str) -> list[str]:
        rows = http.get("products", params={"$select": "name", "$filter": query, "$orderby": "name"}).json()[
            "value"
        ]
        return [row["name"] for row in rows]

    assert names("price gt 20 and not startswith(productnumber,'BND')") == ["Consulting hour", "Gadget"]
    assert names("contains(name,'dget') or price eq 10") == ["Gadget", "Widget"]
    assert names("description ne null and price le 10") == ["Widget"]
    invoice = dv.ui_create_invoice(
        account_id=seeded["accounts"]["Contoso Ltd"], name="F", date_delivered="2024-02-01"
    )
    found = http.get(
        "invoices",
        params={
            "$select": "name",
            "$filter": f"_customerid_value eq {seeded['accounts']['Contoso Ltd']}"
            " and datedelivered le 2024-02-01",
        },
    )
    assert [row["invoiceid"] for row in found.json()["value"]] == [invoice["id"]]


def test_invoice_totals_bundles_and_read_only_states(
    http: httpx.Client, dv: DataverseEmulatorHandle, seeded: dict[str, Any]
) -> None:
    invoice = dv.ui_create_invoice(
        account_id=seeded["accounts"]["Contoso Ltd"],
        name="Bundle",
        lines=[
            {"product_number": "BND-001", "quantity": 1, "producttypecode": 2},
            {"product_number": "WID-001", "quantity": 3, "producttypecode": 3, "parent": 0},
            {"write_in": "Delivery", "quantity": 1, "price": "15", "discount": "5", "tax": "1.50"},
        ],
    )
    row = http.get(
        f"invoices({invoice['id']})", params={"$select": "totallineitemamount,totaltax,totalamount"}
    ).json()
    assert (row["totallineitemamount"], row["totaltax"], row["totalamount"]) == (109.0, 1.5, 110.5)
    dv.ui_mark_paid(invoice["id"])
    refused = http.patch(f"invoices({invoice['id']})", json={"description": "late edit"})
    assert refused.status_code == 400 and refused.json()["error"]["message"]
    state = http.patch(f"invoices({invoice['id']})", json={"statecode": 3, "statuscode": 100003})
    assert state.status_code == 204


def test_batch_change_set_is_atomic(http: httpx.Client, seeded: dict[str, Any]) -> None:
    boundary, changeset = "batch_1", "changeset_1"
    good = '{"name": "Batch A"}'
    bad = '{"nosuchcolumn": 1}'
    part = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID:"
    body = (
        f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
        f"--{changeset}\r\n{part} 1\r\n\r\n"
        f"POST {http.base_url}accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{good}\r\n"
        f"--{changeset}\r\n{part} 2\r\n\r\n"
        f"POST {http.base_url}accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{bad}\r\n"
        f"--{changeset}--\r\n--{boundary}--\r\n"
    )
    response = http.post(
        "$batch", content=body, headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
    )
    assert response.status_code == 200 and "HTTP/1.1 400" in response.text
    assert http.get("accounts", params={"$filter": "name eq 'Batch A'"}).json()["value"] == []


def test_entity_definitions_are_queryable(http: httpx.Client, seeded: dict[str, Any]) -> None:
    found = http.get(
        "EntityDefinitions",
        params={"$select": "LogicalName,EntitySetName", "$filter": "LogicalName eq 'invoice'"},
    ).json()["value"]
    assert [(row["LogicalName"], row["EntitySetName"]) for row in found] == [("invoice", "invoices")]
    attributes = http.get(
        "EntityDefinitions(LogicalName='invoice')/Attributes", params={"$select": "LogicalName"}
    )
    assert "datedelivered" in {row["LogicalName"] for row in attributes.json()["value"]}


def test_injected_429_carries_retry_after(
    http: httpx.Client, dv: DataverseEmulatorHandle, seeded: dict[str, Any]
) -> None:
    dv.add_fault("429", retry_after=7)
    response = http.get("accounts")
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json()["error"]["code"] == "0x80072322"
    assert http.get("accounts").status_code == 200

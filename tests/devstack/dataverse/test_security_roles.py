"""Roles, privileges and their enforcement: a user who holds only assigned roles may do what they allow,
and anything else is Dataverse's 403 PrivilegeDenied."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from devstack.dataverse.testing import DataverseEmulatorHandle
from tests.devstack.dataverse.conftest import batch_body

CRM = "Microsoft.Dynamics.CRM."
PREFER = {"Prefer": "return=representation"}


def privilege_id(api: httpx.Client, name: str) -> str:
    rows = api.get("privileges", params={"$filter": f"name eq '{name}'", "$select": "privilegeid"}).json()[
        "value"
    ]
    assert len(rows) == 1, name
    return str(rows[0]["privilegeid"])


def new_role(api: httpx.Client, name: str, privileges: dict[str, str]) -> str:
    unit = api.get("businessunits", params={"$filter": "_parentbusinessunitid_value eq null"}).json()[
        "value"
    ][0]
    role = api.post(
        "roles",
        json={"name": name, "businessunitid@odata.bind": f"/businessunits({unit['businessunitid']})"},
        headers=PREFER,
    ).json()
    body = {"Privileges": [{"PrivilegeId": privilege_id(api, n), "Depth": d} for n, d in privileges.items()]}
    assert api.post(f"roles({role['roleid']})/{CRM}AddPrivilegesRole", json=body).status_code == 204
    return str(role["roleid"])


@pytest.fixture
def limited(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> tuple[str, httpx.Client]:
    """An application user holding one role: read accounts, read and write contacts."""
    user_id = dv.create_user("Limited App", str(uuid.uuid4()))
    role_id = new_role(
        api, "Limited", {"prvReadAccount": "Global", "prvReadContact": "Local", "prvWriteContact": "Global"}
    )
    ref = {"@odata.id": f"{dv.api_url}roles({role_id})"}
    assert api.post(f"systemusers({user_id})/systemuserroles_association/$ref", json=ref).status_code == 204
    headers = {"Authorization": f"Bearer {dv.issue_token(user_id)}", "Accept": "application/json"}
    return user_id, httpx.Client(base_url=dv.api_url, headers=headers, timeout=30)


def test_c5_every_table_has_its_privileges_with_the_depths_its_ownership_allows(
    dv: DataverseEmulatorHandle, api: httpx.Client
) -> None:
    rows = {row["name"]: row for row in api.get("privileges").json()["value"]}
    assert {"prvCreateAccount", "prvReadAccount", "prvAssignAccount", "prvShareAccount"} <= set(rows)
    assert rows["prvReadAccount"]["accessright"] == 1 and rows["prvReadAccount"]["canbebasic"] is True
    assert (
        rows["prvReadSdkMessage"]["canbeglobal"] is True and rows["prvReadSdkMessage"]["canbelocal"] is False
    )
    assert "prvReadInvoiceDetail" not in rows  # a line's security follows its invoice
    table = {
        "@odata.type": f"{CRM}EntityMetadata",
        "SchemaName": "new_Widget",
        "OwnershipType": "OrganizationOwned",
        "Attributes": [
            {"@odata.type": f"{CRM}StringAttributeMetadata", "SchemaName": "new_Name", "IsPrimaryName": True}
        ],
    }
    assert api.post("EntityDefinitions", json=table).status_code == 204
    widget = {
        row["name"]: row
        for row in api.get("privileges").json()["value"]
        if row["name"].endswith("new_Widget")
    }
    assert set(widget) == {
        f"prv{r}new_Widget" for r in ("Create", "Read", "Write", "Delete", "Append", "AppendTo")
    }
    assert all(row["canbeglobal"] and not row["canbebasic"] for row in widget.values())
    code = api.get("EntityDefinitions(LogicalName='new_widget')").json()["ObjectTypeCode"]
    assert code >= 10000


def test_c5_a_user_with_only_a_role_may_do_what_it_allows(
    dv: DataverseEmulatorHandle, seeded: dict[str, Any], limited: tuple[str, httpx.Client]
) -> None:
    _, client = limited
    contact = seeded["contacts"]["Jane Doe"]
    assert client.get("accounts", params={"$select": "name"}).status_code == 200
    assert (
        client.patch(f"contacts({contact})", json={"telephone1": "1"}, headers={"If-Match": "*"}).status_code
        == 204
    )
    assert client.get("WhoAmI").status_code == 200


def test_c5_anything_else_is_dataverse_403(
    dv: DataverseEmulatorHandle, seeded: dict[str, Any], limited: tuple[str, httpx.Client]
) -> None:
    user_id, client = limited
    account = seeded["accounts"]["Contoso Ltd"]
    refused = client.patch(f"accounts({account})", json={"name": "x"}, headers={"If-Match": "*"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "0x80040220"
    assert error["message"].startswith(f"Principal user (Id={user_id}, type=8, roleCount=1, privilegeCount=3")
    assert (
        "is missing prvWriteAccount privilege" in error["message"]
        and "on OTC=1 for entity 'account'" in error["message"]
    )
    assert dv.state.rows["account"][account]["name"] == "Contoso Ltd"
    assert client.post("accounts", json={"name": "New"}).status_code == 403
    assert client.get("invoices").status_code == 403
    assert (
        client.get(f"accounts({account})", params={"$expand": "contact_customer_accounts"}).status_code == 200
    )
    # Reading through a lookup or a navigation needs Read on the table it reaches.
    assert (
        client.get("contacts", params={"$expand": "parentcustomerid_account($select=name)"}).status_code
        == 200
    )
    assert client.get("products", params={"$select": "name"}).status_code == 403
    assert (
        client.get(
            "contacts", params={"$filter": "transactioncurrencyid/isocurrencycode eq 'NZD'"}
        ).status_code
        == 403
    )
    assert client.post("PublishAllXml").status_code == 403
    assert client.get("EntityDefinitions").status_code == 403
    checks = dv.privilege_checks(user_id)[user_id]
    assert {"prvWriteAccount", "prvCreateAccount", "prvReadInvoice", "prvReadProduct"} <= set(
        checks["denied"]
    )
    assert "prvReadAccount" in checks["used"]


def test_c5_basic_depth_reaches_only_own_rows_so_other_rows_are_refused(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    user_id = dv.create_user("Basic App")
    role_id = new_role(api, "Basic only", {"prvReadAccount": "Basic", "prvCreateAccount": "Basic"})
    api.post(
        f"systemusers({user_id})/systemuserroles_association/$ref",
        json={"@odata.id": f"{dv.api_url}roles({role_id})"},
    )
    client = httpx.Client(base_url=dv.api_url, headers={"Authorization": f"Bearer {dv.issue_token(user_id)}"})
    assert client.get("accounts").status_code == 403
    assert client.post("accounts", json={"name": "Mine"}).status_code == 204


def test_c5_a_batch_part_the_role_does_not_allow_is_403_and_rolls_its_change_set_back(
    dv: DataverseEmulatorHandle, seeded: dict[str, Any], limited: tuple[str, httpx.Client]
) -> None:
    _, client = limited
    contact, account = seeded["contacts"]["Jane Doe"], seeded["accounts"]["Contoso Ltd"]
    boundary, changeset = "batch_r", "changeset_r"
    parts = "".join(
        f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: {n}\r\n\r\nPATCH {dv.api_url}{path} HTTP/1.1\r\nContent-Type: application/json\r\n"
        f"If-Match: *\r\n\r\n{body}\r\n"
        for n, (path, body) in enumerate(
            [(f"contacts({contact})", '{"telephone1": "555"}'), (f"accounts({account})", '{"name": "x"}')],
            start=1,
        )
    )
    head = f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
    body = f"{head}{parts}--{changeset}--\r\n--{boundary}--\r\n"
    response = client.post(
        "$batch", content=body, headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
    )
    assert (
        response.status_code == 200 and "HTTP/1.1 403" in response.text and "prvWriteAccount" in response.text
    )
    assert dv.state.rows["contact"][contact]["telephone1"] != "555"
    reads, headers = batch_body(dv.api_url, ["accounts?$select=name", "invoices?$select=name"])
    answer = client.post("$batch", content=reads, headers=headers).text
    assert "HTTP/1.1 200" in answer and "HTTP/1.1 403" in answer


def test_c5_the_administrator_and_made_up_users_are_not_checked(
    dv: DataverseEmulatorHandle, api: httpx.Client, seeded: dict[str, Any]
) -> None:
    assert api.get("invoices").status_code == 200  # the application user holds System Administrator
    stranger = httpx.Client(
        base_url=dv.api_url, headers={"Authorization": f"Bearer {dv.issue_token(str(uuid.uuid4()))}"}
    )
    assert stranger.get("invoices").status_code == 200
    assert dv.privilege_checks() == {}


def test_c5_role_messages_read_add_replace_and_remove_privileges(
    dv: DataverseEmulatorHandle, api: httpx.Client
) -> None:
    role_id = new_role(api, "Messages", {"prvReadAccount": "Local"})
    retrieve = f"roles({role_id})/{CRM}RetrieveRolePrivilegesRole()"

    def held() -> dict[str, str]:
        return {row["PrivilegeName"]: row["Depth"] for row in api.get(retrieve).json()["RolePrivileges"]}

    assert held() == {"prvReadAccount": "Local"}
    add = {"Privileges": [{"PrivilegeId": privilege_id(api, "prvReadAccount"), "Depth": "Basic"}]}
    api.post(f"roles({role_id})/{CRM}AddPrivilegesRole", json=add)
    assert held() == {"prvReadAccount": "Local"}  # adding never lowers a depth
    replace = {"Privileges": [{"PrivilegeId": privilege_id(api, "prvReadContact"), "Depth": "Global"}]}
    assert api.post(f"roles({role_id})/{CRM}ReplacePrivilegesRole", json=replace).status_code == 204
    assert held() == {"prvReadContact": "Global"}
    names = [
        row["name"]
        for row in api.get(f"roles({role_id})/roleprivileges_association", params={"$select": "name"}).json()[
            "value"
        ]
    ]
    assert names == ["prvReadContact"]
    remove = {"PrivilegeId": privilege_id(api, "prvReadContact")}
    assert api.post(f"roles({role_id})/{CRM}RemovePrivilegeRole", json=remove).status_code == 204
    assert held() == {}


@pytest.mark.parametrize(
    ("privilege", "depth", "code"),
    [
        ("prvReadSdkMessage", "Basic", "0x8004140b"),  # organization-owned: Global only
        ("prvReadAccount", 3, "0x80060888"),  # the enum member's name, not its number
        ("prvReadAccount", "Everything", "0x80060888"),
    ],
)
def test_c5_a_depth_the_privilege_cannot_have_is_400(
    api: httpx.Client, privilege: str, depth: object, code: str
) -> None:
    role_id = new_role(api, "Depths", {})
    body = {"Privileges": [{"PrivilegeId": privilege_id(api, privilege), "Depth": depth}]}
    response = api.post(f"roles({role_id})/{CRM}AddPrivilegesRole", json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_c5_role_assignment_through_ref_and_the_intersect_tables_are_read_only(
    dv: DataverseEmulatorHandle, api: httpx.Client
) -> None:
    user_id = dv.create_user("Someone")
    role_id = new_role(api, "Assignable", {})
    ref = {"@odata.id": f"{dv.api_url}roles({role_id})"}
    association = f"systemusers({user_id})/systemuserroles_association"
    assert api.post(f"{association}/$ref", json=ref).status_code == 204
    assert api.post(f"{association}/$ref", json=ref).status_code == 400  # already assigned
    assert [r["roleid"] for r in api.get(association).json()["value"]] == [role_id]
    rows = api.get("systemuserrolescollection", params={"$filter": f"systemuserid eq {user_id}"}).json()[
        "value"
    ]
    assert [row["roleid"] for row in rows] == [role_id]
    direct = api.post("roleprivilegescollection", json={"roleid": role_id})
    assert direct.status_code == 400 and "does not support entities of type 'roleprivileges'" in direct.text
    assert api.post("roles", json={"name": "No unit"}).status_code == 400
    assert api.delete(f"{association}({role_id})/$ref").status_code == 204
    assert api.get(association).json()["value"] == []
    assert api.delete(f"roles({role_id})").status_code == 204

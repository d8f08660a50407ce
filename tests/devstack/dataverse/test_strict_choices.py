"""Choice columns keep the option sets they were provisioned with, and writes outside them are refused
as Dataverse refuses them; two-option columns get their DefaultValue on create."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devstack.dataverse.testing import DataverseEmulatorHandle

CRM = "Microsoft.Dynamics.CRM."
EXPORT_STATUS = {"No": 100000000, "Yes": 100000001, "Failed": 100000002}


def label(text: str) -> dict[str, Any]:
    return {"LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def picklist(schema: str, options: dict[str, int]) -> dict[str, Any]:
    """A local choice column, in the shape the connector's provisioning sends."""
    return {
        "@odata.type": f"{CRM}PicklistAttributeMetadata",
        "SchemaName": schema,
        "DisplayName": label(schema),
        "RequiredLevel": {"Value": "None"},
        "OptionSet": {
            "@odata.type": f"{CRM}OptionSetMetadata",
            "IsGlobal": False,
            "OptionSetType": "Picklist",
            "Options": [{"Value": value, "Label": label(text)} for text, value in options.items()],
        },
    }


def boolean(schema: str, default: bool) -> dict[str, Any]:
    return {
        "@odata.type": f"{CRM}BooleanAttributeMetadata",
        "SchemaName": schema,
        "DisplayName": label(schema),
        "DefaultValue": default,
        "OptionSet": {
            "TrueOption": {"Value": 1, "Label": label("Yes")},
            "FalseOption": {"Value": 0, "Label": label("No")},
            "OptionSetType": "Boolean",
        },
    }


def out_of_range(value: int, column: str, table: str, accepted: list[int]) -> str:
    return (
        f"A validation error occurred. The value {value} of '{column}' on record of type '{table}' "
        f"is outside the valid range. Accepted Values: {','.join(str(option) for option in accepted)}"
    )


@pytest.fixture
def details(api: httpx.Client, seeded: dict[str, Any]) -> str:
    """A custom table new_xerodetail with a choice and two booleans (defaults true and false)."""
    table = {
        "@odata.type": f"{CRM}EntityMetadata",
        "SchemaName": "new_XeroDetail",
        "EntitySetName": "new_xerodetails",
        "DisplayName": label("Xero Details"),
        "OwnershipType": "OrganizationOwned",
        "Attributes": [
            {
                "@odata.type": f"{CRM}StringAttributeMetadata",
                "SchemaName": "new_Name",
                "MaxLength": 300,
                "IsPrimaryName": True,
            }
        ],
    }
    assert api.post("EntityDefinitions", json=table).status_code == 204
    path = "EntityDefinitions(LogicalName='new_xerodetail')/Attributes"
    for body in (
        picklist("new_ExportStatus", EXPORT_STATUS),
        boolean("new_SendEmail", True),
        boolean("new_IsDefault", False),
    ):
        assert api.post(path, json=body).status_code == 204
    return "new_xerodetails"


def test_c5_choice_value_outside_the_option_set_is_400_with_dataverse_message(
    api: httpx.Client, details: str
) -> None:
    refused = api.post(details, json={"new_name": "x", "new_exportstatus": 5})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "0x8004431a"
    assert error["message"] == out_of_range(
        5, "new_exportstatus", "new_xerodetail", list(EXPORT_STATUS.values())
    )
    assert api.get(details).json()["value"] == []


def test_c5_choice_value_in_the_option_set_is_stored(api: httpx.Client, details: str) -> None:
    created = api.post(
        details,
        json={"new_name": "ok", "new_exportstatus": 100000002},
        headers={"Prefer": "return=representation"},
    )
    assert created.status_code == 201 and created.json()["new_exportstatus"] == 100000002
    row_id = created.json()["new_xerodetailid"]
    assert api.patch(f"{details}({row_id})", json={"new_exportstatus": 100000001}).status_code == 204
    bad = api.patch(f"{details}({row_id})", json={"new_exportstatus": 3})
    assert bad.status_code == 400 and "The value 3 of 'new_exportstatus'" in bad.json()["error"]["message"]
    assert api.get(f"{details}({row_id})").json()["new_exportstatus"] == 100000001


def test_c5_boolean_default_value_applies_when_the_column_is_omitted(api: httpx.Client, details: str) -> None:
    omitted = api.post(details, json={"new_name": "defaults"}, headers={"Prefer": "return=representation"})
    assert (omitted.json()["new_sendemail"], omitted.json()["new_isdefault"]) == (True, False)
    given = api.post(
        details,
        json={"new_name": "given", "new_sendemail": False, "new_isdefault": True},
        headers={"Prefer": "return=representation"},
    )
    assert (given.json()["new_sendemail"], given.json()["new_isdefault"]) == (False, True)
    definition = api.get(
        "EntityDefinitions(LogicalName='new_xerodetail')/Attributes(LogicalName='new_sendemail')"
    )
    assert definition.json()["DefaultValue"] is True


def test_c5_option_set_is_readable_through_the_typed_attribute(api: httpx.Client, details: str) -> None:
    response = api.get(
        "EntityDefinitions(LogicalName='new_xerodetail')/Attributes(LogicalName='new_exportstatus')/"
        f"{CRM}PicklistAttributeMetadata",
        params={"$select": "LogicalName", "$expand": "OptionSet"},
    )
    assert response.status_code == 200
    options = response.json()["OptionSet"]["Options"]
    assert [(o["Value"], o["Label"]["UserLocalizedLabel"]["Label"]) for o in options] == [
        (value, text) for text, value in EXPORT_STATUS.items()
    ]


def test_c5_deep_insert_with_a_wrong_choice_creates_nothing(
    api: httpx.Client, seeded: dict[str, Any]
) -> None:
    currency = seeded["currencies"]["USD"]
    body = {
        "name": "Deep",
        "customerid_account@odata.bind": f"/accounts({seeded['accounts']['Contoso Ltd']})",
        "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency})",
        "invoice_details": [
            {"isproductoverridden": True, "productdescription": "ok", "quantity": 1, "producttypecode": 1},
            {"isproductoverridden": True, "productdescription": "bad", "quantity": 1, "producttypecode": 9},
        ],
    }
    refused = api.post("invoices", json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == out_of_range(
        9, "producttypecode", "invoicedetail", [1, 2, 3, 4, 5]
    )
    assert api.get("invoices", params={"$filter": "name eq 'Deep'"}).json()["value"] == []
    assert api.get("invoicedetails").json()["value"] == []


def test_c5_batch_change_set_with_a_wrong_choice_rolls_back(api: httpx.Client, details: str) -> None:
    boundary, changeset = "batch_c", "changeset_c"
    part = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID:"
    post = f"POST {api.base_url}{details} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
    body = (
        f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
        f'--{changeset}\r\n{part} 1\r\n\r\n{post}{{"new_name": "A", "new_exportstatus": 100000000}}\r\n'
        f'--{changeset}\r\n{part} 2\r\n\r\n{post}{{"new_name": "B", "new_exportstatus": 42}}\r\n'
        f"--{changeset}--\r\n--{boundary}--\r\n"
    )
    response = api.post(
        "$batch", content=body, headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
    )
    assert response.status_code == 200
    assert "HTTP/1.1 400" in response.text and "The value 42 of 'new_exportstatus'" in response.text
    assert api.get(details).json()["value"] == []


def test_c5_built_in_choices_are_checked(api: httpx.Client, seeded: dict[str, Any]) -> None:
    invoice = {
        "name": "Terms",
        "customerid_account@odata.bind": f"/accounts({seeded['accounts']['Contoso Ltd']})",
        "transactioncurrencyid@odata.bind": f"/transactioncurrencies({seeded['currencies']['USD']})",
    }
    bad_terms = api.post("invoices", json={**invoice, "paymenttermscode": 7})
    assert bad_terms.status_code == 400
    assert bad_terms.json()["error"]["message"] == out_of_range(
        7, "paymenttermscode", "invoice", [1, 2, 3, 4]
    )
    assert api.post("invoices", json={**invoice, "paymenttermscode": 3}).status_code == 204
    endpoint = {"name": "hook", "url": "https://example.invalid/hook", "authtype": 4, "messageformat": 2}
    bad_contract = api.post("serviceendpoints", json={**endpoint, "contract": 99})
    assert (
        bad_contract.status_code == 400
        and "'contract' on record of type 'serviceendpoint'" in (bad_contract.json()["error"]["message"])
    )
    assert api.post("serviceendpoints", json={**endpoint, "contract": 8}).status_code == 204


def test_c5_custom_table_state_and_status_accept_active_and_inactive_only(
    api: httpx.Client, details: str
) -> None:
    created = api.post(details, json={"new_name": "s"}, headers={"Prefer": "return=representation"})
    row_id = created.json()["new_xerodetailid"]
    assert api.patch(f"{details}({row_id})", json={"statecode": 1, "statuscode": 2}).status_code == 204
    refused = api.patch(f"{details}({row_id})", json={"statuscode": 5})
    assert refused.status_code == 400 and "Accepted Values: 1,2" in refused.json()["error"]["message"]


def test_c5_global_option_set_backs_a_choice_column(api: httpx.Client, details: str) -> None:
    created = api.post(
        "GlobalOptionSetDefinitions",
        json={
            "@odata.type": f"{CRM}OptionSetMetadata",
            "Name": "new_colour",
            "IsGlobal": True,
            "OptionSetType": "Picklist",
            "Options": [{"Value": 7, "Label": label("Red")}, {"Value": 8, "Label": label("Blue")}],
        },
    )
    assert created.status_code == 204
    option_set_id = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    column = {
        "@odata.type": f"{CRM}PicklistAttributeMetadata",
        "SchemaName": "new_Colour",
        "GlobalOptionSet@odata.bind": f"/GlobalOptionSetDefinitions({option_set_id})",
    }
    path = "EntityDefinitions(LogicalName='new_xerodetail')/Attributes"
    assert api.post(path, json=column).status_code == 204
    assert api.post(details, json={"new_name": "r", "new_colour": 8}).status_code == 204
    refused = api.post(details, json={"new_name": "g", "new_colour": 9})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == out_of_range(9, "new_colour", "new_xerodetail", [7, 8])
    by_name = api.get("GlobalOptionSetDefinitions(Name='new_colour')").json()
    assert [option["Value"] for option in by_name["Options"]] == [7, 8]


def test_c5_choice_column_without_options_is_refused(api: httpx.Client, details: str) -> None:
    body = {"@odata.type": f"{CRM}PicklistAttributeMetadata", "SchemaName": "new_Empty"}
    response = api.post("EntityDefinitions(LogicalName='new_xerodetail')/Attributes", json=body)
    assert response.status_code == 400 and "OptionSet" in response.json()["error"]["message"]


def test_c5_ui_line_with_a_wrong_product_type_is_refused(
    dv: DataverseEmulatorHandle, seeded: dict[str, Any]
) -> None:
    with pytest.raises(RuntimeError, match="outside the valid range"):
        dv.ui_create_invoice(
            account_id=seeded["accounts"]["Contoso Ltd"],
            lines=[{"product_number": "WID-001", "producttypecode": 8}],
        )


def test_c5_global_option_set_referenced_inline_is_refused(api: httpx.Client, details: str) -> None:
    column = {
        "@odata.type": f"{CRM}PicklistAttributeMetadata",
        "SchemaName": "new_Inline",
        "OptionSet": {"@odata.type": f"{CRM}OptionSetMetadata", "IsGlobal": True, "Name": "new_colour"},
    }
    response = api.post("EntityDefinitions(LogicalName='new_xerodetail')/Attributes", json=column)
    assert response.status_code == 400 and response.json()["error"]["code"] == "0x80048403"

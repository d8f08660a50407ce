"""The emulator stores forms, views and publishing, and refuses what Dataverse would: malformed XML, and
a column, table, relationship or view that does not exist."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devstack.dataverse.testing import DataverseEmulatorHandle

TEXT = "{4273EDBD-AC1D-40d3-9FB2-095C621B552D}"
SUBGRID = "{E7A81278-8635-4d9e-8D4D-59480B391C5B}"


def form_xml(*controls: str) -> str:
    cells = "".join(
        f"<row><cell id='{{00000000-0000-0000-0000-00000000000{i}}}'>{c}</cell></row>"
        for i, c in enumerate(controls)
    )
    return (
        "<form><tabs><tab name='general'><columns><column width='100%'><sections><section name='s'>"
        f"<rows>{cells}</rows></section></sections></column></columns></tab></tabs></form>"
    )


def field(column: str, control_id: str | None = None) -> str:
    return f"<control id='{control_id or column}' classid='{TEXT}' datafieldname='{column}'/>"


def subgrid(target: str, relationship: str, view: str | None = None) -> str:
    view_id = f"<ViewId>{{{view}}}</ViewId>" if view else ""
    return (
        f"<control id='grid' classid='{SUBGRID}' indicationOfSubgrid='true'><parameters>"
        f"<TargetEntityType>{target}</TargetEntityType><RelationshipName>{relationship}</RelationshipName>"
        f"{view_id}</parameters></control>"
    )


def post_form(api: httpx.Client, entity: str, xml: str, form_type: int = 2) -> httpx.Response:
    body = {"name": "Test form", "objecttypecode": entity, "type": form_type, "formxml": xml}
    return api.post("systemforms", json=body, headers={"Prefer": "return=representation"})


def view(entity: str, fetch_body: str, layout: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Test view",
        "returnedtypecode": entity,
        "querytype": 0,
        "fetchxml": f"<fetch mapping='logical'><entity name='{entity}'>{fetch_body}</entity></fetch>",
    }
    if layout is not None:
        body["layoutxml"] = layout
    return body


def error_of(response: httpx.Response) -> dict[str, str]:
    assert set(response.json()) == {"error"}
    error: dict[str, str] = response.json()["error"]
    assert set(error) == {"code", "message"}
    return error


def test_c5_a_valid_form_is_stored_with_its_defaults(api: httpx.Client, seeded: dict[str, Any]) -> None:
    created = post_form(api, "account", form_xml(field("name"), field("telephone1")))
    assert created.status_code == 201
    form = created.json()
    assert (
        form["objecttypecode"] == "account"
        and form["formactivationstate"] == 1
        and form["isdefault"] is False
    )
    fetched = api.get(f"systemforms({form['formid']})", params={"$select": "formxml"}).json()
    assert "datafieldname='telephone1'" in fetched["formxml"].replace('"', "'")


@pytest.mark.parametrize(
    ("xml", "code", "words"),
    [
        ("<form><tabs>", "0x80040201", "Invalid XML"),
        ("<notaform/>", "0x80040201", "<form>"),
        ("<!DOCTYPE form [<!ENTITY x 'y'>]><form/>", "0x80040201", "document type"),
        (form_xml(field("nosuchcolumn")), "0x80040203", "nosuchcolumn"),
        (form_xml(field("name", "same"), field("telephone1", "same")), "0x80040201", "unique id"),
        (form_xml("<control id='x' datafieldname='name'/>"), "0x80040201", "classid"),
    ],
)
def test_c5_a_form_dataverse_would_refuse_is_400(
    api: httpx.Client, seeded: dict[str, Any], xml: str, code: str, words: str
) -> None:
    response = post_form(api, "account", xml)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code and words in error["message"]
    assert api.get("systemforms").json()["value"] == []


def test_c5_a_form_of_an_unknown_table_or_type_is_400(api: httpx.Client) -> None:
    assert error_of(post_form(api, "nosuchtable", form_xml(field("name"))))["code"] == "0x8005E00C"
    assert error_of(post_form(api, "account", form_xml(field("name")), form_type=101))["code"] == "0x80060874"


def test_c5_a_subgrid_needs_a_real_relationship_and_a_view_of_its_table(api: httpx.Client) -> None:
    ok = post_form(api, "invoice", form_xml(subgrid("invoicedetail", "invoice_details")))
    assert ok.status_code == 201
    wrong_relationship = post_form(
        api, "invoice", form_xml(subgrid("invoicedetail", "contact_customer_accounts"))
    )
    assert "does not relate invoice to invoicedetail" in error_of(wrong_relationship)["message"]
    account_view = api.post(
        "savedqueries",
        json=view("account", "<attribute name='name'/>"),
        headers={"Prefer": "return=representation"},
    ).json()["savedqueryid"]
    wrong_view = post_form(
        api, "invoice", form_xml(subgrid("invoicedetail", "invoice_details", account_view))
    )
    assert error_of(wrong_view) == {
        "code": "0x800609B3",
        "message": "The view is not specified or is invalid.",
    }


def test_c5_a_form_cannot_move_to_another_table_and_updates_are_validated(api: httpx.Client) -> None:
    form_id = post_form(api, "account", form_xml(field("name"))).json()["formid"]
    moved = api.patch(f"systemforms({form_id})", json={"objecttypecode": "contact"})
    assert moved.status_code == 400
    broken = api.patch(f"systemforms({form_id})", json={"formxml": form_xml(field("gone"))})
    assert broken.status_code == 400 and "gone" in error_of(broken)["message"]
    changed = api.patch(
        f"systemforms({form_id})", json={"formxml": form_xml(field("name"), field("telephone1"))}
    )
    assert changed.status_code == 204


def test_c5_a_view_with_link_entities_and_a_layout_is_stored(api: httpx.Client) -> None:
    fetch = (
        "<attribute name='name'/><order attribute='name' descending='false'/>"
        "<filter type='and'><condition attribute='statecode' operator='eq' value='0'/>"
        "<filter type='or'><condition attribute='telephone1' operator='null'/>"
        "<condition attribute='createdon' operator='last-x-days' value='7'/></filter></filter>"
        "<link-entity name='contact' from='parentcustomerid' to='accountid' alias='c' "
        "link-type='matchfirstrowusingcrossapply'><attribute name='fullname'/>"
        "<order attribute='fullname' descending='true'/></link-entity>"
    )
    layout = (
        "<grid name='resultset' object='1' jump='name'><row name='result' id='accountid'>"
        "<cell name='name' width='150'/><cell name='c.fullname' width='100'/></row></grid>"
    )
    response = api.post("savedqueries", json=view("account", fetch, layout))
    assert response.status_code == 204


@pytest.mark.parametrize(
    ("entity", "fetch", "layout", "code"),
    [
        ("account", "<attribute name='name'", None, "0x80040303"),
        ("account", "<attribute name='nosuchcolumn'/>", None, "0x80041103"),
        ("account", "<order attribute='nosuchcolumn'/>", None, "0x80041103"),
        (
            "account",
            "<filter><condition attribute='name' operator='resembles' value='x'/></filter>",
            None,
            "0x80041120",
        ),
        ("account", "<filter><condition attribute='name' operator='eq'/></filter>", None, "0x80041106"),
        (
            "account",
            "<filter><condition attribute='createdon' operator='last-x-days' value='a'/></filter>",
            None,
            "0x80041108",
        ),
        ("account", "<filter type='xor'/>", None, "0x80041122"),
        ("account", "<link-entity name='nosuchtable' from='x' to='accountid'/>", None, "0x80041102"),
        ("account", "<link-entity name='contact' from='nosuch' to='accountid'/>", None, "0x80041103"),
        (
            "account",
            "<link-entity name='contact' from='parentcustomerid' to='accountid' link-type='sideways'/>",
            None,
            "0x80041117",
        ),
        (
            "account",
            "<link-entity name='contact' from='parentcustomerid' to='accountid' alias='a'/>"
            "<link-entity name='contact' from='parentcustomerid' to='accountid' alias='a'/>",
            None,
            "0x80041130",
        ),
        (
            "account",
            "<attribute name='name'/>",
            "<grid><row id='accountid'><cell name='nosuch'/></row></grid>",
            "0x80041103",
        ),
        (
            "account",
            "<attribute name='name'/>",
            "<grid><row id='accountid'><cell name='x.name'/></row></grid>",
            "0x8004110a",
        ),
        ("account", "<attribute name='name'/>", "<grid><row id='accountid'>", "0x80040201"),
        (
            "account",
            "<attribute name='name'/>",
            "<grid object='2'><row id='accountid'/></grid>",
            "0x80040203",
        ),
    ],
)
def test_c5_a_view_dataverse_would_refuse_is_400(
    api: httpx.Client, entity: str, fetch: str, layout: str | None, code: str
) -> None:
    response = api.post("savedqueries", json=view(entity, fetch, layout))
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == code
    assert api.get("savedqueries").json()["value"] == []


def test_c5_a_view_must_be_a_public_view_of_the_table_it_names(api: httpx.Client) -> None:
    other = view("account", "<attribute name='name'/>")
    other["returnedtypecode"] = "contact"
    assert error_of(api.post("savedqueries", json=other))["code"] == "0x80041128"
    quick_find = {**view("account", "<attribute name='name'/>"), "querytype": 4}
    assert api.post("savedqueries", json=quick_find).status_code == 400


def test_c5_publish_xml_is_validated_and_publishes_the_tables_forms(
    dv: DataverseEmulatorHandle, api: httpx.Client
) -> None:
    form_id = post_form(api, "account", form_xml(field("name"))).json()["formid"]
    assert api.get(f"systemforms({form_id})").json()["publishedon"] is None
    malformed = api.post("PublishXml", json={"ParameterXml": "<importexportxml><entities>"})
    assert error_of(malformed)["code"] == "0x80040201"
    unknown = api.post(
        "PublishXml",
        json={
            "ParameterXml": "<importexportxml><entities><entity>nosuch</entity></entities></importexportxml>"
        },
    )
    assert unknown.status_code == 400
    xml = "<importexportxml><entities><entity>account</entity></entities></importexportxml>"
    assert api.post("PublishXml", json={"ParameterXml": xml}).status_code == 204
    assert api.get(f"systemforms({form_id})").json()["publishedon"] is not None
    assert f"systemform:{form_id}" in dv.state.published

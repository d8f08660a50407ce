"""Parsing and routing of Dataverse webhook bodies (issue 2, SPEC I2/X1/X2 routing; C1 defaults)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from connector.bootstrap import connection_table, xero_details_table
from connector.domain.messages import ConnectionDefaultMessage, InvoiceCancelMessage, InvoiceSyncMessage
from connector.domain.routing import (
    ConnectionTable,
    IgnoredEvent,
    MalformedWebhookError,
    RoutedEvent,
    XeroDetailsTable,
    route_change,
)
from connector.entrypoints.dataverse_context import decode_value, parse_wcf_date, read_change
from devstack.paths import shared_dir
from tests.factories import route_webhook
from tests.fixtures import dataverse_payloads as payloads

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def route(
    body: dict[str, object] | bytes, headers: dict[str, str] | None = None
) -> RoutedEvent | IgnoredEvent:
    raw = body if isinstance(body, bytes) else payloads.encode(body)
    return route_webhook(raw, headers or {}, NOW)


def test_microsoft_sample_for_a_contact_is_ignored_politely() -> None:
    sample = shared_dir() / "samples" / "dataverse-webhook-sample-contact-create.json"
    if not sample.exists():
        pytest.skip(f"Microsoft's sample body is not at {sample} (shared/ is beside the project in CI)")
    result = route(sample.read_bytes())
    assert result == IgnoredEvent("entity 'contact' is not handled")


def test_i2_create_goes_to_sync_with_context_fields() -> None:
    result = route(payloads.invoice_create())
    assert isinstance(result, RoutedEvent)
    assert result.queue == "sync"
    message = result.message
    assert isinstance(message, InvoiceSyncMessage)
    assert message.invoice_id == UUID(payloads.INVOICE_ID)
    assert message.organization == "contoso"
    assert message.message_name == "Create"
    assert message.correlation_id == payloads.CORRELATION_ID
    assert message.event_time == datetime(2025, 11, 21, 4, 40, tzinfo=UTC)  # 1763700000000 ms


def test_i2_update_with_pre_and_post_images_goes_to_sync() -> None:
    result = route(payloads.invoice_update_with_images())
    assert isinstance(result, RoutedEvent)
    assert (result.queue, result.message.message_name) == ("sync", "Update")


def test_x1_update_to_statecode_3_goes_to_cancel() -> None:
    result = route(payloads.invoice_update_cancel())
    assert isinstance(result, RoutedEvent)
    assert result.queue == "cancel"
    assert isinstance(result.message, InvoiceCancelMessage)
    assert result.message.reason == "canceled"


@pytest.mark.parametrize("message_name", ["SetState", "SetStateDynamicEntity"])
def test_x1_setstate_to_canceled_goes_to_cancel(message_name: str) -> None:
    result = route(payloads.invoice_setstate_cancel(message_name))
    assert isinstance(result, RoutedEvent)
    assert result.queue == "cancel"
    assert result.subject == ("invoice", UUID(payloads.INVOICE_ID))
    assert result.message.message_name == message_name


SALES_USER = "75c2dd85-e89e-e711-8122-000d3aa2331c"  # the payloads' InitiatingUserId
CONNECTOR_USER = "0c0ec70e-0000-4000-8000-000000000001"


def _routed_for(body: dict[str, object], own_user: str) -> RoutedEvent | IgnoredEvent:
    change = read_change(payloads.encode(body), {}, datetime(2025, 11, 21, tzinfo=UTC))
    return route_change(change, xero_details_table("xc"), UUID(own_user))


@pytest.mark.parametrize(
    "body",
    [payloads.invoice_update_with_images(), payloads.invoice_setstate_cancel("SetState")],
    ids=["update", "setstate"],
)
def test_the_connectors_own_invoice_updates_are_ignored(body: dict[str, object]) -> None:
    routed = _routed_for({**body, "InitiatingUserId": CONNECTOR_USER}, own_user=CONNECTOR_USER)
    assert routed == IgnoredEvent("the connector's own change")


def test_a_persons_update_still_syncs_when_the_connector_knows_its_own_user() -> None:
    routed = _routed_for(payloads.invoice_update_with_images(), own_user=CONNECTOR_USER)
    assert isinstance(routed, RoutedEvent)
    assert routed.queue == "sync"


def test_the_connectors_own_create_and_delete_still_route() -> None:
    for body in (payloads.invoice_create(), payloads.invoice_delete()):
        routed = _routed_for({**body, "InitiatingUserId": SALES_USER}, own_user=SALES_USER)
        assert isinstance(routed, RoutedEvent)


def test_setstate_to_paid_is_not_a_cancel() -> None:
    body = payloads.invoice_setstate_cancel()
    body["InputParameters"][1]["value"] = payloads.option(2)  # type: ignore[index]
    result = route(body)
    assert isinstance(result, RoutedEvent)
    assert result.queue == "sync"


def test_x2_delete_goes_to_cancel_with_reason_deleted_and_pre_image() -> None:
    result = route(payloads.invoice_delete())
    assert isinstance(result, RoutedEvent)
    assert result.queue == "cancel"
    message = result.message
    assert isinstance(message, InvoiceCancelMessage)
    assert message.reason == "deleted"
    assert message.pre_image == {"name": "Website rebuild", "invoicenumber": "INV-01001-X7Y8Z9"}


def test_size_exceeded_falls_back_to_primary_entity_id() -> None:
    result = route(payloads.size_exceeded(), {"x-ms-dynamics-msg-size-exceeded": "true"})
    assert isinstance(result, RoutedEvent)
    assert result.queue == "sync"
    assert result.subject == ("invoice", UUID(payloads.INVOICE_ID))


def test_size_exceeded_delete_is_still_a_delete() -> None:
    result = route(payloads.size_exceeded("Delete"), {"X-MS-Dynamics-Msg-Size-Exceeded": "true"})
    assert isinstance(result, RoutedEvent)
    assert result.queue == "cancel"
    assert isinstance(result.message, InvoiceCancelMessage)
    assert (result.message.reason, result.message.pre_image) == ("deleted", None)


def test_unhandled_message_on_invoice_is_ignored() -> None:
    assert route(payloads.context("Assign", {})) == IgnoredEvent("message 'Assign' is not handled")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b"{}", "not a RemoteExecutionContext: MessageName"),
        (
            json.dumps(
                {"MessageName": "Create", "PrimaryEntityName": "invoice", "InputParameters": {"a": 1}}
            ).encode(),
            "InputParameters",
        ),
        (
            json.dumps(
                {"MessageName": "Create", "PrimaryEntityName": "invoice", "PrimaryEntityId": "nope"}
            ).encode(),
            "PrimaryEntityId",
        ),
        (json.dumps({"MessageName": "Create", "PrimaryEntityName": "invoice"}).encode(), "no invoice id"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedWebhookError, match=reason):
        route(body)


def test_wcf_dates_with_and_without_offset_are_utc_milliseconds() -> None:
    assert parse_wcf_date("/Date(1506384247000)/") == datetime(2017, 9, 26, 0, 4, 7, tzinfo=UTC)
    assert parse_wcf_date("/Date(1506409448000-0700)/") == datetime(2017, 9, 26, 7, 4, 8, tzinfo=UTC)


def test_typed_values_decode_to_plain_python() -> None:
    assert decode_value(payloads.money(12.5)) == 12.5
    assert decode_value(payloads.option(3)) == 3
    assert decode_value(payloads.entity_reference("account", "abc")) == {
        "id": "abc",
        "logical_name": "account",
        "name": None,
    }
    assert decode_value([{"key": "a", "value": "/Date(0)/"}]) == {"a": datetime(1970, 1, 1, tzinfo=UTC)}


DETAILS = XeroDetailsTable(
    logical_name="xc_xerodetails",
    invoice_column="xc_invoiceid",
    export_status_column="xc_exportstatus",
    retry_values=frozenset({100000000, 100000003}),
)


def details_update(export_status: int) -> dict[str, object]:
    image = payloads.entity(
        {
            "xc_exportstatus": payloads.option(export_status),
            "xc_invoiceid": payloads.entity_reference("invoice", payloads.INVOICE_ID),
        },
        id_="aaaaaaaa-0000-0000-0000-000000000001",
        logical_name="xc_xerodetails",
    )
    target = payloads.entity(
        {"xc_exportstatus": payloads.option(export_status)},
        id_="aaaaaaaa-0000-0000-0000-000000000001",
        logical_name="xc_xerodetails",
    )
    body = payloads.context(
        "Update", {"Target": target}, post={"PostImage": image}, entity_name="xc_xerodetails"
    )
    body["PrimaryEntityId"] = "aaaaaaaa-0000-0000-0000-000000000001"
    return body


def test_i10_export_status_back_to_no_syncs_the_invoice_at_once() -> None:
    result = route_webhook(payloads.encode(details_update(100000000)), {}, NOW, DETAILS)
    assert isinstance(result, RoutedEvent)
    assert result.queue == "sync"
    assert result.subject == ("invoice", UUID(payloads.INVOICE_ID))
    assert result.message.message_name == "ExportStatusChanged"


def test_i10_export_status_set_to_failed_needs_nothing() -> None:
    result = route_webhook(payloads.encode(details_update(100000002)), {}, NOW, DETAILS)
    assert result == IgnoredEvent("export status change needs no sync")


# --- C1: "Is default" set on a connection in Dynamics --------------------------------------------


def route_connection(body: dict[str, object], own_user: str = CONNECTOR_USER) -> RoutedEvent | IgnoredEvent:
    """Routed as the entrypoint does: with the connection table, knowing the connector's own user."""
    change = read_change(payloads.encode(body), {}, NOW)
    return route_change(change, xero_details_table("xc"), UUID(own_user), connection_table("xc"))


def test_the_routed_connection_table_is_the_provisioned_one() -> None:
    assert connection_table("xc") == ConnectionTable(payloads.CONNECTION_TABLE, payloads.IS_DEFAULT)


def test_c1_is_default_ticked_in_dynamics_asks_for_the_others_to_be_cleared() -> None:
    result = route_connection(payloads.connection_update(is_default=True))
    assert isinstance(result, RoutedEvent)
    assert result.queue == "connection" and result.delay_seconds is None
    assert result.subject == ("connection", UUID(payloads.CONNECTION_ID))
    assert result.message == ConnectionDefaultMessage(
        connection_id=UUID(payloads.CONNECTION_ID),
        organization=payloads.ORG,
        message_name="Update",
        correlation_id=payloads.CORRELATION_ID,
        event_time=datetime(2025, 11, 21, 4, 40, tzinfo=UTC),  # OperationCreatedOn
    )


def test_c1_a_connection_made_default_as_it_is_created_in_dynamics_is_routed_too() -> None:
    result = route_connection(payloads.connection_create(is_default=True))
    assert isinstance(result, RoutedEvent)
    assert isinstance(result.message, ConnectionDefaultMessage)
    assert (result.message.connection_id, result.message.message_name) == (
        UUID(payloads.CONNECTION_ID),
        "Create",
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (payloads.connection_update(is_default=False), "xc_isdefault is not set: nothing to clear"),
        (payloads.connection_create(is_default=False), "xc_isdefault is not set: nothing to clear"),
        (
            payloads.connection_update(changed={"xc_timezone": "Pacific/Auckland"}),
            "xc_isdefault did not change",
        ),
        (
            payloads.connection_update(post_image=False),
            "Update of xc_xeroconnection without xc_isdefault in its post image",
        ),
        (
            payloads.context(
                "Delete",
                {"Target": payloads.entity_reference(payloads.CONNECTION_TABLE, payloads.CONNECTION_ID)},
                entity_name=payloads.CONNECTION_TABLE,
                primary_id=payloads.CONNECTION_ID,
            ),
            "Delete of xc_xeroconnection is not handled",
        ),
    ],
    ids=["cleared", "created-not-default", "other-columns", "no-post-image", "delete"],
)
def test_c1_connection_changes_that_set_no_default_are_ignored(body: dict[str, object], reason: str) -> None:
    assert route_connection(body) == IgnoredEvent(reason)


@pytest.mark.parametrize(
    "body", [payloads.connection_update(), payloads.connection_create()], ids=["update", "create"]
)
def test_c1_the_connectors_own_default_needs_no_message(body: dict[str, object]) -> None:
    # The console and the CLI clear the others in the same change set as they set the default.
    routed = route_connection({**body, "InitiatingUserId": CONNECTOR_USER}, own_user=CONNECTOR_USER)
    assert routed == IgnoredEvent("the connector's own change")


def test_c1_a_connection_change_without_an_id_is_malformed() -> None:
    body = payloads.connection_update()
    body["PrimaryEntityId"] = ""
    body["InputParameters"] = []
    with pytest.raises(MalformedWebhookError, match="no connection id"):
        route_connection(body)


def test_without_the_connection_table_connection_changes_are_not_handled() -> None:
    assert route(payloads.connection_update()) == IgnoredEvent("entity 'xc_xeroconnection' is not handled")


def test_the_registered_post_image_wins_over_the_async_steps_own_image() -> None:
    body = payloads.connection_update()
    body["PostEntityImages"] = list(reversed(body["PostEntityImages"]))
    change = read_change(payloads.encode(body), {}, NOW)
    assert change.post_image == {payloads.IS_DEFAULT: True}

"""Parse a Dataverse webhook (a serialized RemoteExecutionContext) and decide which queue it goes to.

The body is only a notification: handlers re-read the invoice, so we keep just what routing needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connector.domain.dynamics import InvoiceState
from connector.domain.messages import InvoiceCancelMessage, InvoiceSyncMessage

INVOICE_ENTITY = "invoice"
SIZE_EXCEEDED_HEADER = "x-ms-dynamics-msg-size-exceeded"
STATE_MESSAGES = frozenset({"SetState", "SetStateDynamicEntity"})
HANDLED_MESSAGES = frozenset({"Create", "Update", "Delete"}) | STATE_MESSAGES

# WCF JSON dates: "/Date(1506384247000)/" or "/Date(1506409448000-0700)/". The milliseconds are UTC;
# the offset only says where the writer was.
_WCF_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class MalformedWebhookError(ValueError):
    """The body is not a RemoteExecutionContext we can act on. The message is safe to return (400)."""


def parse_wcf_date(value: str) -> datetime:
    match = _WCF_DATE.match(value)
    if match is None:
        raise ValueError(f"not a /Date(ms)/ value: {value[:40]!r}")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))


def decode_value(value: Any) -> Any:
    """Turn a typed Dataverse value into plain Python: /Date/ → datetime, Money/OptionSet → number,
    EntityReference → {"id", "logical_name", "name"}, key/value lists → dicts."""
    if isinstance(value, str) and value.startswith("/Date("):
        try:
            return parse_wcf_date(value)
        except ValueError:
            return value
    if isinstance(value, list):
        if all(isinstance(item, dict) and set(item) == {"key", "value"} for item in value) and value:
            return {item["key"]: decode_value(item["value"]) for item in value}
        return [decode_value(item) for item in value]
    if isinstance(value, dict):
        kind = str(value.get("__type", "")).split(":", 1)[0]
        if kind in {"Money", "OptionSetValue"} or (not kind and set(value) == {"Value"}):
            return value.get("Value")
        if kind == "EntityReference" or ({"Id", "LogicalName"} <= set(value) and "Attributes" not in value):
            return {
                "id": value.get("Id"),
                "logical_name": value.get("LogicalName"),
                "name": value.get("Name"),
            }
        if kind == "Entity" or "Attributes" in value:
            return Entity.model_validate(value).attributes
        return {key: decode_value(item) for key, item in value.items() if key != "__type"}
    return value


def _key_values(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ValueError("expected a list of {key, value} pairs")
    result: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, dict) or "key" not in item:
            raise ValueError("expected a list of {key, value} pairs")
        result[str(item["key"])] = item.get("value")
    return result


class Entity(BaseModel):
    """An Entity: logical name, id and its attributes decoded to plain values."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    logical_name: str | None = Field(default=None, alias="LogicalName")
    id: UUID | None = Field(default=None, alias="Id")
    attributes: dict[str, Any] = Field(default_factory=dict, alias="Attributes")

    @field_validator("attributes", mode="before")
    @classmethod
    def _decode(cls, raw: Any) -> dict[str, Any]:
        return {key: decode_value(value) for key, value in _key_values(raw).items()}

    @field_validator("id", mode="before")
    @classmethod
    def _empty_id(cls, raw: Any) -> Any:
        return None if raw in ("", "00000000-0000-0000-0000-000000000000") else raw


class RemoteExecutionContext(BaseModel):
    """The fields of Microsoft.Xrm.Sdk.RemoteExecutionContext the connector uses."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_name: str = Field(alias="MessageName", min_length=1)
    primary_entity_name: str = Field(alias="PrimaryEntityName", min_length=1)
    primary_entity_id: UUID | None = Field(default=None, alias="PrimaryEntityId")
    correlation_id: str = Field(default="", alias="CorrelationId")
    organization_name: str = Field(default="", alias="OrganizationName")
    operation_created_on: datetime | None = Field(default=None, alias="OperationCreatedOn")
    depth: int = Field(default=1, alias="Depth")
    input_parameters: dict[str, Any] = Field(default_factory=dict, alias="InputParameters")
    pre_entity_images: dict[str, Entity] = Field(default_factory=dict, alias="PreEntityImages")
    post_entity_images: dict[str, Entity] = Field(default_factory=dict, alias="PostEntityImages")

    @field_validator("input_parameters", mode="before")
    @classmethod
    def _inputs(cls, raw: Any) -> dict[str, Any]:
        return _key_values(raw)

    @field_validator("pre_entity_images", "post_entity_images", mode="before")
    @classmethod
    def _images(cls, raw: Any) -> dict[str, Any]:
        return _key_values(raw)

    @field_validator("operation_created_on", mode="before")
    @classmethod
    def _wcf_date(cls, raw: Any) -> Any:
        return parse_wcf_date(raw) if isinstance(raw, str) and raw.startswith("/Date(") else raw

    @field_validator("primary_entity_id", mode="before")
    @classmethod
    def _empty_id(cls, raw: Any) -> Any:
        return None if raw in ("", "00000000-0000-0000-0000-000000000000") else raw

    def target(self) -> Entity | None:
        """InputParameters Target (Create/Update: Entity; Delete: EntityReference)."""
        raw = self.input_parameters.get("Target") or self.input_parameters.get("EntityMoniker")
        if not isinstance(raw, dict):
            return None
        return Entity.model_validate(raw)

    def requested_state(self) -> int | None:
        """The statecode this operation sets, if it sets one."""
        if self.message_name in STATE_MESSAGES:
            state = decode_value(self.input_parameters.get("State"))
            return int(state) if isinstance(state, int) else None
        target = self.target()
        state = target.attributes.get("statecode") if target is not None else None
        return int(state) if isinstance(state, int) else None


@dataclass(frozen=True)
class XeroDetailsTable:
    """The connector's own Xero details table, whose export status changes retry a sync (I10)."""

    logical_name: str
    invoice_column: str
    export_status_column: str
    retry_values: frozenset[int]  # "No" and "Ready to update"


@dataclass(frozen=True)
class RoutedEvent:
    """What to enqueue: `queue` is the logical queue ("sync" or "cancel")."""

    queue: Literal["sync", "cancel"]
    message: InvoiceSyncMessage | InvoiceCancelMessage


@dataclass(frozen=True)
class IgnoredEvent:
    reason: str


def parse_context(body: bytes) -> RemoteExecutionContext:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedWebhookError(f"body is not JSON: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    if not isinstance(data, dict):
        raise MalformedWebhookError("body is not a JSON object")
    try:
        return RemoteExecutionContext.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MalformedWebhookError(f"not a RemoteExecutionContext: {where}: {first['msg']}") from None


def route_dataverse_webhook(
    body: bytes,
    headers: Mapping[str, str],
    received_at: datetime,
    details_table: XeroDetailsTable | None = None,
) -> RoutedEvent | IgnoredEvent:
    """Decide what a webhook means. Raises MalformedWebhookError for bodies we cannot act on."""
    context = parse_context(body)
    lowered = {key.lower(): value for key, value in headers.items()}
    entity = context.primary_entity_name.lower()
    if details_table is not None and entity == details_table.logical_name:
        return _route_details_change(context, lowered, received_at, details_table)
    if entity != INVOICE_ENTITY:
        return IgnoredEvent(f"entity {entity!r} is not handled")
    if context.message_name not in HANDLED_MESSAGES:
        return IgnoredEvent(f"message {context.message_name!r} is not handled")

    size_exceeded = SIZE_EXCEEDED_HEADER in lowered
    target = None if size_exceeded else context.target()
    invoice_id = (target.id if target is not None else None) or context.primary_entity_id
    if invoice_id is None:
        raise MalformedWebhookError(
            "no invoice id: neither InputParameters Target nor PrimaryEntityId is set"
        )

    common: dict[str, Any] = {
        "invoice_id": invoice_id,
        "organization": context.organization_name or lowered.get("x-ms-dynamics-organization", ""),
        "message_name": context.message_name,
        "correlation_id": context.correlation_id or lowered.get("x-ms-correlation-request-id", ""),
        "event_time": context.operation_created_on or received_at,
    }
    if context.message_name == "Delete":
        pre_image = next(iter(context.pre_entity_images.values()), None)
        return RoutedEvent(
            "cancel",
            InvoiceCancelMessage(
                **common, reason="deleted", pre_image=_json_safe(pre_image.attributes) if pre_image else None
            ),
        )
    # Without InputParameters (size exceeded) we cannot see a cancel here; the sync handler re-reads the
    # invoice and hands a cancelled one over to the cancel path.
    if not size_exceeded and context.requested_state() == InvoiceState.CANCELED:
        return RoutedEvent("cancel", InvoiceCancelMessage(**common, reason="canceled"))
    return RoutedEvent("sync", InvoiceSyncMessage(**common))


def _route_details_change(
    context: RemoteExecutionContext,
    headers: Mapping[str, str],
    received_at: datetime,
    table: XeroDetailsTable,
) -> RoutedEvent | IgnoredEvent:
    """The user set export status back to "No" (or to "Ready to update"): sync the invoice now."""
    image = next(iter(context.post_entity_images.values()), None)
    if context.message_name != "Update" or image is None:
        return IgnoredEvent(
            f"{context.message_name} of {table.logical_name} without a post image is not handled"
        )
    status = image.attributes.get(table.export_status_column)
    invoice = image.attributes.get(table.invoice_column)
    if status not in table.retry_values:
        return IgnoredEvent("export status change needs no sync")
    if not isinstance(invoice, dict) or not invoice.get("id"):
        raise MalformedWebhookError(f"post image has no {table.invoice_column}")
    message = InvoiceSyncMessage(
        invoice_id=invoice["id"],
        organization=context.organization_name or headers.get("x-ms-dynamics-organization", ""),
        message_name="ExportStatusChanged",
        correlation_id=context.correlation_id or headers.get("x-ms-correlation-request-id", ""),
        event_time=context.operation_created_on or received_at,
    )
    return RoutedEvent("sync", message)


def _json_safe(attributes: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(attributes, default=str))  # type: ignore[no-any-return]

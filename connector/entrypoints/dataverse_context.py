"""Read a Dataverse webhook: a serialized RemoteExecutionContext (key/value lists, `__type`, WCF dates).

The body is only a notification: handlers re-read the invoice, so we keep just what routing needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connector.domain.routing import DataverseChange, MalformedWebhookError

SIZE_EXCEEDED_HEADER = "x-ms-dynamics-msg-size-exceeded"
STATE_MESSAGES = frozenset({"SetState", "SetStateDynamicEntity"})
ASYNC_STEP_IMAGE = "AsynchronousStepPrimaryName"

# WCF JSON dates: "/Date(1506384247000)/" or "/Date(1506409448000-0700)/". The milliseconds are UTC;
# the offset only says where the writer was.
_WCF_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_wcf_date(value: str) -> datetime:
    match = _WCF_DATE.match(value)
    if match is None:
        raise ValueError(f"not a /Date(ms)/ value: {value[:40]!r}")
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))
    except OverflowError:
        raise ValueError(f"/Date(ms)/ out of range: {value[:40]!r}") from None


def decode_value(value: Any) -> Any:
    """Turn a typed Dataverse value into plain Python: /Date/ → datetime, Money/OptionSet → number,
    EntityReference → {"id", "logical_name", "name"}, key/value lists → dicts."""
    if isinstance(value, str) and value.startswith("/Date("):
        try:
            return parse_wcf_date(value)
        except ValueError:
            return value
    if isinstance(value, list):
        if value and all(_is_pair(item) for item in value):
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


def _is_pair(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {"key", "value"} and isinstance(item["key"], str)


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
    initiating_user_id: UUID | None = Field(default=None, alias="InitiatingUserId")
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

    @field_validator("primary_entity_id", "initiating_user_id", mode="before")
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


def parse_context(body: bytes) -> RemoteExecutionContext:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedWebhookError(f"body is not JSON: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    except RecursionError:
        raise MalformedWebhookError("body is nested too deeply") from None
    if not isinstance(data, dict):
        raise MalformedWebhookError("body is not a JSON object")
    try:
        return RemoteExecutionContext.model_validate(data)
    except ValidationError as exc:
        raise MalformedWebhookError(f"not a RemoteExecutionContext: {_first_error(exc)}") from None
    except RecursionError:
        raise MalformedWebhookError("body is nested too deeply") from None


def read_change(body: bytes, headers: Mapping[str, str], received_at: datetime) -> DataverseChange:
    """What the webhook says happened, in plain values. Raises MalformedWebhookError, never anything else
    the body could provoke."""
    context = parse_context(body)
    lowered = {key.lower(): value for key, value in headers.items()}
    size_exceeded = SIZE_EXCEEDED_HEADER in lowered
    try:
        target = None if size_exceeded else context.target()
        requested_state = None if size_exceeded else context.requested_state()
    except ValidationError as exc:
        raise MalformedWebhookError(f"InputParameters Target: {_first_error(exc)}") from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise MalformedWebhookError(f"InputParameters: {type(exc).__name__}") from None
    pre_image = next(iter(context.pre_entity_images.values()), None)
    # An asynchronous step adds an image of its own (the record's name and id) beside the registered one.
    registered = [i for key, i in context.post_entity_images.items() if key != ASYNC_STEP_IMAGE]
    post_image = next(iter(registered or context.post_entity_images.values()), None)
    return DataverseChange(
        entity=context.primary_entity_name.lower(),
        message_name=context.message_name,
        target_id=target.id if target is not None else None,
        primary_entity_id=context.primary_entity_id,
        requested_state=requested_state,
        size_exceeded=size_exceeded,
        pre_image=_json_safe(pre_image.attributes) if pre_image is not None else None,
        post_image=post_image.attributes if post_image is not None else None,
        organization=context.organization_name or lowered.get("x-ms-dynamics-organization", ""),
        correlation_id=context.correlation_id or lowered.get("x-ms-correlation-request-id", ""),
        event_time=context.operation_created_on or received_at,
        initiating_user_id=context.initiating_user_id,
        updated_columns=_updated_columns(context.message_name, target),
    )


def _updated_columns(message_name: str, target: Entity | None) -> frozenset[str] | None:
    """An Update's Target carries the columns it changed (plus a few system ones, e.g. modifiedon)."""
    if message_name != "Update" or target is None:
        return None
    return frozenset(key.lower() for key in target.attributes)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"


def _json_safe(attributes: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(attributes, default=str))  # type: ignore[no-any-return]
    except (ValueError, RecursionError):
        raise MalformedWebhookError("pre image cannot be kept as JSON") from None

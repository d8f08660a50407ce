"""Versioned queue message bodies. A message says what to look at, never the data itself."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1


class InvoiceSyncMessage(_Message):
    """An invoice was created or changed in Dynamics (or a sweep found it eligible)."""

    type: Literal["invoice.sync"] = "invoice.sync"
    invoice_id: UUID
    organization: str
    message_name: str
    correlation_id: str
    event_time: datetime


class InvoiceCancelMessage(_Message):
    """An invoice was cancelled (statecode 3) or deleted in Dynamics."""

    type: Literal["invoice.cancel"] = "invoice.cancel"
    invoice_id: UUID
    organization: str
    message_name: str
    correlation_id: str
    event_time: datetime
    reason: Literal["canceled", "deleted"]
    # For deletes the record is gone: keep what the Delete step's pre image told us.
    pre_image: dict[str, Any] | None = None


class XeroEventMessage(_Message):
    """One event from a Xero webhook batch."""

    type: Literal["xero.event"] = "xero.event"
    tenant_id: str
    event_category: str
    event_type: str
    resource_id: str
    resource_url: str
    event_date_utc: str
    correlation_id: str


class SweepMessage(_Message):
    """Timer tick: look for work the events missed."""

    type: Literal["sync.sweep"] = "sync.sweep"
    scheduled_for: datetime
    connection_id: UUID | None = None
    correlation_id: str


QueueMessageBody = Annotated[
    InvoiceSyncMessage | InvoiceCancelMessage | XeroEventMessage | SweepMessage,
    Field(discriminator="type"),
]
_message_adapter: TypeAdapter[QueueMessageBody] = TypeAdapter(QueueMessageBody)


def parse_message(raw: str | bytes) -> QueueMessageBody:
    """Parse any queue message body; raises pydantic.ValidationError when malformed."""
    return _message_adapter.validate_json(raw)

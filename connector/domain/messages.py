"""Versioned queue message bodies. A message says what to look at, never the data itself."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

# W3C Trace Context: version-traceid-parentid-flags, lower-case hex (https://www.w3.org/TR/trace-context/).
TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    # The trace the message belongs to, so the handler continues it (queues carry no trace context).
    # Optional: messages enqueued before it existed, and by anything that does not trace, have none.
    traceparent: str | None = None

    @field_validator("traceparent", mode="before")
    @classmethod
    def _readable_traceparent(cls, value: object) -> object:
        """An unreadable traceparent is dropped, never a reason to poison the message."""
        return value if isinstance(value, str) and TRACEPARENT.fullmatch(value) else None


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
    # Asked for by Xero events left to reconcile: pull Xero's changes now, whatever the interval.
    reconcile_now: bool = False


class ReferenceDataSyncMessage(_Message):
    """C4: pull Xero's reference data into Dynamics, for one connection or (None) all of them."""

    type: Literal["reference.sync"] = "reference.sync"
    requested_at: datetime
    connection_id: UUID | None = None
    correlation_id: str


class ConnectionDefaultMessage(_Message):
    """C1: someone set "Is default" on this connection in Dynamics; it must become the only default."""

    type: Literal["connection.default"] = "connection.default"
    connection_id: UUID
    organization: str
    message_name: str
    correlation_id: str
    event_time: datetime


QueueMessageBody = Annotated[
    InvoiceSyncMessage
    | InvoiceCancelMessage
    | XeroEventMessage
    | SweepMessage
    | ReferenceDataSyncMessage
    | ConnectionDefaultMessage,
    Field(discriminator="type"),
]
_message_adapter: TypeAdapter[QueueMessageBody] = TypeAdapter(QueueMessageBody)


def parse_message(raw: str | bytes) -> QueueMessageBody:
    """Parse any queue message body; raises pydantic.ValidationError when malformed."""
    return _message_adapter.validate_json(raw)

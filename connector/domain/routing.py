"""Which queue a Dataverse change goes to, and when: the routing rules of the Dataverse webhook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from connector.domain.dynamics import InvoiceState
from connector.domain.messages import ConnectionDefaultMessage, InvoiceCancelMessage, InvoiceSyncMessage

INVOICE_ENTITY = "invoice"
HANDLED_MESSAGES = frozenset({"Create", "Update", "Delete", "SetState", "SetStateDynamicEntity"})
OWN_CHANGES = frozenset({"Update", "SetState", "SetStateDynamicEntity"})
# A connection made default in Dynamics: ticked on an existing record, or on a new one.
CONNECTION_MESSAGES = frozenset({"Create", "Update"})
# A new invoice has no lines yet: its line events follow at once and do the work. Holding the Create
# back a moment lets them set it up first, instead of racing it for the same records.
CREATE_HOLD_BACK_SECONDS = 2


class MalformedWebhookError(ValueError):
    """The body is not a change we can act on. The message is safe to return (400)."""


@dataclass(frozen=True)
class DataverseChange:
    """What a Dataverse webhook says happened, already read from its wire format."""

    entity: str
    message_name: str
    target_id: UUID | None
    primary_entity_id: UUID | None
    requested_state: int | None
    size_exceeded: bool  # Dataverse dropped InputParameters and images
    pre_image: dict[str, Any] | None
    post_image: dict[str, Any] | None
    organization: str
    correlation_id: str
    event_time: datetime
    initiating_user_id: UUID | None = None  # who made the change (InitiatingUserId)
    # The columns an Update's Target carries (what it changed); None for other messages or when dropped.
    updated_columns: frozenset[str] | None = None


@dataclass(frozen=True)
class XeroDetailsTable:
    """The connector's own Xero details table, whose export status changes retry a sync (I10)."""

    logical_name: str
    invoice_column: str
    export_status_column: str
    retry_values: frozenset[int]  # "No" and "Ready to update"


@dataclass(frozen=True)
class ConnectionTable:
    """The connector's connection table, whose "Is default" changes made in Dynamics clear the others (C1)."""

    logical_name: str
    is_default_column: str


@dataclass(frozen=True)
class RoutedEvent:
    """What to enqueue: `queue` is the logical queue; `delay_seconds` hides the message that long."""

    queue: Literal["sync", "cancel", "connection"]
    message: InvoiceSyncMessage | InvoiceCancelMessage | ConnectionDefaultMessage
    delay_seconds: int | None = None

    @property
    def subject(self) -> tuple[Literal["invoice", "connection"], UUID]:
        """What the change is about: ("invoice", id) or ("connection", id)."""
        if isinstance(self.message, ConnectionDefaultMessage):
            return "connection", self.message.connection_id
        return "invoice", self.message.invoice_id


@dataclass(frozen=True)
class IgnoredEvent:
    reason: str


def route_change(
    change: DataverseChange,
    details_table: XeroDetailsTable,
    own_user_id: UUID | None = None,
    connection_table: ConnectionTable | None = None,
) -> RoutedEvent | IgnoredEvent:
    """Decide what a change means. Raises MalformedWebhookError when it cannot be acted on.

    `own_user_id` is the connector's own Dataverse user: its updates of an invoice (set-up, totals, Paid)
    need no sync, so they cost no queue message and no re-read. Its Xero details changes still route:
    setting export status back to "Ready to update" is how it asks for an update. Its connection changes
    do not: when it sets a default (console, CLI) it clears the others in the same change set."""
    if change.entity == details_table.logical_name:
        return _route_details_change(change, details_table)
    if connection_table is not None and change.entity == connection_table.logical_name:
        own = own_user_id is not None and change.initiating_user_id == own_user_id
        return _route_connection_change(change, connection_table, own)
    if change.entity != INVOICE_ENTITY:
        return IgnoredEvent(f"entity {change.entity!r} is not handled")
    if change.message_name not in HANDLED_MESSAGES:
        return IgnoredEvent(f"message {change.message_name!r} is not handled")
    own = own_user_id is not None and change.initiating_user_id == own_user_id
    if own and change.message_name in OWN_CHANGES:
        return IgnoredEvent("the connector's own change")
    invoice_id = change.target_id or change.primary_entity_id
    if invoice_id is None:
        raise MalformedWebhookError(
            "no invoice id: neither InputParameters Target nor PrimaryEntityId is set"
        )

    common: dict[str, Any] = {
        "invoice_id": invoice_id,
        "organization": change.organization,
        "message_name": change.message_name,
        "correlation_id": change.correlation_id,
        "event_time": change.event_time,
    }
    if change.message_name == "Delete":
        return RoutedEvent(
            "cancel", InvoiceCancelMessage(**common, reason="deleted", pre_image=change.pre_image)
        )
    # Without InputParameters (size exceeded) we cannot see a cancel here; the sync handler re-reads the
    # invoice and hands a cancelled one over to the cancel path.
    if change.requested_state == InvoiceState.CANCELED:
        return RoutedEvent("cancel", InvoiceCancelMessage(**common, reason="canceled"))
    delay = CREATE_HOLD_BACK_SECONDS if change.message_name == "Create" else None
    return RoutedEvent("sync", InvoiceSyncMessage(**common), delay_seconds=delay)


def _route_details_change(change: DataverseChange, table: XeroDetailsTable) -> RoutedEvent | IgnoredEvent:
    """The user set export status back to "No" (or to "Ready to update"): sync the invoice now."""
    image = change.post_image
    if change.message_name != "Update" or image is None:
        return IgnoredEvent(
            f"{change.message_name} of {table.logical_name} without a post image is not handled"
        )
    status = image.get(table.export_status_column)
    if not isinstance(status, int) or status not in table.retry_values:
        return IgnoredEvent("export status change needs no sync")
    invoice = image.get(table.invoice_column)
    invoice_id = _uuid(invoice.get("id")) if isinstance(invoice, dict) else None
    if invoice_id is None:
        raise MalformedWebhookError(f"post image has no valid {table.invoice_column}")
    message = InvoiceSyncMessage(
        invoice_id=invoice_id,
        organization=change.organization,
        message_name="ExportStatusChanged",
        correlation_id=change.correlation_id,
        event_time=change.event_time,
    )
    return RoutedEvent("sync", message)


def _route_connection_change(
    change: DataverseChange, table: ConnectionTable, own: bool
) -> RoutedEvent | IgnoredEvent:
    """C1: someone set "Is default" on a connection in Dynamics: the others must be cleared."""
    if change.message_name not in CONNECTION_MESSAGES:
        return IgnoredEvent(f"{change.message_name} of {table.logical_name} is not handled")
    if own:
        return IgnoredEvent("the connector's own change")
    connection_id = change.target_id or change.primary_entity_id
    if connection_id is None:
        raise MalformedWebhookError(
            "no connection id: neither InputParameters Target nor PrimaryEntityId is set"
        )
    column = table.is_default_column
    if change.updated_columns is not None and column not in change.updated_columns:
        return IgnoredEvent(f"{column} did not change")
    if change.post_image is None or column not in change.post_image:
        return IgnoredEvent(
            f"{change.message_name} of {table.logical_name} without {column} in its post image"
        )
    if change.post_image[column] is not True:
        return IgnoredEvent(f"{column} is not set: nothing to clear")
    message = ConnectionDefaultMessage(
        connection_id=connection_id,
        organization=change.organization,
        message_name=change.message_name,
        correlation_id=change.correlation_id,
        event_time=change.event_time,
    )
    return RoutedEvent("connection", message)


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None

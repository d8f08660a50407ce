"""Xero webhooks (B1): signature check and payload parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector.domain.messages import XeroEventMessage


class MalformedXeroWebhookError(ValueError):
    """A correctly signed body that is not a Xero webhook payload."""


def sign(body: bytes, webhook_key: str) -> str:
    """base64(HMAC-SHA256(body)) with the key used as UTF-8 bytes, as Xero signs."""
    digest = hmac.new(webhook_key.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_is_valid(body: bytes, signature: str | None, webhook_key: str) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(
        sign(body, webhook_key).encode("ascii"), signature.strip().encode("ascii", "replace")
    )


class XeroEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    resource_url: str = Field(alias="resourceUrl")
    resource_id: str = Field(alias="resourceId")
    event_date_utc: str = Field(alias="eventDateUtc")
    event_type: str = Field(alias="eventType")
    event_category: str = Field(alias="eventCategory")
    tenant_id: str = Field(alias="tenantId")
    tenant_type: str = Field(default="ORGANISATION", alias="tenantType")


class XeroWebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    events: list[XeroEvent]
    first_event_sequence: int = Field(alias="firstEventSequence")
    last_event_sequence: int = Field(alias="lastEventSequence")
    entropy: str = ""


def parse_payload(body: bytes) -> XeroWebhookPayload:
    try:
        return XeroWebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MalformedXeroWebhookError(f"not a Xero webhook payload: {where}: {first['msg']}") from None


def to_messages(payload: XeroWebhookPayload, correlation_id: str) -> list[XeroEventMessage]:
    """One queue message per event; intent-to-receive (no events) gives none."""
    return [
        XeroEventMessage(
            tenant_id=event.tenant_id,
            event_category=event.event_category,
            event_type=event.event_type,
            resource_id=event.resource_id,
            resource_url=event.resource_url,
            event_date_utc=event.event_date_utc,
            correlation_id=correlation_id,
        )
        for event in payload.events
    ]

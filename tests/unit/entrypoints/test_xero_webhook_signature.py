"""B1: Xero webhook signature and payload."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from connector.entrypoints.xero_signature import (
    MalformedXeroWebhookError,
    parse_payload,
    sign,
    signature_is_valid,
    to_messages,
)

KEY = "hYnDQ8jzWpE3o6Hk1aAqq0o5kGNnKXvJ3OWq1x6+dNQ7O8Vv3h1w=="
BODY = json.dumps(
    {
        "events": [
            {
                "resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/0f3c1d4e-0000-0000-0000-000000000001",
                "resourceId": "0f3c1d4e-0000-0000-0000-000000000001",
                "eventDateUtc": "2026-11-21T01:15:39.902",
                "eventType": "UPDATE",
                "eventCategory": "INVOICE",
                "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
                "tenantType": "ORGANISATION",
            }
        ],
        "firstEventSequence": 1,
        "lastEventSequence": 1,
        "entropy": "S0m3r4Nd0mt3xt",
    }
).encode()


def xero_docs_signature(body: bytes, key: str) -> str:
    """Written from Xero's docs: base64(HMAC-SHA256(key as UTF-8 bytes, raw body))."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def test_b1_valid_signature_is_accepted() -> None:
    assert sign(BODY, KEY) == xero_docs_signature(BODY, KEY)
    assert signature_is_valid(BODY, xero_docs_signature(BODY, KEY), KEY)


def test_b1_signature_made_with_another_key_is_refused() -> None:
    assert not signature_is_valid(BODY, xero_docs_signature(BODY, "another-key"), KEY)


def test_b1_tampered_body_is_refused() -> None:
    signature = xero_docs_signature(BODY, KEY)
    assert not signature_is_valid(BODY.replace(b"UPDATE", b"CREATE"), signature, KEY)


@pytest.mark.parametrize("header", [None, "", "not base64 at all ✓"])
def test_b1_missing_or_garbage_header_is_refused(header: str | None) -> None:
    assert not signature_is_valid(BODY, header, KEY)


def test_b1_key_is_used_as_utf8_not_base64_decoded() -> None:
    decoded_key_signature = base64.b64encode(
        hmac.new(base64.b64decode(KEY), BODY, hashlib.sha256).digest()
    ).decode()
    assert not signature_is_valid(BODY, decoded_key_signature, KEY)


def test_b1_intent_to_receive_has_no_events_and_gives_no_messages() -> None:
    body = b'{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"ABCDEFGHIJ"}'
    assert to_messages(parse_payload(body), "corr") == []


def test_b1_one_message_per_event() -> None:
    messages = to_messages(parse_payload(BODY), "corr-1")
    assert len(messages) == 1
    assert messages[0].event_category == "INVOICE"
    assert messages[0].resource_id == "0f3c1d4e-0000-0000-0000-000000000001"
    assert messages[0].tenant_id == "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"
    assert messages[0].correlation_id == "corr-1"


def test_b1_signed_garbage_is_malformed() -> None:
    with pytest.raises(MalformedXeroWebhookError, match="events"):
        parse_payload(b'{"entropy": "x"}')

"""The scrubber (O1): shaped secrets and the app's own secret values, in text, fields and log records."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from connector.settings import get_settings
from connector.telemetry.redaction import (
    MASK,
    RedactingFilter,
    forget_secrets,
    redact_fields,
    redact_text,
    register_secret,
    register_secrets_from,
)


@pytest.fixture(autouse=True)
def no_registered_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOi.payload-part.sig_part", "eyJhbGciOi"),
        ("header Bearer abc123.def-456_ghi sent", "abc123.def-456_ghi"),
        ("Basic dGVzdC1jbGllbnQ6c2VjcmV0LXZhbHVl", "dGVzdC1jbGllbnQ6c2VjcmV0LXZhbHVl"),
        ("POST /api/dataverse/invoices?code=s3cr3t-code&x=1", "s3cr3t-code"),
        ("grant_type=refresh_token&refresh_token=rt-9f8e7d", "rt-9f8e7d"),
        ("refresh_token=rt-at-the-start", "rt-at-the-start"),
        ("client_secret=cs-123 in a form", "cs-123"),
        ('{"access_token": "at-json-1", "expires_in": 1800}', "at-json-1"),
        ('{"refresh_token":"rt-json-2"}', "rt-json-2"),
        ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=key+/==;EndpointSuffix=x", "key+/=="),
        ("https://acct.blob.core.windows.net/c/b?sv=2024&sig=AbC%2Fd", "AbC%2Fd"),
        ("a token eyJraWQiOiJ4In0.eyJzdWIiOiIxIn0.c2lnbmF0dXJl inline", "eyJzdWIiOiIxIn0"),
    ],
)
def test_o1_shaped_secrets_are_scrubbed(text: str, secret: str) -> None:
    scrubbed = redact_text(text)
    assert secret not in scrubbed
    assert MASK in scrubbed


def test_o1_ordinary_step_text_is_left_alone() -> None:
    text = "sync.created invoice_id=3f2504e0 xero_number=INV-0001 status=AUTHORISED total=NZD 115.00"
    assert redact_text(text) == text


def test_o1_registered_values_are_scrubbed_wherever_they_appear() -> None:
    register_secret("hunter2-dataverse-webhook")
    register_secret("short")  # too short to replace everywhere: ignored
    assert redact_text("secret was hunter2-dataverse-webhook!") == f"secret was {MASK}!"
    assert redact_text("a short word") == "a short word"


def test_o1_every_secret_setting_is_registered() -> None:
    settings = get_settings()
    register_secrets_from(settings)
    for value in ("test-dataverse-secret", "test-xero-webhook-key", "test-client-secret"):
        assert value not in redact_text(f"leaked {value} here")


def test_o1_secret_named_fields_are_masked_whole_and_others_scrubbed() -> None:
    fields = redact_fields(
        {
            "access_token": "plain-looking",
            "client_secret": SecretStr("x"),
            "webhook_key": "k",
            "reason": "Xero said: Bearer abc.def.ghi is invalid",
            "attempt": 3,
            "empty_token": None,
        }
    )
    assert fields["access_token"] == MASK
    assert fields["client_secret"] == MASK
    assert fields["webhook_key"] == MASK
    assert fields["reason"] == f"Xero said: Bearer {MASK} is invalid"
    assert fields["attempt"] == 3
    assert fields["empty_token"] is None


def test_o1_the_log_filter_scrubs_message_args_extra_fields_and_exception_text() -> None:
    register_secret("registered-secret-value")
    try:
        raise RuntimeError("failed with ?code=exc-code-1 and registered-secret-value")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "azure.core", logging.WARNING, __file__, 1, "call %s failed", ("Bearer arg-token-1",), exc_info
    )
    record.__dict__["detail"] = "the body had refresh_token=rt-extra-1"
    record.__dict__["authorization"] = "anything"
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    for secret in ("arg-token-1", "rt-extra-1", "exc-code-1", "registered-secret-value", "anything"):
        assert secret not in formatted
    assert record.__dict__["authorization"] == MASK
    assert record.__dict__["detail"] == f"the body had refresh_token={MASK}"
    assert record.getMessage() == f"call Bearer {MASK} failed"

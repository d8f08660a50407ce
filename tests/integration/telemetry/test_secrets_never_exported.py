"""Secrets seeded through every path never reach the exporters (O1).

Distinctive values go in as the app's settings, an OAuth token pair, an authorisation code and a Basic
credential; they travel through log lines and their fields, other libraries' log records, span
attributes, metric dimensions, exception messages and stack traces, and the sync-history text of an
invoice that ran out of retries. Everything the in-memory exporters hold is then searched for them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from connector.bootstrap import use_app
from connector.errors import RetryableError
from connector.settings import get_settings
from connector.telemetry import get_logger, log_step, record_xero_call, register_secrets_from
from connector.telemetry.redaction import forget_secrets
from tests.fixtures import dataverse_payloads as payloads
from tests.integration.telemetry.journey import Journey, add_invoice, make_journey
from tests.unit.telemetry.capture import Captured, captured_telemetry

DATAVERSE_SECRET = "dv-hook-secret-7Q2kZ9"
XERO_WEBHOOK_KEY = "xero-hook-key-M4vB8n"
CLIENT_SECRET = "client-secret-R6tY1p"
ACCESS_TOKEN = "access-token-H3jK5l"
REFRESH_TOKEN = "refresh-token-W8eD2s"
AUTH_CODE = "auth-code-P0oI9u"
BASIC = "Y2xpZW50OnNlY3JldC1Cbmd4"
SECRETS = (DATAVERSE_SECRET, XERO_WEBHOOK_KEY, CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN, AUTH_CODE, BASIC)
INVOICE = uuid.UUID(payloads.INVOICE_ID)
# How an SDK error might quote the request it failed on.
LEAKY = (
    f"token request failed: Authorization: Basic {BASIC} body grant_type=refresh_token"
    f"&refresh_token={REFRESH_TOKEN}&client_secret={CLIENT_SECRET}; retried with Bearer {ACCESS_TOKEN}"
    f" after ?code={AUTH_CODE}; webhook secret {DATAVERSE_SECRET}, key {XERO_WEBHOOK_KEY}"
)


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATAVERSE_WEBHOOK_SECRET", DATAVERSE_SECRET)
    monkeypatch.setenv("XERO_WEBHOOK_KEY", XERO_WEBHOOK_KEY)
    monkeypatch.setenv("XERO_CLIENT_SECRET", CLIENT_SECRET)
    get_settings.cache_clear()
    forget_secrets()
    register_secrets_from(get_settings())  # what configure_telemetry does at start-up
    yield
    forget_secrets()


@pytest.fixture
def telemetry(seeded: None) -> Iterator[Captured]:
    with captured_telemetry(logger_name="") as captured:  # the root logger: every library's records
        yield captured


@pytest.fixture
def journey(seeded: None) -> Iterator[Journey]:
    made = make_journey()
    use_app(made.app)
    yield made
    use_app(None)


async def test_o1_no_seeded_secret_reaches_any_exporter(telemetry: Captured, journey: Journey) -> None:
    # Exceptions and sync history: every attempt fails with the leaky message, the last one gives up,
    # which writes the reason to the invoice's sync history and logs it.
    add_invoice(journey, INVOICE)
    failures = [RetryableError(LEAKY) for _ in range(5)]
    journey.xero.fail_calls["create_invoice"] = list(failures)
    journey.xero.fail_calls["create_invoices"] = list(failures)
    assert await journey.dynamics_event(INVOICE, code=DATAVERSE_SECRET) == 202
    with pytest.raises(RetryableError):
        await journey.deliver_until_done(journey.take(), attempts=5)
    [history] = journey.dataverse.history_for(INVOICE)
    assert "after 5 attempts" in history and "token request failed" in history
    assert [secret for secret in SECRETS if secret in history] == []  # users read it in Dynamics

    # Log lines: step fields, a plain message with arguments, another library's record, an exception.
    logger = get_logger("tests.secrets")
    log_step(logger, "xero.token_refresh_failed", logging.ERROR, detail=LEAKY, access_token=ACCESS_TOKEN)
    logger.warning("request was %s", f"GET /?code={AUTH_CODE} Authorization: Bearer {ACCESS_TOKEN}")
    logging.getLogger("urllib3.connectionpool").warning("sent client_secret=%s", CLIENT_SECRET)
    try:
        raise ValueError(LEAKY)
    except ValueError:
        logger.exception("unexpected failure")

    # Span attributes set by an instrumentation, and metric dimensions.
    tracer = telemetry.tracer_provider.get_tracer("opentelemetry.instrumentation.urllib3")
    url = f"https://identity.xero.com/connect/token?code={AUTH_CODE}&client_secret={CLIENT_SECRET}"
    captured_header = {"http.request.header.authorization": (f"Basic {BASIC}",)}
    with tracer.start_as_current_span("POST", attributes={"url.full": url, **captured_header}):
        log_step(logger, "sync.created", connection=f"Bearer {ACCESS_TOKEN}", xero_number=DATAVERSE_SECRET)
        record_xero_call("refresh_token", CLIENT_SECRET, None, 10)

    exported = telemetry.exported_text()
    assert "sync.gave_up" in exported and "exception.stacktrace" in exported  # the paths were taken
    assert "connector.invoices.synced" in exported and "connector.xero.calls" in exported
    leaked = [secret for secret in SECRETS if secret in exported]
    assert leaked == []

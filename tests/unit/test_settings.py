"""Settings: every problem fails at start-up and names the setting."""

from __future__ import annotations

import pytest

from connector.settings import SettingsError, load_settings


def test_defaults_and_environment_values() -> None:
    settings = load_settings()
    assert settings.invoice_sync_queue == "invoice-sync"
    assert settings.sweep_schedule == "0 */5 * * * *"
    assert settings.time_zone == "Pacific/Auckland"
    assert settings.xero_api_base_url == "https://api.xero.com/api.xro/2.0"
    assert settings.queue_names == ["invoice-sync", "invoice-cancel", "xero-events", "sync-poll"]


@pytest.mark.parametrize("name", ["DATAVERSE_URL", "XERO_WEBHOOK_KEY", "DATAVERSE_WEBHOOK_SECRET"])
def test_missing_setting_is_named(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.delenv(name)
    with pytest.raises(SettingsError, match=f"{name}: Field required"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("CONNECTOR_TIME_ZONE", "Mars/Olympus", "unknown IANA time zone"),
        ("CONNECTOR_TIME_ZONE", "America", "unknown IANA time zone"),  # a region, not a zone
        ("SWEEP_SCHEDULE", "*/5 * * * *", "NCRONTAB needs 6 fields"),
        ("XERO_TIMEOUT_SECONDS", "0", "greater than or equal to 1"),
    ],
)
def test_invalid_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"{name}: .*{problem}"):
        load_settings()


def test_storage_must_be_configured_one_way_or_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AzureWebJobsStorage")
    with pytest.raises(SettingsError, match="AzureWebJobsStorage__queueServiceUri"):
        load_settings()
    monkeypatch.setenv("AzureWebJobsStorage__queueServiceUri", "https://acct.queue.core.windows.net")
    assert load_settings().storage_queue_service_uri == "https://acct.queue.core.windows.net"


def test_secrets_never_show_in_repr() -> None:
    settings = load_settings()
    assert "test-xero-webhook-key" not in repr(settings)
    assert "test-dataverse-secret" not in str(settings)

"""All configuration, read from the environment (local.settings.json `Values` in Functions)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_STORAGE_CONNECTION = "UseDevelopmentStorage=true"


class SettingsError(RuntimeError):
    """Raised at start-up when a setting is missing or invalid; names the setting."""


class Settings(BaseSettings):
    """Every knob of the connector. Environment names are the field aliases."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, case_sensitive=False)

    # Storage: a connection string, or identity-based service URIs (Functions' `__queueServiceUri` form).
    storage_connection: SecretStr | None = Field(
        default=None, alias="AzureWebJobsStorage", description="Storage connection string."
    )
    storage_queue_service_uri: str | None = Field(
        default=None,
        alias="AzureWebJobsStorage__queueServiceUri",
        description="Queue endpoint for identity-based connections.",
    )
    storage_blob_service_uri: str | None = Field(
        default=None,
        alias="AzureWebJobsStorage__blobServiceUri",
        description="Blob endpoint for identity-based connections (token store).",
    )
    storage_client_id: str | None = Field(
        default=None,
        alias="AzureWebJobsStorage__clientId",
        description="Client id of a user-assigned managed identity, if used.",
    )

    # Queues.
    invoice_sync_queue: str = Field(default="invoice-sync", alias="INVOICE_SYNC_QUEUE")
    invoice_cancel_queue: str = Field(default="invoice-cancel", alias="INVOICE_CANCEL_QUEUE")
    xero_events_queue: str = Field(default="xero-events", alias="XERO_EVENTS_QUEUE")
    sync_poll_queue: str = Field(default="sync-poll", alias="SYNC_POLL_QUEUE")
    token_container: str = Field(default="xero-tokens", alias="TOKEN_CONTAINER")

    # Dataverse.
    dataverse_url: str = Field(
        alias="DATAVERSE_URL", description="Environment URL, e.g. https://org.crm.dynamics.com"
    )
    dataverse_static_token: SecretStr | None = Field(
        default=None,
        alias="DATAVERSE_STATIC_TOKEN",
        description="Local development only: a fixed bearer token instead of azure-identity.",
    )
    dataverse_publisher_prefix: str = Field(default="xc", alias="DATAVERSE_PUBLISHER_PREFIX")
    dataverse_solution: str = Field(default="XeroConnector", alias="DATAVERSE_SOLUTION")
    dataverse_webhook_secret: SecretStr = Field(
        alias="DATAVERSE_WEBHOOK_SECRET",
        description="Shared secret Dataverse sends as ?code= (WebhookKey) or in a header (HttpHeader).",
    )
    dataverse_webhook_header: str = Field(
        default="x-connector-webhook-secret", alias="DATAVERSE_WEBHOOK_HEADER"
    )

    # Xero.
    xero_client_id: str | None = Field(default=None, alias="XERO_CLIENT_ID")
    xero_client_secret: SecretStr | None = Field(default=None, alias="XERO_CLIENT_SECRET")
    xero_webhook_key: SecretStr = Field(alias="XERO_WEBHOOK_KEY", description="Xero webhook signing key.")
    xero_api_base_url: str = Field(default="https://api.xero.com/api.xro/2.0", alias="XERO_API_BASE_URL")
    xero_connections_base_url: str = Field(default="https://api.xero.com", alias="XERO_CONNECTIONS_BASE_URL")
    xero_identity_base_url: str = Field(default="https://identity.xero.com", alias="XERO_IDENTITY_BASE_URL")
    xero_login_base_url: str = Field(default="https://login.xero.com", alias="XERO_LOGIN_BASE_URL")
    xero_timeout_seconds: int = Field(default=30, alias="XERO_TIMEOUT_SECONDS", ge=1)
    xero_scopes: str = Field(
        default="offline_access accounting.invoices accounting.payments accounting.contacts "
        "accounting.settings",
        alias="XERO_SCOPES",
        description="Scopes the consent asks for, space separated (granular scopes for apps made from 2026).",
    )

    # Admin console (O6): Microsoft Entra ID sign-in and the session cookie.
    entra_tenant_id: str | None = Field(
        default=None, alias="ENTRA_TENANT_ID", description="Directory (tenant) id of the console's app."
    )
    entra_client_id: str | None = Field(
        default=None, alias="ENTRA_CLIENT_ID", description="Application (client) id of the console's app."
    )
    entra_client_secret: SecretStr | None = Field(
        default=None, alias="ENTRA_CLIENT_SECRET", description="Its client secret (a Key Vault reference)."
    )
    entra_authority: str | None = Field(
        default=None,
        alias="ENTRA_AUTHORITY",
        description="OpenID issuer to sign in with; default https://login.microsoftonline.com/<tenant>.",
    )
    entra_ca_bundle: str | None = Field(
        default=None,
        alias="ENTRA_CA_BUNDLE",
        description="Local development only: a CA file to trust for ENTRA_AUTHORITY.",
    )
    console_admin_role: str = Field(
        default="Connector.Admin",
        alias="CONSOLE_ADMIN_ROLE",
        description="App role (the id token's roles claim) that lets a user into the console.",
    )
    console_session_key: SecretStr | None = Field(
        default=None,
        alias="CONSOLE_SESSION_KEY",
        description="Signs and encrypts the console's session cookie (32+ characters, from Key Vault).",
    )
    console_base_url: str | None = Field(
        default=None,
        alias="CONSOLE_BASE_URL",
        description="Public URL of the console, e.g. https://<app>.azurewebsites.net/api/console.",
    )
    console_session_minutes: int = Field(
        default=60, alias="CONSOLE_SESSION_MINUTES", ge=5, le=720, description="Session lifetime."
    )

    # Schedules and time.
    xero_rate_limit_per_minute: int = Field(
        default=60,
        ge=1,
        alias="XERO_RATE_LIMIT_PER_MINUTE",
        description="Xero's calls per window, per organisation.",
    )
    xero_rate_limit_window_seconds: float = Field(
        default=60.0, gt=0, alias="XERO_RATE_LIMIT_WINDOW_SECONDS", description="Xero's rate-limit window."
    )
    dataverse_rate_limit_window_seconds: float = Field(
        default=300.0,
        gt=0,
        alias="DATAVERSE_RATE_LIMIT_WINDOW_SECONDS",
        description="Dataverse's service-protection window (6,000 requests in it, per user).",
    )
    reconcile_min_interval_seconds: int = Field(
        default=3300,
        ge=0,
        alias="RECONCILE_MIN_INTERVAL_SECONDS",
        description="How often at most an organisation is pulled for changes its webhooks may have lost.",
    )
    sweep_schedule: str = Field(
        default="0 */5 * * * *",
        alias="SWEEP_SCHEDULE",
        description="NCRONTAB (6 fields) for the sweep timer.",
    )
    reference_data_schedule: str = Field(
        default="0 0 3 * * *",
        alias="REFERENCE_DATA_SCHEDULE",
        description="NCRONTAB (6 fields) for the reference-data sync timer (C4); daily by default.",
    )
    time_zone: str = Field(
        default="UTC",
        validation_alias=AliasChoices("CONNECTOR_TIME_ZONE"),
        description="Default IANA time zone; a connection's own setting wins.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a region such as "America"
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("sweep_schedule", "reference_data_schedule")
    @classmethod
    def _six_fields(cls, value: str) -> str:
        if len(value.split()) != 6:
            raise ValueError("NCRONTAB needs 6 fields: second minute hour day month day-of-week")
        return value

    @field_validator("console_session_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("use at least 32 characters")
        return value

    @property
    def console_enabled(self) -> bool:
        """The console needs sign-in and a session key; without them its pages say what is missing."""
        return bool(self.entra_client_id and self.entra_client_secret and self.console_session_key) and bool(
            self.entra_tenant_id or self.entra_authority
        )

    @model_validator(mode="after")
    def _storage_configured(self) -> Settings:
        if self.storage_connection is None and self.storage_queue_service_uri is None:
            raise ValueError(
                "set AzureWebJobsStorage (connection string) or AzureWebJobsStorage__queueServiceUri"
            )
        return self

    @property
    def queue_names(self) -> list[str]:
        return [
            self.invoice_sync_queue,
            self.invoice_cancel_queue,
            self.xero_events_queue,
            self.sync_poll_queue,
        ]


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        problems.append(f"{where}: {error['msg']}")
    return "invalid configuration: " + "; ".join(problems)


def load_settings() -> Settings:
    """Read settings now; raise SettingsError naming each bad or missing setting."""
    try:
        return Settings()  # values come from the environment
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    return load_settings()

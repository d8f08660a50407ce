"""Emulator options: limits, token lifetimes, validation switches, webhook retry policy."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class EmulatorOptions:
    """Everything a test may want to tune. Defaults are Xero's documented values."""

    # Rate limits (per tenant, per app). `rate_limit_time_scale` shrinks windows: 60 → a minute lasts 1 s.
    rate_limit_per_minute: int = 60
    rate_limit_per_day: int = 5000
    rate_limit_concurrent: int = 5
    app_limit_per_minute: int = 10_000
    rate_limit_time_scale: float = 1.0
    rate_limits_enabled: bool = True
    # OAuth2.
    access_token_lifetime: int = 1800
    refresh_token_grace_seconds: float = 1800.0
    refresh_token_lifetime_days: int = 60
    # Idempotency-Key retention, seconds.
    idempotency_retention_seconds: float = 24 * 3600.0
    # OpenAPI validation: request bodies whenever the spec file is present; responses only on request.
    spec_dir: Path | None = None
    validate_requests: bool = True
    validate_responses: bool = False
    # Webhooks: delivery attempts per batch and the first back-off delay (doubles each time).
    webhook_max_attempts: int = 4
    webhook_retry_base_seconds: float = 0.2
    webhook_batch_window_seconds: float = 0.05
    webhook_timeout_seconds: float = 5.0
    intent_to_receive_requests: int = 4
    # Request log length: enough for a 10,000-invoice bench with room to spare; older entries drop off
    # (counted in `/_emulator/requests/count` as `dropped`).
    request_log_size: int = 100_000
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> EmulatorOptions:
        known = {f.name for f in fields(cls)}
        unknown = set(kwargs) - known
        if unknown:
            raise TypeError(f"unknown emulator options: {sorted(unknown)}")
        return cls(**kwargs)

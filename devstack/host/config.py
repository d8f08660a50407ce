"""Local settings and host.json, read the way the Functions host reads them."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

_SETTING_EXPRESSION = re.compile(r"%([^%]+)%")


def load_local_settings(path: Path, *, override: bool = False) -> dict[str, str]:
    """Put `Values` of local.settings.json into the environment (existing variables win unless override)."""
    if not path.exists():
        return {}
    values: dict[str, str] = {
        key: str(value) for key, value in json.loads(path.read_text()).get("Values", {}).items()
    }
    for key, value in values.items():
        if override or key not in os.environ:
            os.environ[key] = value
    return values


def resolve(expression: str) -> str:
    """Resolve `%SETTING%` binding expressions from app settings (the environment)."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise KeyError(f"binding expression %{name}% refers to a setting that is not set")
        return os.environ[name]

    return _SETTING_EXPRESSION.sub(lookup, expression)


def parse_timespan(value: str) -> timedelta:
    """host.json TimeSpan: "hh:mm:ss[.fff]" or "d.hh:mm:ss"."""
    days = 0
    if "." in value.split(":")[0]:
        day_part, value = value.split(".", 1)
        days = int(day_part)
    hours, minutes, seconds = value.split(":")
    return timedelta(days=days, hours=int(hours), minutes=int(minutes), seconds=float(seconds))


@dataclass(frozen=True)
class QueueOptions:
    """`extensions.queues` in host.json, with the host's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: timedelta = timedelta(minutes=1)
    visibility_timeout: timedelta = timedelta(0)
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(cls, path: Path) -> QueueOptions:
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        queues = data.get("extensions", {}).get("queues", {})
        batch_size = int(queues.get("batchSize", 16))
        return cls(
            batch_size=batch_size,
            new_batch_threshold=int(queues.get("newBatchThreshold", batch_size // 2)),
            max_polling_interval=parse_timespan(queues.get("maxPollingInterval", "00:01:00")),
            visibility_timeout=parse_timespan(queues.get("visibilityTimeout", "00:00:00")),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            message_encoding=str(queues.get("messageEncoding", "base64")),
        )


def storage_connection(connection_name: str) -> str:
    """A binding's connection: the setting itself, as the host resolves it (connection strings only here)."""
    value = os.environ.get(connection_name) or os.environ.get(f"AzureWebJobs{connection_name}")
    if not value:
        raise KeyError(f"storage connection setting {connection_name!r} is not set")
    if value == "UseDevelopmentStorage=true":
        from devstack.azurite import ACCOUNT, ACCOUNT_KEY

        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:10000/{ACCOUNT};QueueEndpoint=http://127.0.0.1:10001/{ACCOUNT};"
        )
    return value

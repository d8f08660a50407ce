"""Wire formats: MS-JSON dates, Decimal money, the Xero response envelope."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_DATE_FIELDS_WITH_STRING = {"Date", "DueDate", "FullyPaidOnDate", "ExpectedPaymentDate", "PlannedPaymentDate"}


def ms_date(value: date | datetime) -> str:
    """`/Date(ms+0000)/`; a plain date is UTC midnight."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    millis = int(value.timestamp() * 1000)
    return f"/Date({millis}+0000)/"


def parse_date(value: Any) -> date | None:
    """Accept what clients send: `/Date(ms)/`, `/Date(ms+zzzz)/`, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS`."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    match = _MS_DATE.match(value.strip())
    if match:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))
        return moment.date()
    return (
        datetime.fromisoformat(value.strip()[:19]).date()
        if "T" in value
        else date.fromisoformat(value.strip())
    )


def parse_datetime_header(value: str) -> datetime:
    """If-Modified-Since: ISO 8601 (Xero's example) or an RFC 1123 HTTP date (what the SDK sends)."""
    from email.utils import parsedate_to_datetime

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = parsedate_to_datetime(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_wire(value: Any) -> Any:
    """Internal record (Decimal, date, datetime, UUID) → JSON-ready, adding `DateString` siblings."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key.startswith("_") or item is None:
                continue
            out[key] = to_wire(item)
            if key in _DATE_FIELDS_WITH_STRING and isinstance(item, date):
                out[f"{key}String"] = f"{item.isoformat()}T00:00:00"
            if key == "UpdatedDateUTC" and isinstance(item, datetime):
                out["UpdatedDateUTCString"] = item.strftime("%Y-%m-%dT%H:%M:%S")
        return out
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        # Money leaves as a JSON number; the SDK reads it back with parse_float=Decimal.
        return float(value)
    if isinstance(value, datetime | date):
        return ms_date(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def envelope(key: str, records: list[Any], now: datetime, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": "Xero Emulator",
        "DateTimeUTC": ms_date(now).replace("+0000", ""),
    }
    body.update(extra)
    body[key] = to_wire(records)
    return body


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("boolean is not a number")
    if isinstance(value, float):
        # Clients serialise Decimal via float; repr gives the shortest round-trip text.
        return Decimal(repr(value))
    return Decimal(str(value))


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True

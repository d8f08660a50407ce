"""Small JSON response helpers shared by the HTTP entrypoints."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func


def json_response(status: int, payload: dict[str, Any]) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(payload), status_code=status, mimetype="application/json")


def empty_response(status: int) -> func.HttpResponse:
    return func.HttpResponse(b"", status_code=status)

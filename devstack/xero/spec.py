"""OpenAPI validation against Xero's official spec (parsed once per process), tolerant of SDK
read-only defaults."""

from __future__ import annotations

import functools
import json
import logging
import threading
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger("devstack.xero.spec")
SPEC_FILE = "xero_accounting.yaml"
HOST = "https://api.xero.com"
# xero-python always serialises these model defaults; real Xero accepts them, a strict validator would not.
SDK_READ_ONLY_DEFAULTS = ("HasAttachments", "HasErrors", "HasValidationErrors")
_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Any:
    from openapi_core import Config, OpenAPI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OpenAPI.from_file_path(path, config=Config(spec_validator_cls=None))


def load_spec(spec_dir: Path | None) -> Any | None:
    """The parsed accounting spec, or None (with a warning) when the file is absent."""
    from devstack.paths import xero_spec_dir

    path = (spec_dir or xero_spec_dir()) / SPEC_FILE
    if not path.is_file():
        log.warning("Xero spec not found at %s: request/response validation is off", path)
        return None
    with _lock:
        return _load(str(path))


def strip_sdk_defaults(value: Any) -> Any:
    """Drop exactly the read-only `false` defaults the SDK always sends, at any depth."""
    if isinstance(value, dict):
        return {
            k: strip_sdk_defaults(v)
            for k, v in value.items()
            if not (k in SDK_READ_ONLY_DEFAULTS and v is False)
        }
    if isinstance(value, list):
        return [strip_sdk_defaults(v) for v in value]
    return value


def _mock_request(method: str, path: str, query: dict[str, str], body: bytes | None) -> Any:
    from openapi_core.testing import MockRequest

    return MockRequest(
        HOST,
        method.lower(),
        "/api.xro/2.0" + path,
        args={k: v.lower() if v in ("True", "False") else v for k, v in query.items()},
        headers={"xero-tenant-id": "00000000-0000-0000-0000-000000000000", "Authorization": "Bearer x"},
        data=body,
    )


def _errors(exc: Exception) -> str:
    cause = exc.__cause__
    details = getattr(cause, "schema_errors", None)
    if details:
        return "; ".join(getattr(e, "message", str(e)) for e in details)
    return str(cause or exc)


def validate_request_body(spec: Any, method: str, path: str, body: Any) -> str | None:
    """Return None if the body conforms, else a message."""
    from openapi_core.validation.request.validators import V30RequestBodyValidator

    data = json.dumps(strip_sdk_defaults(body)).encode()
    request = _mock_request(method, path, {}, data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            V30RequestBodyValidator(spec.spec).validate(request)
    except Exception as exc:
        return _errors(exc)
    return None


def validate_response(
    spec: Any, method: str, path: str, query: dict[str, str], status: int, body: bytes
) -> str | None:
    """Validate a response body against the operation's declared response; undeclared statuses are skipped."""
    from openapi_core.testing import MockResponse

    request = _mock_request(method, path, query, None)
    response = MockResponse(body, status_code=status, content_type="application/json")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec.validate_response(request, response)
    except Exception as exc:
        return _errors(exc)
    return None


def declared_statuses(spec: Any, method: str, path: str) -> set[int] | None:
    """Response codes the spec declares for this call, or None if the path is not in the spec."""
    from openapi_core.templating.paths.finders import APICallPathFinder

    try:
        found = APICallPathFinder(spec.spec).find(method.lower(), HOST + "/api.xro/2.0" + path)
    except Exception:
        return None
    responses = (found.operation / "responses").keys()  # a SchemaPath: iterating it directly yields sub-paths
    return {int(code) for code in responses if str(code).isdigit()}

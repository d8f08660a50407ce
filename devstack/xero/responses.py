"""Xero-shaped responses: envelopes, 400 ValidationException, 404 text, per-element results."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from devstack.xero.serialize import dumps, envelope, to_wire

NOT_FOUND_TEXT = "The resource you're looking for cannot be found"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(body), status_code=status, media_type="application/json; charset=utf-8", headers=headers
    )


def not_found() -> Response:
    return Response(NOT_FOUND_TEXT, status_code=404, media_type="text/plain")


def validation_error(
    elements: list[dict[str, Any]], message: str = "A validation exception occurred"
) -> Response:
    return json_response(
        {"ErrorNumber": 10, "Type": "ValidationException", "Message": message, "Elements": to_wire(elements)},
        400,
    )


def post_data_invalid(message: str) -> Response:
    return json_response({"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": message}, 400)


def query_parse_error(message: str) -> Response:
    return json_response({"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}, 400)


def echo_with_errors(element: dict[str, Any], errors: list[str], per_element: bool) -> dict[str, Any]:
    echoed = dict(element)
    echoed["HasErrors"] = True
    echoed["ValidationErrors"] = [{"Message": message} for message in errors]
    if per_element:
        echoed["StatusAttributeString"] = "ERROR"
    return echoed


__all__ = ["envelope", "json_response", "not_found", "validation_error"]

"""JSON:API response helpers: documents and Klaviyo-shaped error bodies."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

MEDIA_TYPE = "application/vnd.api+json"

TITLES = {
    400: "Invalid input.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    429: "Request was throttled.",
    500: "A server error occurred.",
    502: "Bad gateway.",
    503: "Service unavailable.",
    504: "Gateway timeout.",
}


class ApiError(Exception):
    """An error answer; `errors` holds one or more error objects."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        parameter: str | None = None,
        pointer: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = dict(headers or {})
        self.errors = [error_object(status, code, detail, title, parameter, pointer)]

    @classmethod
    def many(cls, status: int, errors: list[dict[str, Any]]) -> ApiError:
        """Several validation errors in one answer; they share one id."""
        error = cls(status, errors[0]["code"], errors[0]["detail"])
        shared = errors[0]["id"]
        error.errors = [{**e, "id": shared} for e in errors]
        return error


def invalid(
    detail: str, *, parameter: str | None = None, pointer: str | None = None
) -> ApiError:
    return ApiError(400, "invalid", detail, parameter=parameter, pointer=pointer)


def error_object(
    status: int,
    code: str,
    detail: str,
    title: str | None = None,
    parameter: str | None = None,
    pointer: str | None = None,
) -> dict[str, Any]:
    source: dict[str, str] = {}
    if parameter is not None:
        source["parameter"] = parameter
    if pointer is not None:
        source["pointer"] = pointer
    return {
        "id": str(uuid.uuid4()),
        "status": status,
        "code": code,
        "title": title or TITLES.get(status, "Error."),
        "detail": detail,
        "source": source,
        "links": {},
        "meta": {},
    }


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type=MEDIA_TYPE
    )


def error_response(
    error: ApiError, headers: Mapping[str, str] | None = None
) -> Response:
    merged = {**(headers or {}), **error.headers}
    return json_response({"errors": error.errors}, error.status, merged)


def error_bytes(status: int, code: str, detail: str, title: str | None = None) -> bytes:
    return orjson.dumps({"errors": [error_object(status, code, detail, title)]})

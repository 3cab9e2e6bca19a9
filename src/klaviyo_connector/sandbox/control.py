"""Control routes outside `/api` for out-of-process use (benchmarks, demos):
mutate the data, plan faults, revoke a key, read request counters."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from klaviyo_connector.sandbox.responses import ApiError, error_response, json_response

if TYPE_CHECKING:
    from klaviyo_connector.sandbox.server import Sandbox

_FAULT_OPTIONS = ("status", "count", "path", "retry_after", "delay", "rate", "after")


def _authorize(sandbox: Sandbox, request: Request) -> None:
    # Control routes answer only to the sandbox's own full-scope key.
    scopes = sandbox.authenticate(request.headers.get("authorization"))
    if (
        request.headers.get("authorization", "").split(" ", 1)[-1]
        != sandbox.config.api_key
    ):
        raise ApiError(
            403, "permission_denied", "Control routes need the sandbox's own key."
        )
    del scopes


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid", "The request body must be a JSON object.")
    return body


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    async def guarded(request: Request) -> Response:
        try:
            _authorize(sandbox, request)
            handler = _HANDLERS[(request.method, request.url.path.rstrip("/"))]
            return await handler(sandbox, request)
        except ApiError as error:
            return error_response(error)

    return [
        Route("/_sandbox/mutate", guarded, methods=["POST"]),
        Route("/_sandbox/faults", guarded, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/revoke", guarded, methods=["POST"]),
        Route("/_sandbox/stats", guarded, methods=["GET"]),
    ]


async def _mutate(sandbox: Sandbox, request: Request) -> Response:
    body = await _json(request)
    summary = sandbox.mutate(float(body.get("share", 0.01)), int(body.get("seed", 1)))
    return json_response(asdict(summary))


async def _add_fault(sandbox: Sandbox, request: Request) -> Response:
    body = await _json(request)
    options = {k: body[k] for k in _FAULT_OPTIONS if k in body}
    try:
        fault = sandbox.faults.add(str(body.get("kind")), **options)
    except (TypeError, ValueError) as error:
        raise ApiError(400, "invalid", str(error)) from None
    return json_response(fault.as_dict(), 201)


async def _list_faults(sandbox: Sandbox, request: Request) -> Response:
    return json_response([f.as_dict() for f in sandbox.faults.active])


async def _clear_faults(sandbox: Sandbox, request: Request) -> Response:
    sandbox.faults.clear()
    return Response(status_code=204)


async def _revoke(sandbox: Sandbox, request: Request) -> Response:
    body = await _json(request)
    key = body.get("key")
    if not isinstance(key, str) or not key:
        raise ApiError(400, "invalid", "'key' is required.")
    sandbox.revoke_key(key)
    return Response(status_code=204)


async def _stats(sandbox: Sandbox, request: Request) -> Response:
    return json_response(
        {**sandbox.requests.snapshot(), "faults_fired": sandbox.faults.fired}
    )


_HANDLERS = {
    ("POST", "/_sandbox/mutate"): _mutate,
    ("POST", "/_sandbox/faults"): _add_fault,
    ("GET", "/_sandbox/faults"): _list_faults,
    ("DELETE", "/_sandbox/faults"): _clear_faults,
    ("POST", "/_sandbox/revoke"): _revoke,
    ("GET", "/_sandbox/stats"): _stats,
}

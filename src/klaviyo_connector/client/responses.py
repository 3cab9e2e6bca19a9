"""Turning one HTTP outcome into a JSON document or a typed, key-free error.

Messages are built only from the method, the path, the status and Klaviyo's
own error code and detail (redacted): never from httpx's exception text, which
can carry the request."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from klaviyo_connector.client.records import PageShape, decode_page
from klaviyo_connector.errors import (
    AuthenticationError,
    InvalidRequestError,
    KlaviyoError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    UnreachableError,
)
from klaviyo_connector.keys import redact

RETRIED_STATUSES = frozenset({500, 502, 503, 504, 524})


@dataclass
class Retryable(Exception):
    """A failure worth another attempt; `error` is raised once attempts run out."""

    error: KlaviyoError
    kind: str  # "throttled", "server", "transport", "connect", "body" or "html"
    retry_after: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Call:
    """What a message may say about the request: never the query or the key."""

    method: str
    path: str
    scope: str | None
    secret: str = field(repr=False)

    @property
    def where(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class ErrorBody:
    code: str | None = None
    detail: str | None = None
    source: dict[str, object] | None = None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from `Retry-After`: a number (fractions allowed) or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if seconds == seconds else None


def _looks_like_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return response.content.lstrip()[:1] == b"<"


def _json(response: httpx.Response) -> Any:
    return orjson.loads(response.content)


def error_body(response: httpx.Response, secret: str) -> ErrorBody | None:
    """Klaviyo's first `errors[]` entry, or None when the body is not one."""
    try:
        doc = _json(response)
    except orjson.JSONDecodeError:
        return None
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    code, detail, source = first.get("code"), first.get("detail"), first.get("source")
    return ErrorBody(
        code=redact(str(code), secret) if code else None,
        detail=redact(str(detail), secret) if detail else None,
        source=_redacted(source, secret) if isinstance(source, dict) else None,
    )


def _redacted(source: dict[str, object], secret: str) -> dict[str, object]:
    return {str(k): redact(str(v), secret) for k, v in source.items()}


def _status_text(status: int, body: ErrorBody | None) -> str:
    text = str(status)
    if body and body.code:
        text += f" {body.code}"
    if body and body.detail:
        text += f": {body.detail.rstrip('.')}"
    return text


def _fields(call: Call, status: int, body: ErrorBody | None) -> dict[str, Any]:
    return {
        "endpoint": call.path,
        "status": status,
        "code": body.code if body else None,
        "detail": body.detail if body else None,
    }


def interpret(
    response: httpx.Response, call: Call, shape: PageShape | None = None
) -> Any:
    """The parsed JSON of a 2xx answer (decoded to `shape` when it has it);
    otherwise raise what the status means."""
    status = response.status_code
    if 200 <= status < 300:
        page = None if shape is None else decode_page(response.content, shape)
        return _success_body(response, call) if page is None else page
    if _looks_like_html(response):
        raise _html_error(status, call)
    body = error_body(response, call.secret)
    if status == 429:
        raise _throttled(response, call, body)
    if status >= 500:
        raise _server_error(response, call, body)
    raise _client_error(status, call, body)


def _success_body(response: httpx.Response, call: Call) -> Any:
    try:
        return _json(response)
    except orjson.JSONDecodeError:
        error = UnexpectedResponseError(
            f"{call.where} answered {response.status_code} with a body that is not"
            " valid JSON (cut short or malformed).",
            endpoint=call.path,
            status=response.status_code,
        )
        raise Retryable(error, "body", reason="truncated or invalid JSON") from None


def _html_error(status: int, call: Call) -> KlaviyoError | Retryable:
    error = UnexpectedResponseError(
        f"{call.where} answered {status} with an HTML page instead of Klaviyo's JSON.",
        endpoint=call.path,
        status=status,
    )
    if status == 403 or status in RETRIED_STATUSES:
        return Retryable(error, "html", reason=f"{status} HTML page")
    return error


def _throttled(
    response: httpx.Response, call: Call, body: ErrorBody | None
) -> Retryable:
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    error = RateLimitError(
        f"Klaviyo kept throttling {call.where} ({_status_text(429, body)}).",
        retry_after=retry_after,
        **_fields(call, 429, body),
    )
    return Retryable(
        error, "throttled", retry_after=retry_after, reason="429 throttled"
    )


def _server_error(
    response: httpx.Response, call: Call, body: ErrorBody | None
) -> KlaviyoError | Retryable:
    status = response.status_code
    error = ServerError(
        f"Klaviyo failed to answer {call.where} ({_status_text(status, body)}).",
        **_fields(call, status, body),
    )
    if status not in RETRIED_STATUSES:
        return error
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    return Retryable(error, "server", retry_after=retry_after, reason=f"{status}")


def _client_error(status: int, call: Call, body: ErrorBody | None) -> KlaviyoError:
    fields = _fields(call, status, body)
    if body is None:
        return UnexpectedResponseError(
            f"{call.where} answered {status} with a body that is not Klaviyo's JSON.",
            endpoint=call.path,
            status=status,
        )
    if status == 401:
        return AuthenticationError(
            f"Klaviyo rejected the API key on {call.where}"
            f" ({_status_text(status, body)}).",
            **fields,
        )
    if status == 403:
        return _permission_error(call, body, fields)
    return InvalidRequestError(
        f"Klaviyo refused {call.where} ({_status_text(status, body)}"
        f"{_source_text(body)}).",
        source=body.source,
        **fields,
    )


def _source_text(body: ErrorBody) -> str:
    if not body.source:
        return ""
    name, value = next(iter(body.source.items()))
    return f"; {name} {value}"


def scope_fix(scope: str | None, table: str | None = None) -> str:
    """The next step for a missing scope, naming the table when the caller knows it."""
    what = f"the {table} table" if table else "the table that needs it"
    name = "the missing scope" if scope is None else f"`{scope}`"
    return f"Add {name} in Klaviyo > Settings > API Keys, or deselect {what}."


def _permission_error(
    call: Call, body: ErrorBody, fields: dict[str, Any]
) -> PermissionDeniedError:
    lacks = f"the key lacks `{call.scope}`" if call.scope else "the key lacks a scope"
    return PermissionDeniedError(
        f"Klaviyo refused {call.where} ({_status_text(403, body)}): {lacks}.",
        scope=call.scope,
        fix=scope_fix(call.scope),
        **fields,
    )


def transport_failure(
    exc: httpx.TransportError, call: Call, host: str
) -> KlaviyoError | Retryable:
    """A request that got no answer; retried unless it can never work."""
    what = _transport_kind(exc)
    connecting = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    kind = UnreachableError if connecting else TransportError
    error = kind(
        f"Could not reach Klaviyo at {host} for {call.where}: {what}.",
        endpoint=call.path,
        detail=what,
    )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return error
    # No connection at all rarely mends within seconds: few, short retries.
    return Retryable(error, "connect" if connecting else "transport", reason=what)


_DNS_HINTS = ("name or service not known", "nodename nor servname", "name resolution")


def _transport_kind(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connecting timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "the answer timed out"
    if isinstance(exc, httpx.ConnectError):
        if any(hint in str(exc).lower() for hint in _DNS_HINTS):
            return "the host name did not resolve (DNS)"
        return "the connection was refused or failed"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "the connection was reset or closed mid-answer"
    return f"the request failed ({type(exc).__name__})"

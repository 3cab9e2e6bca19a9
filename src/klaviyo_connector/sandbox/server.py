"""The sandbox: a local Klaviyo API (revision 2026-07-15) served by Starlette.

`Sandbox(config).app` is the ASGI application. Every `/api/...` request passes,
in order: faults, routing, authentication, revision, scope, rate limit, query
parameter checks, then the operation's handler.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from klaviyo_connector.sandbox import control, endpoints, faults, reports
from klaviyo_connector.sandbox.config import ALL_SCOPES, RevisionChoice, SandboxConfig
from klaviyo_connector.sandbox.endpoints import Context
from klaviyo_connector.sandbox.ratelimit import RateLimiter
from klaviyo_connector.sandbox.responses import (
    ApiError,
    error_response,
    invalid,
    json_response,
)
from klaviyo_connector.sandbox.spec import Operation, SpecDigest, load_digest
from klaviyo_connector.sandbox.store import MutationSummary, Store

_REVISION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(\.pre)?$")
_SCHEME = "Klaviyo-API-Key "
_NO_SCHEME = "Missing or invalid authorization scheme. Please use Klaviyo-API-Key."
_BAD_KEY = "Incorrect authentication credentials."
_HANDLERS = {**endpoints.HANDLERS, **reports.HANDLERS}


class RequestLog:
    """Counts of requests the sandbox received; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_endpoint: Counter[tuple[str, str]] = Counter()
        self.by_status: Counter[int] = Counter()
        self.throttled = 0
        self.faulted = 0

    def record(self, method: str, template: str) -> None:
        with self._lock:
            self.by_endpoint[(method, template)] += 1

    def record_status(self, status: int) -> None:
        with self._lock:
            self.by_status[status] += 1
            self.throttled += status == 429

    def record_fault(self, kind: str, status: int | None) -> None:
        with self._lock:
            self.faulted += 1
        if kind == "throttle":
            self.record_status(429)
        elif kind in ("status", "html") and status:
            self.record_status(status)

    @property
    def total(self) -> int:
        return sum(self.by_endpoint.values())

    def __getitem__(self, key: tuple[str, str]) -> int:
        return self.by_endpoint[key]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self.by_endpoint.values()),
                "by_endpoint": {
                    f"{m} {p}": n for (m, p), n in self.by_endpoint.items()
                },
                "by_status": {str(s): n for s, n in self.by_status.items()},
                "throttled": self.throttled,
                "faulted": self.faulted,
            }


class Router:
    """Matches request paths, with or without a trailing slash, to operations."""

    def __init__(self, digest: SpecDigest) -> None:
        self._routes: list[tuple[re.Pattern[str], str, dict[str, Operation]]] = []
        by_path: dict[str, dict[str, Operation]] = {}
        for op in digest.operations.values():
            by_path.setdefault(op.path, {})[op.method] = op
        for path, ops in by_path.items():
            pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
            self._routes.append((re.compile(f"^{pattern}$"), path, ops))

    def template(self, path: str) -> str | None:
        path = path.rstrip("/")
        for pattern, template, _ in self._routes:
            if pattern.match(path):
                return template
        return None

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        stripped = path.rstrip("/")
        for pattern, _, ops in self._routes:
            found = pattern.match(stripped)
            if found is None:
                continue
            if method not in ops:
                raise ApiError(
                    405, "method_not_allowed", f'Method "{method}" not allowed.'
                )
            return ops[method], found.groupdict()
        raise ApiError(404, "not_found", f"The path {path} could not be found")


def check_revision(
    value: str | None,
    supported: str,
    missing: RevisionChoice = "error",
    later: RevisionChoice = "error",
) -> str:
    """The revision to echo. Where Klaviyo's behaviour is unconfirmed the
    defaults are invented: 400 when missing, 404 for a date after the revision
    this sandbox implements; `missing`/`later` = "serve" answers instead.
    A malformed value is always 400."""
    if not value:
        if missing == "serve":
            return supported
        raise invalid("The 'revision' header is required.", parameter="revision")
    day = _revision_day(value.strip(), supported)
    if day > datetime.fromisoformat(supported) and later == "error":
        raise ApiError(404, "not_found", "No valid revisions found for method")
    return value.strip()


def _revision_day(value: str, supported: str) -> datetime:
    if _REVISION.match(value) is None:
        raise invalid(
            f"'{value}' is not a valid revision. Use YYYY-MM-DD, e.g. {supported}.",
            parameter="revision",
        )
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d")
    except ValueError:
        raise invalid(
            f"'{value}' is not a valid revision.", parameter="revision"
        ) from None


def parse_query(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


def check_params(op: Operation, query: dict[str, str], strict: bool) -> None:
    for name, value in query.items():
        if name not in op.params:
            if strict:
                raise invalid(
                    f"'{name}' is not a valid query parameter for this endpoint.",
                    parameter=name,
                )
            continue
        allowed = op.enums.get(name)
        if allowed is None:
            continue
        values = value.split(",") if name != "sort" else [value]
        for item in values:
            if item not in allowed:
                raise invalid(
                    f"'{item}' is not a valid value for {name}.", parameter=name
                )


class _LateSend:
    """An ASGI `send` that holds the answer back `latency` seconds: the request
    is handled (and counted against the limits) at once and answered later,
    while other requests are served."""

    def __init__(self, send: Any, latency: float) -> None:
        self._send, self._latency = send, latency
        # The connection-reset fault finds the transport through the sender.
        self.__self__ = getattr(send, "__self__", None)

    async def __call__(self, message: Any) -> None:
        if message.get("type") == "http.response.start":
            await asyncio.sleep(self._latency)
        await self._send(message)


class Sandbox:
    """One fake Klaviyo account: data store, keys, limits, faults and the app."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.store = Store(self.config)
        self.digest = load_digest()
        self.router = Router(self.digest)
        self.limiter = RateLimiter(self.config.time_scale)
        self.faults = faults.Faults(self.config.seed)
        self.requests = RequestLog()
        self._keys = {**dict(self.config.scoped_keys), self.config.api_key: ALL_SCOPES}
        self._revoked: set[str] = set()
        self._lock = threading.Lock()
        self._app = _Asgi(self)
        self._starlette = Starlette(
            routes=[
                *control.routes(self),
                Route(
                    "/api/{rest:path}",
                    self._api,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                ),
            ]
        )

    @property
    def app(self) -> _Asgi:
        """The ASGI application."""
        return self._app

    async def _serve(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self._starlette(scope, receive, send)
            return
        if self.config.latency > 0:
            send = _LateSend(send, self.config.latency)
        template = self.router.template(scope["path"]) or scope["path"]
        self.requests.record(scope["method"], template)
        fault = self.faults.pick(scope["path"].rstrip("/"))
        if fault is None:
            await self._starlette(scope, receive, send)
            return
        self.requests.record_fault(fault.kind, fault.status)
        if fault.kind == "revoke":
            key = _key_from(dict(scope["headers"]).get(b"authorization", b"").decode())
            if key:
                self.revoke_key(key)
        await faults.apply(fault, self._starlette, scope, receive, send)

    # -- the public, in-process API ---------------------------------------------

    def revoke_key(self, key: str) -> None:
        """Later requests with `key` get 401 authentication_failed."""
        with self._lock:
            self._revoked.add(key)

    def ground_truth(self, resource: str) -> Iterator[dict[str, Any]]:
        return self.store.ground_truth(resource)

    def campaign_values(
        self, conversion_metric_id: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        return self.store.campaign_values(
            conversion_metric_id=conversion_metric_id,
            start=start,
            end=end,
            group_by=reports.DEFAULT_GROUP_BY,
            filters=(),
        )

    def mutate(self, share: float = 0.01, seed: int = 1) -> MutationSummary:
        return self.store.mutate(share, seed)

    # -- the request pipeline ---------------------------------------------------

    def authenticate(self, header: str | None) -> frozenset[str]:
        key = _key_from(header or "")
        if key is None:
            scheme_only = (header or "").startswith("Bearer ")
            if scheme_only:
                raise ApiError(
                    401,
                    "authentication_failed",
                    _BAD_KEY,
                    title=_BAD_KEY,
                    pointer="/data/",
                )
            raise ApiError(401, "not_authenticated", _NO_SCHEME, pointer="/data/")
        with self._lock:
            scopes = None if key in self._revoked else self._keys.get(key)
        if scopes is None or not key.startswith("pk_"):
            raise ApiError(
                401, "authentication_failed", _BAD_KEY, title=_BAD_KEY, pointer="/data/"
            )
        return scopes

    def _require_scopes(self, op: Operation, scopes: frozenset[str]) -> None:
        missing = [s for s in op.scopes if s not in scopes]
        if missing:
            raise ApiError(
                403,
                "permission_denied",
                f"This API key is missing the scope required for this endpoint: "
                f"{', '.join(missing)}.",
            )

    def _throttle(self, op: Operation, query: dict[str, str]) -> dict[str, str]:
        if not self.config.rate_limits:
            return {}
        tier_name, tier = op.tier_for({k: v.split(",") for k, v in query.items()})
        decision = self.limiter.check((op.key, tier_name), tier)
        if decision.allowed:
            return decision.headers
        wait = decision.retry_after
        raise ApiError(
            429,
            "throttled",
            f"Request was throttled. Expected available in {wait} second(s).",
            pointer="/data/",
            headers={"Retry-After": str(wait)},
        )

    async def _api(self, request: Request) -> Response:
        headers: dict[str, str] = {}
        try:
            response = await self._answer(request, headers)
        except ApiError as error:
            response = error_response(error, headers)
        self.requests.record_status(response.status_code)
        return response

    async def _answer(self, request: Request, headers: dict[str, str]) -> Response:
        op, path_params = self.router.match(request.method, request.url.path)
        scopes = self.authenticate(request.headers.get("authorization"))
        revision = check_revision(
            request.headers.get("revision"),
            self.digest.revision,
            self.config.missing_revision,
            self.config.later_revision,
        )
        headers["X-Klaviyo-API-Revision"] = revision
        self._require_scopes(op, scopes)
        query = parse_query(request.scope["query_string"])
        headers.update(self._throttle(op, query))
        check_params(op, query, self.config.strict_params)
        context = Context(
            store=self.store,
            op=op,
            query=query,
            path_params=path_params,
            base=_base_url(request),
            path=request.url.path,
            query_string=request.scope["query_string"].decode("latin-1"),
            body=await request.body() if request.method == "POST" else b"",
        )
        document = _HANDLERS[op.operation_id](context)
        return json_response(document, 200, headers)


class _Asgi:
    """A callable object rather than a bound method, so servers detect ASGI 3."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._sandbox._serve(scope, receive, send)


def _key_from(header: str) -> str | None:
    if not header.startswith(_SCHEME):
        return None
    key = header[len(_SCHEME) :].strip()
    return key or None


def _base_url(request: Request) -> str:
    host = request.headers.get("host")
    if host:
        return f"{request.url.scheme}://{host}"
    return str(request.base_url).rstrip("/")

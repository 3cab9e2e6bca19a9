"""Failures on demand: server errors, proxy pages, cut-off bodies, slow answers,
429 storms, dropped connections and keys revoked mid-run."""

from __future__ import annotations

import asyncio
import fnmatch
import random
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

from klaviyo_connector.sandbox.responses import MEDIA_TYPE, error_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KINDS = ("status", "html", "truncated", "slow", "throttle", "reset", "revoke")
SERVER_STATUSES = (500, 502, 503, 504)
PROXY_STATUSES = (403, 400)

_HTML = (
    "<!DOCTYPE html><html><head><title>Attention Required!</title></head>"
    "<body><h1>Sorry, you have been blocked</h1><p>This request was stopped by "
    "a security service in front of the site (status {status}).</p></body></html>"
)


@dataclass
class Fault:
    """One planned failure; `count` None means it keeps firing."""

    id: int
    kind: str
    status: int | None = None
    count: int | None = 1
    path: str | None = None
    retry_after: float | None = None
    delay: float | None = None
    rate: float | None = None
    after: int = 0
    seen: int = 0
    fired: int = 0

    def matches(self, path: str) -> bool:
        return self.path is None or fnmatch.fnmatchcase(path, self.path.rstrip("/"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _validated(fault: Fault) -> Fault:
    if fault.kind not in KINDS:
        raise ValueError(f"unknown fault kind {fault.kind!r}; choose from {KINDS}")
    if fault.kind == "status":
        fault.status = fault.status or 500
        if fault.status not in SERVER_STATUSES:
            raise ValueError(f"a status fault answers one of {SERVER_STATUSES}")
    if fault.kind == "html":
        fault.status = fault.status or 403
        if fault.status not in PROXY_STATUSES:
            raise ValueError(f"an html fault answers one of {PROXY_STATUSES}")
    if fault.kind == "throttle":
        fault.retry_after = 1 if fault.retry_after is None else fault.retry_after
        if fault.retry_after < 0:
            raise ValueError("retry_after must not be negative")
    if fault.kind == "slow" and not (fault.delay and fault.delay > 0):
        raise ValueError("a slow fault needs a positive delay (seconds)")
    if fault.rate is not None and not 0 < fault.rate <= 1:
        raise ValueError("rate is a probability in (0, 1]")
    if fault.count is not None and fault.count < 1:
        raise ValueError("count must be at least 1 (or None for no limit)")
    return fault


class Faults:
    """The planned failures of one sandbox; thread-safe."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self._random = random.Random(seed)
        self.fired = 0

    def add(
        self,
        kind: str,
        *,
        status: int | None = None,
        count: int | None = 1,
        path: str | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
        rate: float | None = None,
        after: int = 0,
    ) -> Fault:
        """Plan a failure for the next `count` matching requests (after skipping
        `after` of them); with `rate`, each matching request fails with that
        probability until `count` have failed. `path` is a glob such as
        `/api/profiles` or `/api/campaigns*`."""
        with self._lock:
            fault = _validated(
                Fault(
                    self._next_id,
                    kind,
                    status,
                    count,
                    path,
                    retry_after,
                    delay,
                    rate,
                    after,
                )
            )
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(self, path: str) -> Fault | None:
        """The fault this request triggers, if any (consumes one firing)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path) and self._fires(fault):
                    if fault.count is not None and fault.fired >= fault.count:
                        self._faults.remove(fault)
                    self.fired += 1
                    return fault
        return None

    def _fires(self, fault: Fault) -> bool:
        fault.seen += 1
        if fault.seen <= fault.after:
            return False
        if fault.rate is not None and self._random.random() >= fault.rate:
            return False
        fault.fired += 1
        return True


def _retry_after_text(value: float) -> str:
    # Klaviyo sends whole seconds; fractions are allowed here so tests run fast.
    return str(int(value)) if float(value).is_integer() else str(value)


async def _send_bytes(
    send: Send, status: int, body: bytes, media: str, extra: list[tuple[bytes, bytes]]
) -> None:
    headers = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _truncated(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    body = b"".join(chunks)
    await _send_bytes(send, 200, body[: max(len(body) // 2, 1)], MEDIA_TYPE, [])


def _abort(send: Send) -> bool:
    """Drop the TCP connection with a reset (uvicorn exposes its transport)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


async def _reset(send: Send) -> None:
    if _abort(send):
        await asyncio.sleep(0.01)  # let the server notice the lost connection
        return
    # Another server: promise a body, send part of it, then stop.
    start = {"type": "http.response.start", "status": 200}
    start["headers"] = [
        (b"content-length", b"1000"),
        (b"content-type", MEDIA_TYPE.encode()),
    ]
    await send(start)
    await send(
        {"type": "http.response.body", "body": b'{"data": [', "more_body": False}
    )


async def apply(
    fault: Fault, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer a request the way `fault` says (revoke is handled by the caller)."""
    if fault.kind == "status":
        status = fault.status or 500
        body = error_bytes(status, "error", "A server error occurred. Please retry.")
        await _send_bytes(send, status, body, MEDIA_TYPE, [])
    elif fault.kind == "html":
        status = fault.status or 403
        body = _HTML.format(status=status).encode()
        extra = [(b"cf-mitigated", b"challenge")] if status == 403 else []
        await _send_bytes(send, status, body, "text/html; charset=UTF-8", extra)
    elif fault.kind == "throttle":
        wait = _retry_after_text(fault.retry_after or 0)
        detail = f"Request was throttled. Expected available in {wait} second(s)."
        body = error_bytes(429, "throttled", detail)
        await _send_bytes(
            send, 429, body, MEDIA_TYPE, [(b"retry-after", wait.encode())]
        )
    elif fault.kind == "slow":
        await asyncio.sleep(fault.delay or 0)
        await app(scope, receive, send)
    elif fault.kind == "truncated":
        await _truncated(app, scope, receive, send)
    elif fault.kind == "reset":
        await _reset(send)
    else:
        await app(scope, receive, send)

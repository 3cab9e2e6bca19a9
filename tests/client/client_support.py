"""Shared helpers for the client tests: a fake clock and canned Klaviyo answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson

KEY = "pk_" + "a1B2c3D4e5" * 3 + "f6G7"
BASE = "https://a.klaviyo.com"

Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A clock that only moves when someone sleeps; every sleep is recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)


def doc(
    data: Any, next_url: str | None = None, *, links: Any = ..., **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {"data": data, **extra}
    if links is ...:
        body["links"] = {"self": f"{BASE}/api/x", "next": next_url, "prev": None}
    elif links is not None:
        body["links"] = links
    return httpx.Response(
        200,
        content=orjson.dumps(body),
        headers={"content-type": "application/vnd.api+json"},
    )


def resources(kind: str, *ids: str) -> list[dict[str, Any]]:
    return [{"type": kind, "id": i, "attributes": {}} for i in ids]


def error(
    status: int,
    code: str,
    detail: str,
    *,
    source: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    entry: dict[str, Any] = {
        "id": "e1",
        "status": status,
        "code": code,
        "title": "t",
        "detail": detail,
    }
    if source:
        entry["source"] = source
    return httpx.Response(
        status,
        content=orjson.dumps({"errors": [entry]}),
        headers={"content-type": "application/vnd.api+json", **(headers or {})},
    )


def html(status: int) -> httpx.Response:
    page = b"<!DOCTYPE html><html><body>Attention Required!</body></html>"
    return httpx.Response(status, content=page, headers={"content-type": "text/html"})


class Script:
    """A transport handler that answers from a list and records every request."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]

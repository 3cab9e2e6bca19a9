"""The fault suite's tools: a sandbox that records what it was asked, virtual
time for long waits, engine runs with a chosen client, and the checks that a
warehouse equals the sandbox's ground truth."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
import pytest
from tests.conftest import engine_config
from tests.sync.support import (
    STATS_KEY,
    assert_matches_ground_truth,
    by_key,
    read_table,
    stats_truth,
)

from klaviyo_connector.client import KlaviyoClient
from klaviyo_connector.config import SyncConfig
from klaviyo_connector.sandbox import RunningSandbox, Sandbox, SandboxConfig
from klaviyo_connector.sandbox.runner import serve_in_thread
from klaviyo_connector.sync import engine
from klaviyo_connector.sync.models import RunRequest, RunResult, RunStatus

DIMENSIONS = ("campaign", "list", "segment", "profile")
DAY = dt.timedelta(days=1)


# -- a sandbox that records every exchange ---------------------------------------


@dataclass
class Exchange:
    method: str
    url: str  # as the client sent it: scheme, host, path and raw query
    body: Any  # the JSON request body, or None
    status: int = 0
    answer: Any = None  # the parsed JSON answer, or None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.url).query, keep_blank_values=True)

    @property
    def next_link(self) -> str | None:
        links = self.answer.get("links") if isinstance(self.answer, dict) else None
        return links.get("next") if isinstance(links, dict) else None

    @property
    def ids(self) -> list[str]:
        data = self.answer.get("data") if isinstance(self.answer, dict) else None
        return [r["id"] for r in data] if isinstance(data, list) else []


class _Recorder:
    """ASGI middleware: keeps each /api/ request and its answer."""

    def __init__(self, inner: Any, log: list[Exchange], lock: threading.Lock) -> None:
        self.inner, self.log, self.lock = inner, log, lock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.inner(scope, receive, send)
            return
        headers = dict(scope["headers"])
        query = scope["query_string"].decode("latin-1")
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        url = f"http://{headers[b'host'].decode()}{raw_path}"
        exchange = Exchange(scope["method"], f"{url}?{query}" if query else url, None)
        chunks: list[bytes] = []
        received: list[bytes] = []

        async def recv() -> Any:
            message = await receive()
            received.append(message.get("body", b""))
            return message

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.inner(scope, recv, capture)
        finally:
            exchange.body = _json(b"".join(received))
            exchange.answer = _json(b"".join(chunks))
            with self.lock:
                self.log.append(exchange)


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None


class RecordingSandbox(Sandbox):
    """A sandbox whose `exchanges` list every API request with its answer."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        super().__init__(config)
        self.exchanges: list[Exchange] = []
        self._log_lock = threading.Lock()
        self._recorder = _Recorder(super().app, self.exchanges, self._log_lock)

    @property
    def app(self) -> Any:  # type: ignore[override]
        return self._recorder

    def sent(self, path: str, method: str = "GET") -> list[Exchange]:
        with self._log_lock:
            return [e for e in self.exchanges if e.path == path and e.method == method]


@contextmanager
def serve(sandbox: Sandbox) -> Iterator[RunningSandbox]:
    with serve_in_thread(sandbox) as running:
        yield running


def small(**overrides: Any) -> SandboxConfig:
    options: dict[str, Any] = {"profiles": 300, "rate_limits": False}
    options.update(overrides)
    return SandboxConfig(**options)


# -- time that passes without waiting ----------------------------------------------


class VirtualTime:
    """A monotonic clock that a sleep moves forward instead of waiting: a
    60-second Retry-After is honoured in full, in no time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.offset = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.offset += max(seconds, 0.0)


# -- engine runs ---------------------------------------------------------------------


@dataclass
class ClientSpy:
    """Stands in for the engine's KlaviyoClient class: same client, extra
    options (clock, sleep, transport), and every client kept for its stats."""

    options: dict[str, Any] = field(default_factory=dict)
    clients: list[KlaviyoClient] = field(default_factory=list)

    def __call__(self, *args: Any, **kwargs: Any) -> KlaviyoClient:
        client = KlaviyoClient(*args, **{**kwargs, **self.options})
        self.clients.append(client)
        return client

    @property
    def stats(self) -> Any:
        return self.clients[-1].stats


def spy_on_client(monkeypatch: pytest.MonkeyPatch, **options: Any) -> ClientSpy:
    spy = ClientSpy(options)
    monkeypatch.setattr(engine, "KlaviyoClient", spy)
    return spy


def config(running: RunningSandbox, tmp_path: Path, **overrides: Any) -> SyncConfig:
    """Engine settings with a generous retry budget (the fixture's is tight)."""
    overrides.setdefault("max_attempts", 4)
    overrides.setdefault("max_wait", 300.0)
    return engine_config(running, tmp_path, **overrides)


def sync(cfg: SyncConfig, *tables: str, **request: Any) -> RunResult:
    return engine.run_sync(cfg, RunRequest(tables=tables or DIMENSIONS, **request))


# -- the ground truth ------------------------------------------------------------------


def assert_converged(
    cfg: SyncConfig, sandbox: Sandbox, tables: tuple[str, ...]
) -> RunResult:
    """The next ordinary sync succeeds and leaves every table equal to the
    ground truth, record by record, with no key loaded twice."""
    result = engine.run_sync(cfg, RunRequest(tables=tables))
    assert result.status == RunStatus.SUCCEEDED, result.tables
    for table in tables:
        if table in DIMENSIONS:
            assert_matches_ground_truth(cfg, sandbox, table)
    if "campaign_performance_stats" in tables:
        assert_stats_complete(cfg, sandbox, result.started_at)
    return result


def placed_order(sandbox: Sandbox) -> str:
    """The metric the connector picks: the store's Placed Order."""
    for metric in sandbox.ground_truth("metric"):
        attributes = metric["attributes"]
        store = (attributes.get("integration") or {}).get("key") == "shopify"
        if attributes["name"] == "Placed Order" and store:
            return str(metric["id"])
    raise AssertionError("the sandbox has no store Placed Order metric")


def assert_stats_complete(cfg: SyncConfig, sandbox: Sandbox, end: dt.datetime) -> None:
    """One row per campaign message and channel the report knows over the
    first sync's history window, none twice; counts never above the truth
    read afterwards; every rate its counts' ratio or NULL (never NaN)."""
    rows = by_key(read_table(cfg, "campaign_performance_stats"), STATS_KEY)
    history = dt.timedelta(days=cfg.stats_history_days)
    truth = {}
    start = end - history
    while start < end:
        stop = min(start + 365 * DAY, end)
        truth.update(stats_truth(sandbox, placed_order(sandbox), start, stop))
        start = stop
    assert set(rows) == set(truth)
    for key, row in rows.items():
        assert row["delivered"] <= truth[key]["delivered"], key
        for rate, bottom in (("open_rate", "delivered"), ("bounce_rate", "recipients")):
            if not row[bottom]:
                assert row[rate] is None, (key, rate)
            else:
                assert row[rate] == row[rate], (key, rate)  # not NaN


def key_count(cfg: SyncConfig, table: str, key: str = "id") -> tuple[int, int]:
    rows = read_table(cfg, table)
    return len(rows), len({r[key] for r in rows})


class FlakyDns(httpx.BaseTransport):
    """Sends the first `failures` requests to a host that does not resolve
    (a real DNS lookup that fails), then the rest where they belong."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.inner = httpx.HTTPTransport()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            broken = self.failures > 0
            self.failures -= broken
        if broken:
            request.url = request.url.copy_with(host="klaviyo-fault.invalid")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class DnsOutage(httpx.BaseTransport):
    """Lets the first `after` requests to `path` through, then sends the next
    `failures` of them (every one when None) to a host that does not resolve:
    a DNS outage that starts in the middle of a table's read. Keeps the time
    and URL of every attempt at `path`."""

    def __init__(self, path: str, after: int, failures: int | None) -> None:
        self.path, self.after, self.failures = path, after, failures
        self.inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.attempts: list[tuple[float, str, bool]] = []  # (time, url, failed)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            broken = False
            if request.url.path == self.path:
                passed = sum(1 for *_, failed in self.attempts if not failed)
                failed = sum(1 for *_, failed in self.attempts if failed)
                more = self.failures is None or failed < self.failures
                broken = passed >= self.after and more
                self.attempts.append((time.monotonic(), str(request.url), broken))
        if broken:
            request.url = request.url.copy_with(host="klaviyo-fault.invalid")
        return self.inner.handle_request(request)

    @property
    def failed(self) -> list[tuple[float, str]]:
        return [(t, url) for t, url, failed in self.attempts if failed]

    def close(self) -> None:
        self.inner.close()

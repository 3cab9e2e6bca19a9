"""Helpers for the service tests: apps over tmp data folders, signed-in clients."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from klaviyo_connector.service.app import create_app
from klaviyo_connector.service.settings import ServiceSettings

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(
    data_dir: Path, base_url: str = "http://127.0.0.1:9", **kw: Any
) -> FastAPI:
    settings = ServiceSettings(
        data_dir=data_dir, klaviyo_base_url=base_url, secret=None, **kw
    )
    return create_app(settings)


def sign_in(client: TestClient) -> str:
    """Signs the client in through a one-time link; returns its form token."""
    token = client.app.state.service.auth.issue_link()  # type: ignore[attr-defined]
    response = client.get(f"/signin?token={token}", follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    page = client.get("/connect")
    match = _CSRF.search(page.text)
    assert match, page.text[:500]
    return match.group(1)


def api_headers(client: TestClient, csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


def bearer(app: FastAPI) -> dict[str, str]:
    token = app.state.service.auth.api_token_path.read_text().strip()
    return {"Authorization": f"Bearer {token}"}


ALL_SCOPES = frozenset(
    {
        "accounts:read",
        "campaigns:read",
        "lists:read",
        "segments:read",
        "profiles:read",
        "metrics:read",
    }
)
NO_SEGMENTS_KEY = "pk_" + "NoSegments" * 3 + "2345"
WRONG_KEY = "pk_" + "WrongKey00" * 3 + "9876"
PUBLIC_KEY = "AbC123"
TERMINAL = ("succeeded", "partial", "failed", "interrupted")


def sandbox_config(**kw: Any) -> Any:
    from klaviyo_connector.sandbox import SandboxConfig

    kw.setdefault("profiles", 300)
    kw.setdefault("rate_limits", False)
    kw.setdefault("scoped_keys", {NO_SEGMENTS_KEY: ALL_SCOPES - {"segments:read"}})
    return SandboxConfig(**kw)


def wait_run(client: TestClient, run_id: int, timeout: float = 120, **kw: Any) -> dict:
    """Polls the API until the run ends; returns its last state."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}", **kw).json()
        if run["status"] in TERMINAL:
            return dict(run)
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {run['status']} after {timeout} s")


def wait_for(predicate: Any, timeout: float = 30, step: float = 0.1) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


class Accounts:
    """Several sandbox accounts behind one address, as Klaviyo is: the key picks
    the account. Requests with an unknown key go to the first one, which
    refuses them."""

    def __init__(self, *sandboxes: Any) -> None:
        self.sandboxes = sandboxes
        self._by_key = {s.config.api_key: s for s in sandboxes}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode()
        key = auth.removeprefix("Klaviyo-API-Key ").strip()
        sandbox = self._by_key.get(key, self.sandboxes[0])
        await sandbox.app(scope, receive, send)


@contextlib.contextmanager
def serve_accounts(*configs: Any) -> Iterator[tuple[str, list[Any]]]:
    """One loopback address serving a sandbox per config; yields it and them."""
    import threading

    import uvicorn

    from klaviyo_connector.sandbox import Sandbox
    from klaviyo_connector.sandbox.runner import bind

    sandboxes = [Sandbox(c) for c in configs]
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(
        Accounts(*sandboxes), log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=10, step=0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", sandboxes
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()

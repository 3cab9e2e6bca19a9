"""Helpers for the service tests: apps over tmp data folders, signed-in clients."""

from __future__ import annotations

import re
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

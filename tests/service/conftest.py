"""Fixtures for the service: a real sandbox, an app over a tmp data folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.service.support import make_app, sandbox_config, sign_in

from klaviyo_connector.sandbox import RunningSandbox, serve_in_thread


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    """A shared sandbox for tests that do not add faults."""
    with serve_in_thread(sandbox_config(), port=0) as running:
        yield running


@pytest.fixture
def own_sandbox() -> Iterator[RunningSandbox]:
    """A sandbox of the test's own, for faults."""
    with serve_in_thread(sandbox_config(), port=0) as running:
        yield running


@pytest.fixture
def app(tmp_path, sandbox):
    return make_app(tmp_path / "data", base_url=sandbox.base_url)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        c.csrf = sign_in(c)  # type: ignore[attr-defined]
        yield c

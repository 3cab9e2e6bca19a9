"""Fixtures for the sandbox server tests: a served sandbox and a client for it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.sandbox.support import config, headers

from klaviyo_connector.sandbox import RunningSandbox, serve_in_thread


@pytest.fixture(scope="module")
def served() -> Iterator[RunningSandbox]:
    """One sandbox without rate limits, shared by a module's read-only tests."""
    with serve_in_thread(config()) as running:
        yield running


@pytest.fixture
def api(served: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.base_url, headers=headers(served.api_key)) as c:
        yield c

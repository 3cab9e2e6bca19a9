"""Fixtures shared across areas: a served sandbox, engine settings, PostgreSQL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.sandbox import RunningSandbox, SandboxConfig, serve_in_thread

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

StartSandbox = Callable[..., RunningSandbox]

# The command line and the service set up the connector's logger (and quiet
# httpx's) for themselves when a test runs them in-process; each test starts
# from the same state, so caplog sees what it would see with the test alone.
_QUIETED = ("httpx", "httpcore")


@pytest.fixture(autouse=True)
def _logging_as_found() -> Iterator[None]:
    connector = logging.getLogger("klaviyo_connector")
    own = list(connector.handlers), connector.level, connector.propagate
    levels = {name: logging.getLogger(name).level for name in _QUIETED}
    yield
    connector.handlers[:], connector.level, connector.propagate = own
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def start_sandbox() -> Iterator[StartSandbox]:
    """Starts sandboxes on free ports (small, no rate limits unless overridden);
    all stop when the test ends."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> RunningSandbox:
            options: dict[str, Any] = {"profiles": 300, "rate_limits": False}
            options.update(overrides)
            return stack.enter_context(serve_in_thread(SandboxConfig(**options)))

        yield start


@pytest.fixture
def running_sandbox(start_sandbox: StartSandbox) -> RunningSandbox:
    return start_sandbox()


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def engine_config(
    running: RunningSandbox, tmp_path: Path, **overrides: Any
) -> SyncConfig:
    """Engine settings pointing at a sandbox, with everything under tmp_path."""
    options: dict[str, Any] = {
        "api_key": ApiKey(running.api_key),
        "base_url": running.base_url,
        "duckdb_path": tmp_path / "warehouse.duckdb",
        "data_dir": tmp_path / "connector-data",
        "max_attempts": 2,
        "max_wait": 2.0,
    }
    options.update(overrides)
    return SyncConfig(**options)


@pytest.fixture
def sync_config(running_sandbox: RunningSandbox, tmp_path: Path) -> SyncConfig:
    return engine_config(running_sandbox, tmp_path)


@pytest.fixture
def pg_dataset() -> Iterator[str]:
    """A unique PostgreSQL schema name; the schema and dlt's staging twin are
    dropped afterwards."""
    import psycopg2

    name = f"kc_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg2.connect(POSTGRES_URL) as conn, conn.cursor() as cursor:
        for schema in (name, f"{name}_staging"):
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()

"""The warehouses end-to-end syncs run against: DuckDB, and PostgreSQL on
127.0.0.1:5432 with a schema of its own per test (dropped afterwards).

Fixtures, imported by the conftest of each folder that uses them."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import POSTGRES_URL, engine_config
from tests.sync.support import Warehouse

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.sandbox import RunningSandbox

POSTGRES = pytest.param(
    "postgres", marks=(pytest.mark.postgres, pytest.mark.slow), id="postgres"
)


@pytest.fixture(params=["duckdb", POSTGRES])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """Engine settings that choose the destination; DuckDB's file lives in
    tmp_path (engine_config's default)."""
    if request.param == "duckdb":
        return {}
    return {
        "destination": "postgres",
        "destination_credentials": POSTGRES_URL,
        "dataset": request.getfixturevalue("pg_dataset"),
    }


@pytest.fixture
def e2e_config(
    running_sandbox: RunningSandbox, tmp_path: Path, warehouse: Warehouse
) -> SyncConfig:
    return engine_config(running_sandbox, tmp_path, **warehouse)

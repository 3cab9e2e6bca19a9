"""A dataset holds one Klaviyo account: a sync or backfill of another is
refused before it reads anything, and the dataset is left as it was."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import StartSandbox, engine_config
from tests.sync.support import Warehouse

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.errors import ConfigError
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.load import Warehouse as Destination
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.load.state import Account
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sandbox.config import ALL_SCOPES
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunKind, RunRequest, RunStatus

pytestmark = pytest.mark.slow

TABLES = ("list", "segment")
NO_ACCOUNT_SCOPE = "pk_" + "noacc" * 6 + "abcd"
BACKFILL = RunRequest(
    kind=RunKind.HISTORICAL,
    tables=TABLES,
    start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    end=dt.datetime.now(dt.UTC),
)


def _account(running: RunningSandbox) -> Account:
    record = running.sandbox.store.account()
    name = record["attributes"]["contact_information"]["organization_name"]
    return Account(record["id"], name)


def _held(cfg: SyncConfig) -> tuple[Account | None, set[str]]:
    """The account the dataset holds, and the tables it has cursors for."""
    with Destination(cfg) as warehouse:
        cursors = warehouse.cursors()
        return warehouse.held_account, set(cursors)


def _contents(cfg: SyncConfig) -> dict[str, Any]:
    """Row counts and dlt's loads: what a refused sync must leave unchanged."""
    with warehouse_reader(cfg) as reader:
        loads = reader.query("SELECT load_id FROM {_dlt_loads}")
        return {"loads": sorted(r["load_id"] for r in loads), **reader.counts()}


def _refusal(cfg: SyncConfig, held: Account, current: Account) -> str:
    if cfg.destination == "duckdb":
        place = f"in the DuckDB file {Path(cfg.duckdb_path).resolve()}"
        other = "another dataset (--dataset) or another DuckDB file (--duckdb-path)"
    else:
        place, other = "in the postgres destination", "another dataset (--dataset)"
    return (
        f"The dataset {cfg.dataset} {place} holds Klaviyo account {held}, but the "
        f"key belongs to account {current}; a dataset holds one account, so "
        f"nothing was read. Sync {current} into {other}."
    )


def test_a_second_account_is_refused_before_anything_is_read(
    start_sandbox: StartSandbox, tmp_path: Path, warehouse: Warehouse
) -> None:
    first, second = start_sandbox(), start_sandbox(seed=7)
    cfg = engine_config(first, tmp_path, **warehouse)
    assert run_sync(cfg, RunRequest(tables=TABLES)).status == RunStatus.SUCCEEDED
    before = _contents(cfg)
    assert _held(cfg)[0] == _account(first)

    other = engine_config(second, tmp_path, **warehouse)
    for request in (RunRequest(tables=TABLES), BACKFILL):
        with pytest.raises(ConfigError) as refused:
            run_sync(other, request)
        assert str(refused.value) == _refusal(cfg, _account(first), _account(second))
    # The key check of each attempt, and not one read.
    assert second.sandbox.requests.by_endpoint == {("GET", "/api/accounts"): 2}
    assert _contents(cfg) == before
    assert run_sync(cfg, RunRequest(tables=TABLES)).status == RunStatus.SUCCEEDED


def test_a_backfill_records_its_account_without_a_cursor(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    first, second = start_sandbox(), start_sandbox(seed=7)
    cfg = engine_config(first, tmp_path)
    assert run_sync(cfg, BACKFILL).status == RunStatus.SUCCEEDED
    assert _held(cfg) == (_account(first), set())

    with pytest.raises(ConfigError, match="holds Klaviyo account"):
        run_sync(engine_config(second, tmp_path), RunRequest(tables=TABLES))
    assert second.sandbox.requests.total == 1


def test_a_key_that_may_not_read_the_account_syncs_unchecked_and_keeps_it(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    """Without `accounts:read` the account cannot be known: the sync goes on
    (README, Limitations), and the account the dataset holds stays recorded."""
    running = start_sandbox(
        scoped_keys={NO_ACCOUNT_SCOPE: ALL_SCOPES - {"accounts:read"}}
    )
    cfg = engine_config(running, tmp_path)
    assert run_sync(cfg, RunRequest(tables=TABLES)).status == RunStatus.SUCCEEDED

    limited = engine_config(running, tmp_path, api_key=ApiKey(NO_ACCOUNT_SCOPE))
    result = run_sync(limited, RunRequest(tables=TABLES, lookback_days=3650))
    assert result.status == RunStatus.SUCCEEDED, result.tables
    assert result.tables["list"].rows > 0
    assert _held(cfg) == (_account(running), set(TABLES))

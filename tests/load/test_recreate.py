"""A table dropped from the warehouse by hand is created again by the next
sync and read in full, whatever dlt remembers of it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
from tests.conftest import POSTGRES_URL, engine_config
from tests.sync.support import assert_matches_ground_truth, read_table

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.load.state import STATE_TABLE
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunKind, RunRequest, RunResult, RunStatus

pytestmark = pytest.mark.slow

TABLES = ("list", "segment")
# No lookback: a read from the cursor finds (almost) nothing, a full one all.
AGAIN = RunRequest(tables=TABLES, lookback_days=0)


def _drop(cfg: SyncConfig, table: str) -> None:
    sql = f'DROP TABLE "{cfg.dataset}"."{table}"'
    if cfg.destination == "duckdb":
        with duckdb.connect(str(cfg.duckdb_path)) as db:
            db.execute(sql)
        return
    with psycopg2.connect(POSTGRES_URL) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
    conn.close()


def _sync(cfg: SyncConfig, request: RunRequest = AGAIN) -> RunResult:
    result = run_sync(cfg, request)
    assert result.status == RunStatus.SUCCEEDED, result.tables
    return result


def _total(running: RunningSandbox, table: str) -> int:
    return sum(1 for _ in running.sandbox.ground_truth(table))


def _updated(record: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(record["attributes"]["updated"])


def _missing(table: str, done: str) -> str:
    return (
        f"The {table} table was missing from the warehouse although an earlier "
        f"sync created it (dropped by hand?): it was {done}."
    )


def test_a_dropped_table_is_created_again_and_read_in_full(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    _sync(e2e_config, RunRequest(tables=TABLES))
    _drop(e2e_config, "list")

    again = _sync(e2e_config)
    assert again.tables["list"].warnings == [
        _missing("list", "created again and read in full")
    ]
    assert again.tables["list"].rows == _total(running_sandbox, "list")
    assert_matches_ground_truth(e2e_config, running_sandbox.sandbox, "list")
    assert again.tables["segment"].warnings == []
    assert again.tables["segment"].rows < _total(running_sandbox, "segment")

    # The new cursor is in force: the next sync reads incrementally again.
    after = _sync(e2e_config)
    assert after.tables["list"].warnings == []
    assert after.tables["list"].rows < _total(running_sandbox, "list")
    assert_matches_ground_truth(e2e_config, running_sandbox.sandbox, "list")


def test_a_dropped_table_comes_back_without_dlt_s_working_folder(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    """dlt restores what it created from the destination, so deleting its
    working folder alone did not help."""
    _sync(e2e_config, RunRequest(tables=TABLES))
    _drop(e2e_config, "segment")
    shutil.rmtree(e2e_config.data_dir)

    again = _sync(e2e_config)
    assert again.tables["segment"].warnings == [
        _missing("segment", "created again and read in full")
    ]
    assert again.tables["segment"].rows == _total(running_sandbox, "segment")
    assert_matches_ground_truth(e2e_config, running_sandbox.sandbox, "segment")


def test_a_dropped_state_table_is_created_again_and_every_table_read_in_full(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    _sync(e2e_config, RunRequest(tables=TABLES))
    _drop(e2e_config, STATE_TABLE)

    again = _sync(e2e_config)
    for table in TABLES:
        assert again.tables[table].warnings == [
            f"The sync state ({STATE_TABLE}) was missing from the warehouse "
            "although an earlier sync created it (dropped by hand?): it was "
            f"created again and the {table} table read in full."
        ]
        assert again.tables[table].rows == _total(running_sandbox, table)
    after = _sync(e2e_config)
    assert all(not result.warnings for result in after.tables.values())
    assert after.tables["list"].rows < _total(running_sandbox, "list")


def test_a_backfill_recreates_a_dropped_table_and_the_next_sync_reads_it_all(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    """The backfill loads only its range, so the table's old cursor must not
    survive it: the next sync reads the table in full."""
    _sync(e2e_config, RunRequest(tables=TABLES))
    _drop(e2e_config, "list")
    records = running_sandbox.sandbox.ground_truth("list")
    updated = sorted(_updated(r) for r in records)
    start, end = updated[2], updated[-3]
    backfill = RunRequest(
        kind=RunKind.HISTORICAL, tables=("list",), start=start, end=end
    )

    recovered = _sync(e2e_config, backfill)
    assert recovered.tables["list"].warnings == [
        _missing(
            "list",
            "created again with this recovery's records; the next sync reads it "
            "in full",
        )
    ]
    loaded = [row["updated"] for row in read_table(e2e_config, "list")]
    assert len(loaded) == len([u for u in updated if start <= u < end])
    assert all(start <= moment < end for moment in loaded)

    after = _sync(e2e_config)
    assert after.tables["list"].rows == _total(running_sandbox, "list")
    assert_matches_ground_truth(e2e_config, running_sandbox.sandbox, "list")


def test_the_tables_of_a_new_dataset_are_not_taken_for_dropped_ones(
    running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The same working folder, another dataset: dlt's folder knows the tables,
    the destination does not, and nothing was dropped."""
    _sync(engine_config(running_sandbox, tmp_path), RunRequest(tables=TABLES))
    other = engine_config(
        running_sandbox,
        tmp_path,
        dataset="klaviyo_two",
        duckdb_path=tmp_path / "other.duckdb",
    )
    fresh = _sync(other, RunRequest(tables=TABLES))
    assert all(not result.warnings for result in fresh.tables.values())
    assert_matches_ground_truth(other, running_sandbox.sandbox, "list")

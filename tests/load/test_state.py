"""Cursor rows: the newest committed row per table wins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import StartSandbox, engine_config

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.errors import ConfigError
from klaviyo_connector.load import warehouse as warehouse_module
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.load.state import (
    DATASET_ROW,
    STATE_COLUMNS,
    STATE_TABLE,
    Account,
    CursorState,
    held_account,
    latest_states,
    state_row,
)
from klaviyo_connector.load.warehouse import Warehouse
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_latest_committed_state_per_table() -> None:
    rows = [
        ("profile", T0, None, T0 + dt.timedelta(minutes=2)),
        ("profile", T0 - dt.timedelta(days=1), T0, T0 + dt.timedelta(minutes=1)),
        ("list", "2026-02-01T00:00:00+00:00", None, "2026-03-01T00:00:00Z"),
    ]
    states = latest_states(rows)
    assert states["profile"] == CursorState("profile", T0, None)
    assert states["list"].cursor == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def test_state_row_shape() -> None:
    row = state_row(CursorState("list", T0, None), T0)
    assert row["table_name"] == "list"
    assert row["cursor_at"] == T0
    assert row["resume_after"] is None
    assert row["committed_at"] >= T0


def test_ranges_travel_with_the_state() -> None:
    ranges = ((None, T0), (T0, None))
    row = state_row(CursorState("profile", None, None, ranges), T0)
    committed = row["committed_at"]
    states = latest_states([("profile", None, None, committed, row["resume_ranges"])])
    assert states["profile"].ranges == ranges
    assert state_row(CursorState("list", T0), T0)["resume_ranges"] is None


def test_a_state_table_from_before_ranges_is_read_and_then_extended(
    tmp_path: Path, running_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warehouse an earlier version wrote has no `resume_ranges` column: its
    cursors are still read, and the next commit adds the column."""
    cfg = engine_config(running_sandbox, tmp_path)
    old_columns = tuple(c for c in STATE_COLUMNS if c.name != "resume_ranges")
    monkeypatch.setattr(warehouse_module, "STATE_COLUMNS", old_columns)

    def old_row(state: CursorState, *args: Any) -> dict[str, Any]:
        row = state_row(state, *args)
        del row["resume_ranges"]
        return row

    monkeypatch.setattr(warehouse_module, "state_row", old_row)
    first = run_sync(cfg, RunRequest(tables=("list",)))
    assert first.status == RunStatus.SUCCEEDED, first.tables
    with warehouse_reader(cfg) as reader:
        columns = reader.query(f"SELECT * FROM {reader.table(STATE_TABLE)} LIMIT 1")
    assert "resume_ranges" not in columns[0]

    monkeypatch.undo()
    with Warehouse(cfg) as warehouse:
        cursors = warehouse.cursors()
    assert cursors["list"].cursor is not None
    assert cursors["list"].ranges is None
    second = run_sync(cfg, RunRequest(tables=("list", "profile")))
    assert second.status == RunStatus.SUCCEEDED, second.tables
    with warehouse_reader(cfg) as reader:
        columns = reader.query(f"SELECT * FROM {reader.table(STATE_TABLE)} LIMIT 1")
    assert "resume_ranges" in columns[0]
    with Warehouse(cfg) as warehouse:
        assert warehouse.cursors()["profile"].cursor is not None


def test_the_newest_row_naming_an_account_is_the_dataset_s() -> None:
    later = T0 + dt.timedelta(minutes=1)
    rows = [
        ("list", T0, None, T0, None, "ACC1", "First"),
        (DATASET_ROW, None, None, later, None, "ACC2", None),
        ("profile", T0, None, later + dt.timedelta(minutes=1), None, None, None),
    ]
    assert held_account(rows) == Account("ACC2")
    assert str(held_account(rows[:1])) == "First (ACC1)"
    assert held_account(rows[2:]) is None
    # The dataset's own row is no table's cursor.
    assert set(latest_states(rows)) == {"list", "profile"}


def test_a_state_table_from_before_accounts_is_read_and_adopts_the_account(
    start_sandbox: StartSandbox,
    tmp_path: Path,
    warehouse: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A warehouse an earlier version wrote names no account: its cursors are
    still read, this sync's account is recorded before anything is read, and
    from then on another account is refused."""
    running, other = start_sandbox(), start_sandbox(seed=7)
    cfg = engine_config(running, tmp_path, **warehouse)
    old_columns = tuple(c for c in STATE_COLUMNS if not c.name.startswith("account"))
    monkeypatch.setattr(warehouse_module, "STATE_COLUMNS", old_columns)

    def old_row(*args: Any) -> dict[str, Any]:
        row = state_row(*args)
        del row["account_id"], row["account_name"]
        return row

    monkeypatch.setattr(warehouse_module, "state_row", old_row)
    first = run_sync(cfg, RunRequest(tables=("list",)))
    assert first.status == RunStatus.SUCCEEDED, first.tables
    assert "account_id" not in _state_columns(cfg)

    monkeypatch.undo()
    with Warehouse(cfg) as warehouse_before:
        cursors = warehouse_before.cursors()
        assert warehouse_before.held_account is None
    second = run_sync(cfg, RunRequest(tables=("list",), lookback_days=0))
    assert second.status == RunStatus.SUCCEEDED, second.tables
    # Read from the old cursor, not in full.
    assert second.tables["list"].rows < len(list(running.sandbox.ground_truth("list")))
    with Warehouse(cfg) as warehouse_after:
        assert warehouse_after.cursors()["list"] == cursors["list"]
        held = warehouse_after.held_account
    assert held is not None
    assert held.id == running.sandbox.store.account()["id"]
    with pytest.raises(ConfigError, match="holds Klaviyo account"):
        run_sync(engine_config(other, tmp_path, **warehouse), RunRequest())


def _state_columns(cfg: SyncConfig) -> set[str]:
    with Warehouse(cfg) as warehouse:
        return warehouse.columns(STATE_TABLE)

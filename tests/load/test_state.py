"""Cursor rows: the newest committed row per table wins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import engine_config

from klaviyo_connector.load import warehouse as warehouse_module
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.load.state import (
    STATE_COLUMNS,
    STATE_TABLE,
    CursorState,
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

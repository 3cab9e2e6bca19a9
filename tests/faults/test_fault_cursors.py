"""Cursors under odd clocks and odd filters: records dated in the future,
greater-than filters that return their boundary, cursors stored with an offset
or ahead of the clock. Nothing is skipped, nothing is loaded or counted twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.faults.support import (
    RecordingSandbox,
    assert_converged,
    config,
    key_count,
    serve,
    small,
    sync,
)
from tests.sync.support import assert_matches_ground_truth, read_table

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.load.state import STATE_TABLE, CursorState
from klaviyo_connector.load.warehouse import Warehouse
from klaviyo_connector.reports import DIMENSIONS
from klaviyo_connector.sandbox.gen_common import iso, parse_time
from klaviyo_connector.sync.dimension import table_spec
from klaviyo_connector.sync.models import RunStatus
from klaviyo_connector.sync.windows import (
    Window,
    advance,
    incremental_window,
    progress_point,
)

pytestmark = pytest.mark.slow

SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _cursors(cfg: SyncConfig) -> dict[str, dt.datetime | None]:
    with warehouse_reader(cfg) as reader:
        rows = reader.query(
            f"SELECT table_name, cursor_at, committed_at FROM "
            f"{reader.table(STATE_TABLE)} ORDER BY committed_at"
        )
    return {r["table_name"]: r["cursor_at"] for r in rows}


def _store_cursor(cfg: SyncConfig, table: str, cursor: dt.datetime) -> None:
    """Writes a cursor the way an earlier run (or an older version) left it."""
    with Warehouse(cfg) as warehouse:
        warehouse.load(
            table_spec(DIMENSIONS[table]),
            [],
            state=CursorState(table, cursor),
            run_started_at=cursor,
        )


def _greater_than(sandbox: RecordingSandbox, path: str) -> list[str]:
    return [
        value
        for exchange in sandbox.sent(path)
        for name, value in exchange.query
        if name == "filter" and "greater-than" in value
    ]


def test_a_future_record_loads_and_the_cursor_stops_at_the_run_start(
    tmp_path: Path,
) -> None:
    sandbox = RecordingSandbox(small(quirks=frozenset({"future_record"})))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        first = sync(cfg, "profile", "campaign", lookback_days=0)

        assert first.status == RunStatus.SUCCEEDED, first.tables
        future = [
            p["id"]
            for p in read_table(cfg, "profile")
            if p["updated"] > first.started_at
        ]
        assert len(future) == 1
        cursors = _cursors(cfg)
        assert cursors["profile"] == first.started_at
        assert cursors["campaign"] == first.started_at
        for table in ("profile", "campaign"):
            assert any(
                "dated in the future" in w for w in first.tables[table].warnings
            ), first.tables[table].warnings

        # A minute later one profile changes: the next run picks it up.
        store = sandbox.store
        store.advance(60)
        changed = next(
            p["id"] for p in read_table(cfg, "profile") if p["id"] != future[0]
        )
        store.profiles.patch(changed, {"updated": iso(store.now), "title": "Moved"})
        second = sync(cfg, "profile", lookback_days=0)

        assert second.status == RunStatus.SUCCEEDED
        assert_matches_ground_truth(cfg, sandbox, "profile")
        row = next(p for p in read_table(cfg, "profile") if p["id"] == changed)
        assert row["title"] == "Moved"
        # Read again: the change and the future record, nothing else.
        assert second.tables["profile"].rows == 2
        assert _cursors(cfg)["profile"] == second.started_at


def test_a_boundary_record_returned_again_is_not_loaded_or_counted_twice(
    tmp_path: Path,
) -> None:
    sandbox = RecordingSandbox(small(quirks=frozenset({"boundary_repeat"})))
    profiles = sorted(
        sandbox.ground_truth("profile"), key=lambda p: p["attributes"]["updated"]
    )
    newest = parse_time(profiles[-1]["attributes"]["updated"])
    boundary = profiles[0]["id"]
    # One profile sits exactly one second before the newest: on the filter's edge.
    sandbox.store.profiles.patch(boundary, {"updated": iso(newest - SECOND)})
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        assert sync(cfg, "profile", lookback_days=0).status == RunStatus.SUCCEEDED
        assert _cursors(cfg)["profile"] == newest
        second = sync(cfg, "profile", lookback_days=0)

        returned = sandbox.sent("/api/profiles")[-1].ids
        assert boundary in returned, "the quirk returned the boundary record"
        assert second.status == RunStatus.SUCCEEDED
        # Only what greater-than asked for counts: the record at the cursor.
        assert second.tables["profile"].rows == len(returned) - 1
        assert key_count(cfg, "profile") == (300, 300)
        assert_matches_ground_truth(cfg, sandbox, "profile")
        assert not second.tables["profile"].warnings


def test_a_cursor_stored_with_an_offset_is_sent_as_utc_with_a_z(
    tmp_path: Path,
) -> None:
    sandbox = RecordingSandbox(small())
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        assert sync(cfg, "list").status == RunStatus.SUCCEEDED
        plus_two = dt.timezone(dt.timedelta(hours=2))
        stored = dt.datetime(2026, 1, 15, 14, 30, 5, tzinfo=plus_two)
        _store_cursor(cfg, "list", stored)
        result = sync(cfg, "list", lookback_days=0)

        assert result.status == RunStatus.SUCCEEDED
        assert _greater_than(sandbox, "/api/lists") == [
            "greater-than(updated,2026-01-15T12:30:04Z)"
        ]
        assert_matches_ground_truth(cfg, sandbox, "list")


def test_a_cursor_ahead_of_the_clock_is_distrusted_and_everything_reread(
    tmp_path: Path,
) -> None:
    sandbox = RecordingSandbox(small())
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        assert sync(cfg, "list", "segment").status == RunStatus.SUCCEEDED
        ahead = dt.datetime.now(dt.UTC) + 3 * DAY
        _store_cursor(cfg, "list", ahead)
        changes = sandbox.mutate(share=0.3)
        assert changes.updated["list"]
        result = sync(cfg, "list", "segment", lookback_days=0)

        assert result.status == RunStatus.SUCCEEDED
        (warning,) = result.tables["list"].warnings
        assert warning.startswith("The stored cursor (")
        assert "was later than this run's start" in warning
        everything = len(list(sandbox.ground_truth("list")))
        assert result.tables["list"].rows == everything  # read again, in full
        newest = max(r["updated"] for r in read_table(cfg, "list"))
        assert _cursors(cfg)["list"] == newest <= result.started_at
        assert_matches_ground_truth(cfg, sandbox, "list")
        assert_matches_ground_truth(cfg, sandbox, "segment")
        assert not result.tables["segment"].warnings
        assert_converged(cfg, sandbox, ("list", "segment"))


def test_cursor_arithmetic_never_passes_the_run_start() -> None:
    ahead = CursorState("profile", T0 + DAY, resume_after=T0 + 2 * DAY)
    assert incremental_window(ahead, 14 * DAY, now=T0) == Window()
    assert advance(ahead, "profile", T0 - DAY, T0).cursor == T0
    point = progress_point(ahead, "profile", T0 - DAY, T0)
    assert point.resume_after == T0
    assert point.cursor == T0
    window = Window(lower=T0)
    assert window.asked_for(T0 - SECOND + dt.timedelta(microseconds=1))
    assert not window.asked_for(T0 - SECOND)
    assert window.asked_for(None)
    assert Window().asked_for(T0 - 400 * DAY)

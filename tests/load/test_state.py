"""Cursor rows: the newest committed row per table wins."""

from __future__ import annotations

import datetime as dt

from klaviyo_connector.load.state import CursorState, latest_states, state_row

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

"""Cursor arithmetic: lookback, resume points, clamping, report timeframes."""

from __future__ import annotations

import datetime as dt

from klaviyo_connector.load.state import CursorState
from klaviyo_connector.reports import DIMENSIONS
from klaviyo_connector.reports.base import Variant
from klaviyo_connector.sync.windows import (
    Window,
    advance,
    dimension_filter,
    incremental_window,
    progress_point,
    report_timeframes,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def test_first_sync_reads_everything() -> None:
    assert incremental_window(None, 14 * DAY) == Window()
    assert (
        dimension_filter(DIMENSIONS["list"], Variant(), Window(), strict=False) is None
    )


def test_later_syncs_read_from_cursor_minus_lookback() -> None:
    window = incremental_window(CursorState("list", T0), 14 * DAY)
    assert window.lower == T0 - 14 * DAY
    condition = dimension_filter(DIMENSIONS["list"], Variant(), window, strict=False)
    assert condition == "greater-than(updated,2026-02-15T11:59:59Z)"


def test_an_unfinished_sync_resumes_at_its_progress_point() -> None:
    state = CursorState("profile", T0 - 30 * DAY, resume_after=T0 - 2 * DAY)
    assert incremental_window(state, 14 * DAY).lower == T0 - 2 * DAY


def test_campaign_filter_combines_channel_archived_and_time() -> None:
    report = DIMENSIONS["campaign"]
    condition = dimension_filter(
        report, report.variants[0], Window(lower=T0), strict=False
    )
    assert condition == (
        "and(equals(messages.channel,'email'),equals(archived,false),"
        "greater-than(updated_at,2026-03-01T11:59:59Z))"
    )


def test_historical_ranges_bound_both_ends_where_klaviyo_allows() -> None:
    window = Window(T0 - DAY, T0)
    profile = dimension_filter(DIMENSIONS["profile"], Variant(), window, strict=True)
    assert profile == (
        "and(greater-than(updated,2026-02-28T11:59:59Z),"
        "less-than(updated,2026-03-01T12:00:01Z))"
    )
    # Lists accept only greater-than: the upper end is applied to the rows.
    lists = dimension_filter(DIMENSIONS["list"], Variant(), window, strict=True)
    assert lists == "greater-than(updated,2026-02-28T11:59:59Z)"
    assert window.contains(T0 - DAY)
    assert not window.contains(T0)


def test_a_range_ending_at_the_run_start_sends_no_later_datetime() -> None:
    report = DIMENSIONS["profile"]
    started = T0 + dt.timedelta(microseconds=250_000)
    window = Window(T0 - DAY, started)
    ending_now = dimension_filter(
        report, Variant(), window, strict=True, latest=started
    )
    assert ending_now == "greater-than(updated,2026-02-28T11:59:59Z)"
    earlier = Window(T0 - DAY, started - dt.timedelta(seconds=2))
    ending_before = dimension_filter(
        report, Variant(), earlier, strict=True, latest=started
    )
    assert ending_before == (
        "and(greater-than(updated,2026-02-28T11:59:59Z),"
        "less-than(updated,2026-03-01T11:59:59Z))"
    )


def test_the_cursor_never_passes_the_run_start_nor_goes_back() -> None:
    future = T0 + 365 * DAY
    assert advance(None, "list", future, T0).cursor == T0
    assert advance(CursorState("list", T0), "list", T0 - DAY, T0).cursor == T0
    assert advance(None, "list", None, T0).cursor is None
    moved = advance(CursorState("list", T0 - DAY), "list", T0 - DAY / 2, T0)
    assert moved == CursorState("list", T0 - DAY / 2, None)


def test_progress_points_keep_the_cursor_and_finishing_clears_them() -> None:
    start = CursorState("profile", T0 - 10 * DAY)
    mid = progress_point(start, "profile", T0 - 5 * DAY, T0)
    assert mid == CursorState("profile", T0 - 10 * DAY, T0 - 5 * DAY)
    done = advance(mid, "profile", None, T0)
    assert done == CursorState("profile", T0 - 5 * DAY, None)


def test_report_timeframes_are_at_most_a_year() -> None:
    start = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    frames = report_timeframes(start, end, 365)
    assert frames[0][0] == start
    assert frames[-1][1] == end
    assert all(b - a <= 365 * DAY for a, b in frames)
    assert all(frames[i][1] == frames[i + 1][0] for i in range(len(frames) - 1))
    assert len(frames) == 3
    assert report_timeframes(end, end, 365) == []

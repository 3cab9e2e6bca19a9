"""Cursor arithmetic: lookback, resume points, clamping, report timeframes."""

from __future__ import annotations

import datetime as dt

import pytest

from klaviyo_connector.errors import ConfigError
from klaviyo_connector.load.state import CursorState
from klaviyo_connector.reports import DIMENSIONS
from klaviyo_connector.reports.base import Variant
from klaviyo_connector.sync.windows import (
    Window,
    advance,
    dimension_filter,
    incremental_window,
    progress_point,
    recovery_range,
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


NOW = dt.datetime(2026, 12, 4, 7, 30, tzinfo=dt.UTC)


def test_a_recovery_reads_whole_days_and_no_later_than_now() -> None:
    first, today = dt.date(2012, 1, 1), NOW.date()
    assert recovery_range(first, dt.date(2024, 2, 29), NOW) == (
        dt.datetime(2012, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
    )
    assert recovery_range(first, today, NOW)[1] == NOW
    assert recovery_range(first, None, NOW)[1] == NOW
    moment = dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert recovery_range(first, moment, NOW)[1] == dt.datetime(
        2025, 1, 1, 10, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    ("first", "last", "says"),
    [
        (
            dt.date(1, 1, 1),
            dt.date(1, 1, 2),
            "The recovery starts on 0001-01-01, before Klaviyo existed: an account "
            "holds nothing older than 2012. Choose a start date on or after "
            "2012-01-01.",
        ),
        (
            dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
            None,
            "The recovery starts on 0001-01-01, before Klaviyo existed",
        ),
        (dt.date(2011, 12, 31), None, "The recovery starts on 2011-12-31, before"),
        (
            dt.date(2025, 6, 1),
            dt.date(9999, 12, 31),
            "The recovery ends on 9999-12-31, after today (2026-12-04 UTC): Klaviyo "
            "holds nothing newer. Choose an end date up to today; a range that ends "
            "today is read up to now.",
        ),
        (
            dt.date(2025, 6, 1),
            dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(-dt.timedelta(hours=5))),
            "The recovery ends on 9999-12-31, after today",
        ),
        (
            dt.date(2025, 6, 1),
            dt.date(2026, 12, 5),
            "The recovery ends on 2026-12-05, after today",
        ),
        (
            dt.date(2026, 12, 5),
            None,
            "The recovery starts on 2026-12-05 00:00 UTC, which is in the future: "
            "there is nothing to recover yet. Choose a start date in the past.",
        ),
        (
            dt.date(2025, 6, 2),
            dt.date(2025, 6, 1),
            "The recovery range is empty: its end does not come after its start. "
            "Choose an end date on or after the start date.",
        ),
    ],
)
def test_a_recovery_outside_klaviyos_lifetime_is_refused(
    first: dt.date, last: dt.date | None, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        recovery_range(first, last, NOW)
    assert str(caught.value).startswith(says)

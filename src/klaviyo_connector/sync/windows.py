"""Which slice of time a sync reads: cursors, lookback, historical ranges."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from klaviyo_connector.errors import ConfigError
from klaviyo_connector.load.state import CursorState, Range
from klaviyo_connector.reports.base import DimensionReport, Variant, format_filter_time

# Filters compare with greater-than at whole seconds; reading one second more
# catches records that share the boundary second. Merge by id dedups them.
BOUNDARY = dt.timedelta(seconds=1)
# Klaviyo was founded in 2012, so an account holds nothing older; dates far
# from it (year 1, year 9999) would also overflow the day arithmetic below.
KLAVIYO_EPOCH = dt.date(2012, 1, 1)


@dataclass(frozen=True)
class Window:
    """Records updated in [lower, upper); None means unbounded on that side."""

    lower: dt.datetime | None = None
    upper: dt.datetime | None = None

    def contains(self, moment: dt.datetime | None) -> bool:
        if moment is None:
            return self.lower is None and self.upper is None
        if self.lower is not None and moment < self.lower:
            return False
        return self.upper is None or moment < self.upper

    def asked_for(self, moment: dt.datetime | None) -> bool:
        """Whether an incremental read's greater-than filter asked for a record:
        a filter that also returns its boundary must not reload (or recount)
        records from before the window."""
        if moment is None or self.lower is None:
            return True
        return moment > self.lower - BOUNDARY


def incremental_window(
    state: CursorState | None,
    lookback: dt.timedelta,
    now: dt.datetime | None = None,
) -> Window:
    """From the resume point of an unfinished sync, else cursor minus lookback.
    A stored point later than `now` (a clock that ran ahead) cannot say what
    was loaded, so everything is read again rather than skipped."""
    if state is None or (now is not None and stored_point_after(state, now)):
        return Window()
    if state.resume_after is not None:
        return Window(lower=state.resume_after)
    if state.cursor is None:
        return Window()
    return Window(lower=state.cursor - lookback)


def stored_point_after(
    state: CursorState | None, now: dt.datetime
) -> dt.datetime | None:
    """The stored cursor or resume point when it lies after `now`, else None."""
    if state is None:
        return None
    points = [state.resume_after or state.cursor]
    points += [bound for each in state.ranges or () for bound in each]
    later = [point for point in points if point is not None and point > now]
    return max(later) if later else None


def dimension_filter(
    report: DimensionReport,
    variant: Variant,
    window: Window,
    *,
    strict: bool,
    latest: dt.datetime | None = None,
) -> str | None:
    """The `filter` parameter: the variant's conditions plus the time bounds.
    `strict` bounds the upper end in the filter too (historical ranges), unless
    that bound would lie after `latest` (the run's start): a range that ends
    now is bounded by reading no later than now, and the rows are checked
    against the window anyway."""
    conditions = list(variant.conditions)
    field = report.cursor_field
    if window.lower is not None:
        since = format_filter_time(window.lower - BOUNDARY)
        conditions.append(f"greater-than({field},{since})")
    until = None if window.upper is None else window.upper + BOUNDARY
    if latest is not None and until is not None and until > latest:
        until = None
    if strict and until is not None and report.upper_bound:
        conditions.append(f"less-than({field},{format_filter_time(until)})")
    return all_of(conditions)


def all_of(conditions: list[str]) -> str | None:
    """Klaviyo's `filter` for every condition at once: one alone, or and(...)."""
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else f"and({','.join(conditions)})"


def recovery_range(
    first: dt.date, last: dt.date | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) a historical recovery reads, from its first and last day
    (both included; a datetime is that moment, and `last` as a datetime is
    excluded), ending no later than `now`. A ConfigError says what to choose
    when a bound lies before Klaviyo existed or after today, or the range is
    empty: the command line and the service refuse the same ranges."""
    start = _moment(first)
    if start.date() < KLAVIYO_EPOCH:
        raise ConfigError(
            f"The recovery starts on {start.date().isoformat()}, before Klaviyo "
            f"existed: an account holds nothing older than {KLAVIYO_EPOCH.year}.",
            fix=f"Choose a start date on or after {KLAVIYO_EPOCH.isoformat()}.",
        )
    if start >= now:
        raise ConfigError(
            f"The recovery starts on {start:%Y-%m-%d %H:%M} UTC, which is in the "
            "future: there is nothing to recover yet.",
            fix="Choose a start date in the past.",
        )
    if last is None:
        return start, now
    day = _moment(last).date()
    if day > now.date():
        raise ConfigError(
            f"The recovery ends on {day.isoformat()}, after today "
            f"({now.date().isoformat()} UTC): Klaviyo holds nothing newer.",
            fix="Choose an end date up to today; a range that ends today is read "
            "up to now.",
        )
    end = _moment(last)
    if not isinstance(last, dt.datetime):
        end += dt.timedelta(days=1)
    if end <= start:
        raise ConfigError(
            "The recovery range is empty: its end does not come after its start.",
            fix="Choose an end date on or after the start date.",
        )
    return start, min(end, now)


def _moment(value: dt.date) -> dt.datetime:
    """A day as its first moment in UTC; a datetime as UTC (naive means UTC)."""
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # hours from year 1 or 9999: as far as UTC goes
        edge = dt.datetime.min if value.year == 1 else dt.datetime.max
        return edge.replace(tzinfo=dt.UTC)


def report_timeframes(
    start: dt.datetime, end: dt.datetime, max_days: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """[start, end) cut into consecutive timeframes no longer than max_days."""
    frames = []
    step = dt.timedelta(days=max_days)
    cursor = start
    while cursor < end:
        frames.append((cursor, min(cursor + step, end)))
        cursor += step
    return frames


def advance(
    state: CursorState | None,
    table: str,
    newest: dt.datetime | None,
    run_started_at: dt.datetime,
) -> CursorState:
    """The cursor after a finished sync: the newest updated value loaded, never
    beyond the run's start (a record dated in the future must not make later
    syncs skip data) and never backwards."""
    candidates = [
        moment
        for moment in (
            state.cursor if state else None,
            state.resume_after if state else None,
            newest,
        )
        if moment is not None
    ]
    if not candidates:
        return CursorState(table, None, None)
    return CursorState(table, min(max(candidates), run_started_at), None)


def read_ranges(window: Window, state: CursorState | None) -> list[Range]:
    """The `updated` ranges an incremental read covers: what an interrupted
    ranged sync left (`state` as trusted, see `stored_point_after`), else the
    whole window."""
    if state is not None and state.ranges:
        return list(state.ranges)
    return [(window.lower, window.upper)]


def ranges_progress(
    state: CursorState | None,
    table: str,
    remaining: tuple[Range, ...],
    newest: dt.datetime | None,
    run_started_at: dt.datetime,
) -> CursorState:
    """The state after one committed chunk of a read in ranges: cursor
    unchanged, the ranges still to read, and (for anything that reads only
    `resume_after`) the earliest point any of them starts from."""
    if not remaining:
        return progress_point(state, table, newest, run_started_at)
    cursor = state.cursor if state else None
    lowers = [lower for lower, _ in remaining]
    resume = None if None in lowers else min(lower for lower in lowers if lower)
    return CursorState(
        table, cursor and min(cursor, run_started_at), resume, tuple(remaining)
    )


def progress_point(
    state: CursorState | None,
    table: str,
    newest: dt.datetime | None,
    run_started_at: dt.datetime,
) -> CursorState:
    """The state after one committed chunk of a sorted read: cursor unchanged,
    resume point at the newest updated value committed so far."""
    resume = min(newest, run_started_at) if newest else None
    if state is not None and state.resume_after and resume:
        resume = min(max(resume, state.resume_after), run_started_at)
    cursor = state.cursor if state else None
    return CursorState(table, cursor and min(cursor, run_started_at), resume)

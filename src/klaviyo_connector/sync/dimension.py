"""Syncing one dimension table: read pages, commit rows with their cursor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from klaviyo_connector.client.endpoints import ENDPOINTS
from klaviyo_connector.errors import ConnectorError
from klaviyo_connector.load.batch import RowBatch
from klaviyo_connector.load.state import CursorState
from klaviyo_connector.load.warehouse import TableSpec
from klaviyo_connector.reports.base import (
    DimensionReport,
    Row,
    Variant,
    format_filter_time,
    index_included,
)
from klaviyo_connector.sync.collector import collect_young, fewer_collections
from klaviyo_connector.sync.context import Cancelled, RunContext, TableRun
from klaviyo_connector.sync.prefetch import prefetched
from klaviyo_connector.sync.ranges import Mark, RangeReader
from klaviyo_connector.sync.windows import (
    Window,
    advance,
    dimension_filter,
    incremental_window,
    progress_point,
    ranges_progress,
    read_ranges,
    stored_point_after,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from klaviyo_connector.client.jsonapi import Page


def table_spec(report: DimensionReport) -> TableSpec:
    return TableSpec(report.table, report.columns, (report.key,))


def _window(ctx: RunContext, report: DimensionReport) -> Window:
    if ctx.historical:
        return Window(ctx.request.start, ctx.request.end)
    state = ctx.cursors.get(report.table)
    return incremental_window(state, ctx.lookback, ctx.started_at)


CLOCK_SKEW = dt.timedelta(minutes=5)
# Pages read ahead while a chunk loads: at Klaviyo's 750 profile pages a minute
# this covers a commit of five seconds, for about 16 MB of waiting columns.
PREFETCH_PAGES = 64
# Parsed pages are many small objects: only a few wait to become rows.
FETCH_AHEAD = 4


@dataclass
class Tally:
    """What Klaviyo sent, for the checks that keep a quiet failure from
    passing as a success."""

    read: int = 0  # records Klaviyo returned
    repeated: int = 0  # boundary records a greater-than filter returned again
    future: int = 0  # records dated ahead of the clock


def _pages(
    ctx: RunContext, report: DimensionReport, window: Window
) -> Iterator[tuple[Variant, Page]]:
    """Every page of every variant (channel, archived...), as Klaviyo sends it."""
    for variant in report.variants:
        params = {**report.params, "page[size]": str(report.page_size)}
        condition = dimension_filter(
            report, variant, window, strict=ctx.historical, latest=ctx.started_at
        )
        if condition:
            params["filter"] = condition
        pages = ctx.client.paginate(report.endpoint, params, shape=report.page_shape)
        for page in pages:
            yield variant, page


def read_rows(
    ctx: RunContext,
    report: DimensionReport,
    window: Window,
    run: TableRun,
    tally: Tally | None = None,
) -> Iterator[list[Row]]:
    """Rows page by page. Pages are fetched on a thread of their own: the
    next `links.next` is known once a page is parsed, so the next request
    goes out while this one's rows are still being built."""
    tally = tally or Tally()
    fetched = prefetched(
        _pages(ctx, report, window), depth=FETCH_AHEAD, name=f"fetch-{report.table}"
    )
    with closing(fetched):
        for variant, page in fetched:
            included = index_included(page.included)
            rows = []
            tally.read += len(page.data)
            for resource in page.data:
                row = report.to_row(resource, included)
                row.update(variant.extra)
                moment = row[report.cursor_field]
                if ctx.historical:
                    if window.contains(moment):
                        rows.append(row)
                elif window.asked_for(moment):
                    rows.append(row)
                else:
                    tally.repeated += 1
            yield rows
            run.step()


def _as_columns(
    pages: Generator[tuple[list[Row], Mark | None], None, None],
    convert: Callable[[list[Row]], pa.RecordBatch],
) -> Iterator[tuple[pa.RecordBatch, Mark | None]]:
    """Each page as Arrow columns, converted on the reader thread; what the
    page left behind is collected before the next one is read."""
    with closing(pages):  # a load that fails stops the reads at once
        for rows, mark in pages:
            columns = convert(rows)
            del rows
            collect_young()
            yield columns, mark


def _unmarked(
    pages: Iterator[list[Row]],
) -> Generator[tuple[list[Row], Mark | None], None, None]:
    for rows in pages:
        yield rows, None


class DimensionSync:
    """Reads one dimension table and commits it, in chunks where declared."""

    def __init__(self, ctx: RunContext, report: DimensionReport) -> None:
        self.ctx, self.report = ctx, report
        self.state = ctx.cursors.get(report.table)
        if stored_point_after(self.state, ctx.started_at):
            self.state = CursorState(report.table)  # untrusted: read it all again
        self.run = TableRun(ctx, report.table, (report.endpoint,))
        self.pending = self._batch()
        self.newest: dt.datetime | None = None
        chunk = ctx.cfg.profile_chunk_rows if report.chunk_rows else None
        self.chunk_rows = chunk
        self.tally = Tally()
        # A read in ranges: the reader, and the last mark of each range's
        # pages that are pending or committed.
        self.ranges: RangeReader | None = None
        self.marks: dict[int, Mark] = {}

    def sync(self) -> None:
        window = _window(self.ctx, self.report)
        pages_of: Generator[tuple[list[Row], Mark | None], None, None]
        if self.report.split_reads:
            self.ranges = self._range_reader(window)
            pages_of = self._ranged(self.ranges)
        else:
            rows_of = read_rows(self.ctx, self.report, window, self.run, self.tally)
            pages_of = _unmarked(rows_of)
        converted = _as_columns(pages_of, self._batch().convert)
        name = f"read-{self.report.table}"
        reader = prefetched(converted, depth=PREFETCH_PAGES, name=name)
        with fewer_collections(), closing(reader) as pages:
            try:
                for page, mark in pages:
                    self.pending.append(page)
                    if mark is not None:
                        self.marks[mark.range_id] = mark
                    if self.chunk_rows and len(self.pending) >= self.chunk_rows:
                        self._commit(final=False)
            except Cancelled:
                self._keep_what_was_read()
                raise
            self._commit(final=True)
        if not self.ctx.historical:
            self.run.result.warnings.extend(self._warnings())

    def _range_reader(self, window: Window) -> RangeReader:
        ctx, endpoint = self.ctx, ENDPOINTS[self.report.endpoint]
        if ctx.historical:
            ranges, lenient = [(window.lower, window.upper)], None
        else:
            ranges, lenient = read_ranges(window, self.state), window.lower
        return RangeReader(
            ctx,
            self.report,
            self.run,
            ranges,
            readers=ctx.cfg.profile_readers,
            horizon=ctx.started_at,
            lenient_lower=lenient,
            stop=window.upper if ctx.historical else None,
            latest=ctx.started_at,
            rate=max(limit / seconds for limit, seconds in endpoint.windows),
        )

    def _ranged(
        self, reader: RangeReader
    ) -> Generator[tuple[list[Row], Mark | None], None, None]:
        with closing(reader.pages()) as pages:
            for page in pages:
                self.tally.read += page.read
                self.tally.repeated += page.repeated
                yield page.rows, page.mark

    @property
    def _cursor(self) -> str:
        return self.report.cursor_field

    def _batch(self) -> RowBatch:
        """Pending rows, one per key: a record re-read later in the same sync
        may be newer, so the newest version wins."""
        report = self.report
        return RowBatch(report.columns, key=report.key, newer_by=report.cursor_field)

    def _commit(self, *, final: bool) -> None:
        rows, self.pending = self.pending, self._batch()
        newest = rows.newest(self._cursor)
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest = newest
        # Records edited while the run reads are normal; only a date ahead of
        # the clock (beyond any skew) is an anomaly worth a warning.
        ahead_of = dt.datetime.now(dt.UTC) + CLOCK_SKEW
        if newest is not None and newest > ahead_of:
            self.tally.future += rows.count_after(self._cursor, ahead_of)
        state = None if self.ctx.historical else self._next_state(final)
        unchanged = state == self.state and not len(rows)
        if unchanged and self.ctx.warehouse.has_table(self.report.table):
            return
        loaded = self.ctx.warehouse.load(
            table_spec(self.report),
            rows,
            state=state,
            run_started_at=self.ctx.started_at,
        )
        if state is not None:
            self.state = state
        self.run.step(loaded)

    def _keep_what_was_read(self) -> None:
        """The run is stopping: commit the pages read since the last chunk,
        with how far each range got, so a stop between chunks reads none of
        them again. Only chunked tables have a resume point in mid-read."""
        if not self.chunk_rows or not len(self.pending):
            return
        # The step after the commit only notices the stop again.
        with suppress(Cancelled):
            self._commit(final=False)

    def _next_state(self, final: bool) -> CursorState:
        table, started = self.report.table, self.ctx.started_at
        if final:
            return advance(self.state, table, self.newest, started)
        if self.ranges is not None:
            remaining = self.ranges.remaining(dict(self.marks))
            return ranges_progress(self.state, table, remaining, self.newest, started)
        return progress_point(self.state, table, self.newest, started)

    def _warnings(self) -> list[str]:
        """Signs that a run which raised no error may still have missed data."""
        table, tally, loaded = self.report.table, self.tally, self.run.result.rows
        stored = self.ctx.cursors.get(table)
        first = stored is None
        warnings = []
        ahead = stored_point_after(stored, self.ctx.started_at)
        if ahead is not None:
            warnings.append(
                f"The stored cursor ({_iso(ahead)}) was later than this run's start, "
                "so it could not be trusted: the whole table was read again and the "
                "cursor now stops at the run's start."
            )
        if tally.future:
            warnings.append(
                f"{tally.future} record(s) are dated in the future (latest "
                f"{_iso(self.newest)}): loaded, but the cursor stops at the run's "
                "start so later changes are not skipped."
            )
        if tally.read - tally.repeated > 0 and loaded == 0:
            warnings.append(
                f"Klaviyo returned {tally.read - tally.repeated} {table} record(s) "
                "but none were loaded; this is a connector bug, please report it."
            )
        elif loaded == 0 and first and self._listing_has_records():
            warnings.append(
                f"This first sync loaded no {table} rows although Klaviyo lists "
                f"{table} records; check that the key belongs to the right account "
                "and report it if it does."
            )
        return warnings

    def _listing_has_records(self) -> bool:
        """One unfiltered record per variant: is the table empty in Klaviyo?"""
        report = self.report
        try:
            for variant in report.variants:
                params = {"page[size]": "1"}
                condition = dimension_filter(report, variant, Window(), strict=False)
                if condition:
                    params["filter"] = condition
                if self.ctx.client.get(report.endpoint, params).get("data"):
                    return True
        except ConnectorError:
            return False
        return False


def _iso(moment: dt.datetime | None) -> str:
    return "unknown" if moment is None else format_filter_time(moment)

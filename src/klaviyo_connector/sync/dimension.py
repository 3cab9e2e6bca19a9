"""Syncing one dimension table: read pages, commit rows with their cursor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from klaviyo_connector.load.state import CursorState
from klaviyo_connector.load.warehouse import TableSpec
from klaviyo_connector.reports.base import DimensionReport, Row, index_included
from klaviyo_connector.sync.context import RunContext, TableRun
from klaviyo_connector.sync.windows import (
    Window,
    advance,
    dimension_filter,
    incremental_window,
    progress_point,
)


def table_spec(report: DimensionReport) -> TableSpec:
    return TableSpec(report.table, report.columns, (report.key,))


def _window(ctx: RunContext, report: DimensionReport) -> Window:
    if ctx.historical:
        return Window(ctx.request.start, ctx.request.end)
    return incremental_window(ctx.cursors.get(report.table), ctx.lookback)


def read_rows(
    ctx: RunContext, report: DimensionReport, window: Window, run: TableRun
) -> Iterator[list[Row]]:
    """Rows page by page, across every variant (channel, archived...)."""
    for variant in report.variants:
        params = {**report.params, "page[size]": str(report.page_size)}
        condition = dimension_filter(report, variant, window, strict=ctx.historical)
        if condition:
            params["filter"] = condition
        for page in ctx.client.paginate(report.endpoint, params):
            included = index_included(page.included)
            rows = []
            for resource in page.data:
                row = report.to_row(resource, included)
                row.update(variant.extra)
                if not ctx.historical or window.contains(row[report.cursor_field]):
                    rows.append(row)
            yield rows
            run.step()


def _newer(current: Row | None, candidate: Row, cursor: str) -> Row:
    """A record re-read later in the same sync may be newer: keep the newest."""
    if current is None:
        return candidate
    old, new = current.get(cursor), candidate.get(cursor)
    if old is not None and new is not None and new < old:
        return current
    return candidate


class DimensionSync:
    """Reads one dimension table and commits it, in chunks where declared."""

    def __init__(self, ctx: RunContext, report: DimensionReport) -> None:
        self.ctx, self.report = ctx, report
        self.state = ctx.cursors.get(report.table)
        self.run = TableRun(ctx, report.table, (report.endpoint,))
        self.pending: dict[str, Row] = {}
        self.newest: dt.datetime | None = None
        chunk = ctx.cfg.profile_chunk_rows if report.chunk_rows else None
        self.chunk_rows = chunk

    def sync(self) -> None:
        window = _window(self.ctx, self.report)
        for rows in read_rows(self.ctx, self.report, window, self.run):
            for row in rows:
                key = row[self.report.key]
                self.pending[key] = _newer(self.pending.get(key), row, self._cursor)
            if self.chunk_rows and len(self.pending) >= self.chunk_rows:
                self._commit(final=False)
        self._commit(final=True)

    @property
    def _cursor(self) -> str:
        return self.report.cursor_field

    def _commit(self, *, final: bool) -> None:
        rows = list(self.pending.values())
        self.pending = {}
        for row in rows:
            moment = row.get(self._cursor)
            if moment is not None and (self.newest is None or moment > self.newest):
                self.newest = moment
        state = None if self.ctx.historical else self._next_state(final)
        if state == self.state and not rows:
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

    def _next_state(self, final: bool) -> CursorState:
        table, started = self.report.table, self.ctx.started_at
        if final:
            return advance(self.state, table, self.newest, started)
        return progress_point(self.state, table, self.newest, started)

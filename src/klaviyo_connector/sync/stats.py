"""Syncing campaign_performance_stats from the campaign values report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from klaviyo_connector.errors import (
    ConversionMetricError,
    InvalidRequestError,
    PermissionDeniedError,
)
from klaviyo_connector.load.state import CursorState
from klaviyo_connector.load.warehouse import TableSpec
from klaviyo_connector.reports.base import Row
from klaviyo_connector.reports.campaign_stats import ValuesReport, stats_row
from klaviyo_connector.reports.metrics import MetricChoice, choose_conversion_metric
from klaviyo_connector.sync.context import RunContext, TableRun
from klaviyo_connector.sync.windows import report_timeframes

METRICS_ENDPOINT = "/api/metrics"
ACCOUNTS_ENDPOINT = "/api/accounts"
# The name tells a user which account a dataset holds (see sync.dataset).
ACCOUNT_FIELDS = {"fields[account]": "timezone,contact_information"}


def table_spec(report: ValuesReport) -> TableSpec:
    return TableSpec(report.table, report.columns, report.key, report.replace_key)


def list_metrics(client: Any) -> list[dict[str, Any]]:
    """Every metric of the account (no page size: Klaviyo sends up to 200)."""
    params = {"fields[metric]": "name,created,integration"}
    return [m for page in client.paginate(METRICS_ENDPOINT, params) for m in page.data]


def resolve_metric(client: Any, override: str | None) -> MetricChoice:
    """The conversion metric, or a ConversionMetricError that says what to do."""
    choice = choose_conversion_metric(list_metrics(client), override)
    if choice is not None:
        return choice
    if override:
        raise ConversionMetricError(
            f"The conversion metric {override!r} set in conversion_metric_id is not "
            "a metric of this Klaviyo account.",
            fix="Correct or remove conversion_metric_id (`klaviyo-connector check` "
            "shows the account's Placed Order metrics).",
        )
    raise ConversionMetricError(
        "This Klaviyo account has no 'Placed Order' metric, so "
        "campaign_performance_stats has no conversion metric to report."
    )


def _timeframes(ctx: RunContext, report: ValuesReport) -> list[tuple[dt.datetime, ...]]:
    """The backfill range, or for an incremental sync: on the table's first sync
    the last `stats_history_days`; later, everything sent since the previous
    sync started, minus the lookback window, so a gap between syncs longer
    than the lookback still gets its campaigns' stats."""
    if ctx.historical:
        start, end = ctx.request.start, ctx.request.end
    else:
        end = ctx.started_at
        previous = ctx.cursors.get(report.table)
        if previous is None or previous.cursor is None:
            history = dt.timedelta(days=ctx.cfg.stats_history_days)
            start = end - max(history, ctx.lookback)
        else:
            start = min(previous.cursor, end) - ctx.lookback
    if start is None or end is None or start >= end:
        return []
    return list(report_timeframes(start, end, report.max_days))


def _next_cursor(document: dict[str, Any]) -> str | None:
    """The report pages with `page_cursor`, when Klaviyo sends a next link."""
    link = (document.get("links") or {}).get("next")
    if not link:
        return None
    values = parse_qs(urlsplit(link).query).get("page_cursor")
    return values[0] if values else None


METRIC_POINTER = "/data/attributes/conversion_metric_id"


def _metric_refused(exc: InvalidRequestError) -> bool:
    """Klaviyo points at the conversion metric: it exists but has no values
    (an email or browsing event rather than an order)."""
    return (exc.source or {}).get("pointer") == METRIC_POINTER


def without_values(metric: MetricChoice, exc: InvalidRequestError) -> str:
    detail = f" (Klaviyo: {exc.detail.rstrip('.')})" if exc.detail else ""
    return (
        f"The conversion metric {metric.name} ({metric.id}) cannot be used for "
        f"campaign_performance_stats: it has no values to report{detail}."
    )


WITHOUT_VALUES_FIX = (
    "Set conversion_metric_id (--conversion-metric) to an order metric such as "
    "Placed Order, or remove it to use the account's Placed Order; "
    "`klaviyo-connector check` shows which one that is."
)


def report_results(
    client: Any, report: ValuesReport, body: dict[str, Any]
) -> Iterator[list[dict[str, Any]]]:
    """The results of one report, page by page."""
    params: dict[str, str] = {}
    while True:
        document = client.post(report.endpoint, body, params or None)
        attributes = (document.get("data") or {}).get("attributes") or {}
        yield list(attributes.get("results") or [])
        cursor = _next_cursor(document)
        if cursor is None:
            return
        params = {"page_cursor": cursor}


class StatsSync:
    """One report call per timeframe of at most a year, committed per timeframe:
    rows of every campaign in the report replace that campaign's old rows."""

    def __init__(self, ctx: RunContext, report: ValuesReport) -> None:
        self.ctx, self.report = ctx, report
        endpoints = (report.endpoint, METRICS_ENDPOINT, ACCOUNTS_ENDPOINT)
        self.run = TableRun(ctx, report.table, endpoints)
        self.metric: MetricChoice | None = None
        self.zone: dt.tzinfo = dt.UTC

    def sync(self) -> None:
        frames = _timeframes(self.ctx, self.report)
        if not frames:
            self.run.result.warnings.append(
                "The stats window is empty (lookback 0 days, no sync since the "
                "last one), so no stats were re-read."
            )
            return
        self.metric = resolve_metric(self.ctx.client, self.ctx.cfg.conversion_metric_id)
        self.zone = self._account_zone()
        self.run.step()
        for number, (start, end) in enumerate(frames, start=1):
            last = number == len(frames)
            try:
                self._sync_frame(self.metric.id, start, end, mark_synced=last)
            except InvalidRequestError as exc:
                if not _metric_refused(exc):
                    raise
                raise ConversionMetricError(
                    without_values(self.metric, exc), fix=WITHOUT_VALUES_FIX
                ) from exc

    def _account_zone(self) -> dt.tzinfo:
        """The account's timezone, in which Klaviyo reads report timeframes."""
        try:
            document = self.ctx.account or self.ctx.client.get(
                ACCOUNTS_ENDPOINT, ACCOUNT_FIELDS
            )
        except PermissionDeniedError:
            self.run.result.warnings.append(
                "The key lacks `accounts:read`, so report windows were sent in UTC "
                "and may be off by the account's UTC offset at their edges."
            )
            return dt.UTC
        accounts = document.get("data") or [{}]
        name = (accounts[0].get("attributes") or {}).get("timezone") or "UTC"
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return dt.UTC

    def _synced_state(self) -> CursorState | None:
        """Recorded with the last timeframe of an incremental sync, so later
        syncs know the history is in and read only the lookback window."""
        if self.ctx.historical:
            return None
        return CursorState(self.report.table, cursor=self.ctx.started_at)

    def _sync_frame(
        self, metric_id: str, start: dt.datetime, end: dt.datetime, *, mark_synced: bool
    ) -> None:
        as_of = dt.datetime.now(dt.UTC)
        body = self.report.body(metric_id, start, end, self.zone)
        rows: dict[tuple[Any, ...], Row] = {}
        for results in report_results(self.ctx.client, self.report, body):
            for result in results:
                row = stats_row(result, metric_id, as_of)
                rows[tuple(row[k] for k in self.report.key)] = row
            self.run.step()
        complete = [r for r in rows.values() if all(r[k] for k in self.report.key)]
        skipped = len(rows) - len(complete)
        if skipped:
            rows_were = "row was" if skipped == 1 else "rows were"
            self.run.result.warnings.append(
                f"{skipped} report {rows_were} skipped: no campaign, message or "
                f"channel (from {start:%Y-%m-%d} to {end:%Y-%m-%d})."
            )
        state = self._synced_state() if mark_synced else None
        loaded = self.ctx.warehouse.load(
            table_spec(self.report),
            complete,
            state=state,
            run_started_at=self.ctx.started_at,
        )
        self.run.step(loaded)

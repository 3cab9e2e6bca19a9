"""One sync run: every selected table, concurrently, each failing on its own.

    result = run_sync(cfg, RunRequest(tables=("campaign", "profile")))

Klaviyo reads run on a few threads (the client paces each endpoint, so this is
safe); loads into the warehouse run one at a time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor

from klaviyo_connector.client import KlaviyoClient
from klaviyo_connector.config import SyncConfig
from klaviyo_connector.errors import (
    AuthenticationError,
    ConfigError,
    ConnectorError,
    PermissionDeniedError,
)
from klaviyo_connector.keys import redact
from klaviyo_connector.load.warehouse import Warehouse
from klaviyo_connector.reports import DIMENSIONS, STATS
from klaviyo_connector.sync.check import (
    KEY_REJECTED,
    require_private_key,
    scope_advice,
)
from klaviyo_connector.sync.context import Cancelled, RunContext, TableRun
from klaviyo_connector.sync.dimension import DimensionSync
from klaviyo_connector.sync.models import (
    TABLES,
    ProgressCallback,
    RunKind,
    RunRequest,
    RunResult,
    TableResult,
)
from klaviyo_connector.sync.stats import StatsSync

log = logging.getLogger(__name__)

# Longest first, so the slowest table starts at once.
_START_ORDER = ("profile", "campaign", "campaign_performance_stats", "segment", "list")


def _as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def normalize_request(request: RunRequest, now: dt.datetime) -> RunRequest:
    """The request with UTC bounds, checked; problems are ConfigErrors."""
    unknown = [t for t in request.tables if t not in TABLES]
    if unknown or not request.tables:
        raise ConfigError(
            f"Unknown or no tables selected: {', '.join(unknown) or 'none'}.",
            fix=f"Choose from {', '.join(TABLES)}.",
        )
    if request.lookback_days < 0:
        raise ConfigError("The lookback window cannot be negative.")
    if request.kind != RunKind.HISTORICAL:
        return request
    start, end = _as_utc(request.start), _as_utc(request.end)
    if start is None or end is None or start >= end:
        raise ConfigError(
            "A historical recovery needs a start date before its end date.",
            fix="Pass --from and --to, e.g. --from 2024-01-01 --to 2024-07-01.",
        )
    return dataclasses.replace(request, start=start, end=min(end, now))


def _job(ctx: RunContext, table: str) -> DimensionSync | StatsSync:
    if table == STATS.table:
        return StatsSync(ctx, STATS)
    return DimensionSync(ctx, DIMENSIONS[table])


def _failure(table: str, exc: ConnectorError) -> tuple[str, str | None]:
    if isinstance(exc, PermissionDeniedError):
        return exc.message, scope_advice(exc.scope, table)
    return exc.message, exc.fix or None


def run_table(ctx: RunContext, table: str) -> TableResult:
    """One table, start to end; its failure is its own, except a rejected key."""
    job = _job(ctx, table)
    run: TableRun = job.run
    try:
        job.sync()
    except Cancelled:
        return run.finish("Not finished: the run stopped because the key was rejected.")
    except AuthenticationError:
        ctx.cancel.set()
        raise
    except ConnectorError as exc:
        return run.finish(*_failure(table, exc))
    except Exception as exc:
        log.exception("table %s failed unexpectedly", table)
        return run.finish(
            redact(f"Unexpected error: {type(exc).__name__}: {exc}"),
            "This is a connector bug; please report it with the log (-v).",
        )
    result = run.finish()
    log.info(
        "table %s: %d rows, %d requests, %.1f s",
        table,
        result.rows,
        result.requests,
        result.seconds,
    )
    return result


def _failed(table: str, exc: ConnectorError) -> TableResult:
    return TableResult(table, error=exc.message, fix=exc.fix or None)


def _collect(ctx: RunContext, result: RunResult) -> None:
    tables = [t for t in _START_ORDER if t in ctx.request.tables]
    workers = min(ctx.cfg.max_workers, len(tables))
    with ThreadPoolExecutor(workers, thread_name_prefix="sync") as pool:
        futures = {t: pool.submit(run_table, ctx, t) for t in tables}
        for table in TABLES:
            if table not in futures:
                continue
            try:
                result.tables[table] = futures[table].result()
            except AuthenticationError as exc:
                result.error = KEY_REJECTED
                result.tables[table] = _failed(table, exc)


def _open_warehouse(cfg: SyncConfig, request: RunRequest) -> tuple[Warehouse, dict]:
    warehouse = Warehouse(cfg)
    warehouse.prepare()
    cursors = {} if request.kind == RunKind.HISTORICAL else warehouse.cursors()
    return warehouse, cursors


def run_sync(
    cfg: SyncConfig, request: RunRequest, progress: ProgressCallback | None = None
) -> RunResult:
    """Syncs the requested tables; per-table failures land in the result.
    Raises only ConfigError; a rejected key ends the run with `error` set."""
    require_private_key(cfg.api_key)
    started = dt.datetime.now(dt.UTC)
    normalized = normalize_request(request, started)
    result = RunResult(request=request, started_at=started)
    try:
        warehouse, cursors = _open_warehouse(cfg, normalized)
    except ConfigError:
        raise
    except ConnectorError as exc:
        result.error = str(exc)
        result.tables = {t: _failed(t, exc) for t in normalized.tables}
        result.finished_at = dt.datetime.now(dt.UTC)
        return result
    with KlaviyoClient(
        cfg.api_key,
        base_url=cfg.base_url,
        timeout=cfg.timeout,
        max_attempts=cfg.max_attempts,
        max_wait=cfg.max_wait,
        pacing=cfg.pacing,
    ) as client:
        ctx = RunContext(cfg, normalized, client, warehouse, started, cursors, progress)
        _collect(ctx, result)
    result.finished_at = dt.datetime.now(dt.UTC)
    log.info("run %s: %s", request.kind.value, result.status.value)
    return result

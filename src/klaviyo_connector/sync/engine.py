"""One sync run: every selected table, concurrently, each failing on its own.

    result = run_sync(cfg, RunRequest(tables=("campaign", "profile")))

Klaviyo reads run on a few threads (the client paces each endpoint, so this is
safe); loads into the warehouse run one at a time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from klaviyo_connector.client import KlaviyoClient
from klaviyo_connector.config import SyncConfig
from klaviyo_connector.errors import (
    AuthenticationError,
    ConfigError,
    ConnectorError,
    KlaviyoError,
    PermissionDeniedError,
    UnreachableError,
)
from klaviyo_connector.keys import redact
from klaviyo_connector.load.recreate import recreate_missing
from klaviyo_connector.load.state import STATE_TABLE, Account, CursorState
from klaviyo_connector.load.warehouse import Warehouse
from klaviyo_connector.memory import tune_allocators
from klaviyo_connector.reports import DIMENSIONS, STATS
from klaviyo_connector.sync.check import (
    KEY_REJECTED,
    not_klaviyo,
    require_private_key,
    scope_advice,
)
from klaviyo_connector.sync.collector import freeze_startup
from klaviyo_connector.sync.context import Cancelled, RunContext, TableRun
from klaviyo_connector.sync.dataset import (
    account_of,
    recreated_warning,
    require_same_account,
)
from klaviyo_connector.sync.dimension import DimensionSync
from klaviyo_connector.sync.models import (
    TABLES,
    ProgressCallback,
    RunKind,
    RunRequest,
    RunResult,
    TableResult,
)
from klaviyo_connector.sync.stats import ACCOUNT_FIELDS, ACCOUNTS_ENDPOINT, StatsSync

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
    if start is not None and start >= now:
        raise ConfigError(
            f"The recovery starts on {start:%Y-%m-%d %H:%M} UTC, which is in the "
            "future: there is nothing to recover yet.",
            fix="Choose a start date in the past.",
        )
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


INTERRUPTED = "Interrupted: committed work is kept; the next sync continues from there."
NOT_FINISHED = "Not finished: the whole run stopped."


def unreachable(base_url: str, exc: KlaviyoError) -> str:
    """The run's one sentence when no connection to Klaviyo could be made."""
    what = f": {exc.detail}" if exc.detail else ""
    return (
        f"Could not reach Klaviyo at {base_url}{what}; check the network and the "
        "base URL."
    )


def run_table(ctx: RunContext, table: str) -> TableResult:
    """One table, start to end; its failure is its own, unless every other
    table would fail the same way (a rejected key, Klaviyo unreachable)."""
    job = _job(ctx, table)
    run: TableRun = job.run
    if {table, STATE_TABLE} & set(ctx.recreated):
        run.result.warnings.append(
            recreated_warning(table, ctx.recreated, ctx.historical)
        )
    try:
        ctx.check_cancelled()
        job.sync()
    except Cancelled:
        return run.finish(NOT_FINISHED, stopped=True)
    except AuthenticationError:
        ctx.stop(KEY_REJECTED)
        return run.finish(NOT_FINISHED, stopped=True)
    except UnreachableError as exc:
        ctx.stop(unreachable(ctx.cfg.base_url, exc))
        # The table that hit it names the request; the others just stopped.
        return run.finish(exc.message, exc.fix, stopped=True)
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


def _collect(ctx: RunContext, result: RunResult) -> None:
    tables = [t for t in _START_ORDER if t in ctx.request.tables]
    workers = min(ctx.cfg.max_workers, len(tables))
    with ThreadPoolExecutor(workers, thread_name_prefix="sync") as pool:
        futures = {t: pool.submit(run_table, ctx, t) for t in tables}
        try:
            for table in TABLES:
                if table in futures:
                    result.tables[table] = futures[table].result()
        except KeyboardInterrupt:
            # Without this the pool would let every table run to its end.
            ctx.cancel.set()
            raise
    if ctx.stop_reason is not None:
        result.error = ctx.stop_reason
    elif any(t.stopped for t in result.tables.values()):
        result.error, result.interrupted = INTERRUPTED, True


def _stopped(result: RunResult, tables: tuple[str, ...], reason: str) -> RunResult:
    """A run that ended before any table started: the reason once, at run level."""
    result.error = reason
    result.tables = {
        t: TableResult(t, error=NOT_FINISHED, stopped=True) for t in tables
    }
    result.finished_at = dt.datetime.now(dt.UTC)
    log.info("run %s: %s", result.request.kind.value, result.status.value)
    return result


def _check_key(client: KlaviyoClient) -> dict[str, Any] | None:
    """One cheap request before anything is created: a rejected key, an
    unreachable Klaviyo or a base URL that is not Klaviyo's ends the run here
    and leaves no file behind. A key without `accounts:read` (403), a proxy's
    page or a passing fault proves enough. The answer (the account's
    timezone) is kept for the stats table, which needs it."""
    try:
        return client.get(ACCOUNTS_ENDPOINT, ACCOUNT_FIELDS)
    except (AuthenticationError, UnreachableError):
        raise
    except KlaviyoError as exc:
        foreign = not_klaviyo(client.base_url, exc)
        if foreign is not None:
            raise foreign from exc
        log.debug("key check: %s", exc.message)
        return None


Cursors = dict[str, CursorState]


def _open_warehouse(
    cfg: SyncConfig,
    request: RunRequest,
    cancel: threading.Event,
    account: Account | None,
) -> tuple[Warehouse, Cursors, tuple[str, ...]]:
    warehouse = Warehouse(cfg, account)
    freeze_startup()  # dlt, DuckDB and pyarrow are loaded by now
    try:
        # Before anything is read: the sync that holds the dataset may be
        # committing the very cursors this one would start from.
        warehouse.lock_dataset(_interruptible(cancel))
        warehouse.prepare()
        cursors, recreated = _check_dataset(warehouse, request)
    except BaseException:
        warehouse.close()
        raise
    return warehouse, cursors, recreated


def _check_dataset(
    warehouse: Warehouse, request: RunRequest
) -> tuple[Cursors, tuple[str, ...]]:
    """The cursors to start from, once the dataset is known to hold this
    account and the tables missing from it are ready to be created again
    (with the names of those); a backfill starts from none."""
    cursors = warehouse.cursors()
    require_same_account(warehouse.cfg, warehouse.held_account, warehouse.account)
    recreated = tuple(recreate_missing(warehouse, request.tables, cursors))
    if cursors:
        # Cursors that name no account (an earlier version wrote them) adopt
        # this one now, in case this sync loads nothing.
        warehouse.record_account()
    if request.kind == RunKind.HISTORICAL:
        return {}, recreated
    return {t: s for t, s in cursors.items() if t not in recreated}, recreated


def _interruptible(cancel: threading.Event) -> Callable[[float], None]:
    """A sleep (pacing, retry backoff) that ends the moment the run stops."""

    def sleep(seconds: float) -> None:
        if cancel.wait(max(seconds, 0.0)):
            raise Cancelled()

    return sleep


def _client(cfg: SyncConfig, cancel: threading.Event) -> KlaviyoClient:
    return KlaviyoClient(
        cfg.api_key,
        base_url=cfg.base_url,
        timeout=cfg.timeout,
        max_attempts=cfg.max_attempts,
        max_wait=cfg.max_wait,
        pacing=cfg.pacing,
        sleep=_interruptible(cancel),
    )


def run_sync(
    cfg: SyncConfig,
    request: RunRequest,
    progress: ProgressCallback | None = None,
    *,
    cancel: threading.Event | None = None,
) -> RunResult:
    """Syncs the requested tables; per-table failures land in the result.

    Raises only ConfigError. A rejected key or an unreachable Klaviyo ends the
    run with `error` set; setting `cancel` stops every table at its next page,
    keeping what was committed (the result is then `interrupted`)."""
    require_private_key(cfg.api_key)
    tune_allocators()
    started = dt.datetime.now(dt.UTC)
    normalized = normalize_request(request, started)
    result = RunResult(request=request, started_at=started)
    cancel = cancel or threading.Event()
    with _client(cfg, cancel) as client:
        try:
            account = _check_key(client)
            warehouse, cursors, recreated = _open_warehouse(
                cfg, normalized, cancel, account_of(account)
            )
        except ConfigError:
            raise
        except Cancelled:
            result.interrupted = True
            return _stopped(result, normalized.tables, INTERRUPTED)
        except AuthenticationError:
            return _stopped(result, normalized.tables, KEY_REJECTED)
        except UnreachableError as exc:
            return _stopped(result, normalized.tables, unreachable(cfg.base_url, exc))
        except ConnectorError as exc:
            return _stopped(result, normalized.tables, str(exc))
        with warehouse:
            ctx = RunContext(
                cfg, normalized, client, warehouse, started, cursors, progress, cancel
            )
            ctx.account = account
            ctx.recreated = recreated
            client.on_wait = ctx.on_wait
            _collect(ctx, result)
    result.finished_at = dt.datetime.now(dt.UTC)
    log.info("run %s: %s", request.kind.value, result.status.value)
    return result

"""Read models of connections and runs, shared by the pages and the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from klaviyo_connector.sync.models import TABLES

from . import connections as store
from .db import Connection, Run
from .options import describe_period
from .web import Service
from .windows import window_label

KIND_LABELS = {"scheduled": "scheduled", "manual": "manual", "historical": "historical"}


def table_warnings(tables: dict[str, dict[str, Any]]) -> list[str]:
    """Every table's warnings as "table: text", in the tables' canonical order."""
    return [
        f"{name}: {text}"
        for name in TABLES
        for text in (tables.get(name) or {}).get("warnings") or []
    ]


def run_view(service: Service, run: Run) -> dict[str, Any]:
    """A run with live per-table progress while it is running."""
    tables = dict(run.tables or {})
    live = service.queue.live.get(run.id) if run.status == "running" else None
    if live:
        tables = live
    rows = sum(int(t.get("rows") or 0) for t in tables.values())
    requests = sum(int(t.get("requests") or 0) for t in tables.values())
    running_id = service.queue.running_run(run.connection_id)
    return {
        "id": run.id,
        "connection_id": run.connection_id,
        "kind": run.kind,
        "status": run.status,
        "queued_behind_running": run.status == "queued"
        and running_id not in (None, run.id),
        "window_start": run.window_start,
        "window_end": run.window_end,
        "full_history_tables": list(run.full_history_tables or []),
        "window_label": window_label(run),
        "tables": {t: tables[t] for t in TABLES if t in tables},
        "rows": rows if live else run.rows or rows,
        "requests": requests if live else run.requests or requests,
        "duration_seconds": run.duration_seconds,
        "error": run.error,
        "fix": run.fix,
        "warnings": table_warnings(tables),
        "queued_at": run.queued_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def connection_view(
    service: Service, conn: Connection, runs: list[Run]
) -> dict[str, Any]:
    """Everything a page or API client may see about a connection: never the key."""
    finished = [r for r in runs if r.finished_at is not None]
    duckdb = (
        service.settings.duckdb_path(conn.slug).resolve()
        if conn.destination == "duckdb"
        else None
    )
    return {
        "id": conn.id,
        "name": conn.name,
        "slug": conn.slug,
        "key": conn.key_hint,
        "account_name": conn.account_name,
        "account_id": conn.account_id,
        "setup_complete": conn.setup_complete,
        "tables": list(conn.tables or []),
        "permissions": conn.checks or {},
        "sync_period": conn.sync_period,
        "sync_cron": conn.sync_cron,
        "sync_seconds": conn.sync_seconds,
        "sync_period_label": describe_period(
            conn.sync_period, conn.sync_cron, conn.sync_seconds
        ),
        "lookback_days": conn.lookback_days,
        "destination": conn.destination,
        "destination_credentials_set": conn.credentials_encrypted is not None,
        "dataset": conn.dataset,
        "duckdb_file": str(duckdb) if duckdb else None,
        "duckdb_file_shown": shown_path(duckdb) if duckdb else None,
        "conversion_metric": store.metric_label(conn),
        "conversion_metric_detected": conn.detected_metric_id,
        "metrics": conn.metrics or [],
        "auto_sync": conn.auto_sync,
        "next_sync_at": service.autosync.next_run(conn.id) if conn.auto_sync else None,
        "last_sync_at": finished[0].finished_at if finished else None,
        "last_status": finished[0].status if finished else None,
        "health": store.health(conn, runs),
        "busy": service.queue.is_busy(conn.id),
        "secret_problem": store.secret_problem(conn, service.vault),
        # The page templates share fields with the setup steps' stored record.
        "checks": conn.checks or {},
        "detected_metric_id": conn.detected_metric_id,
    }


def recent_rates(
    service: Service, conn: Connection, runs: list[Run]
) -> list[dict[str, Any]] | None:
    """The rates the dashboard charts, or None when the warehouse cannot be read."""
    if not conn.setup_complete:
        return None
    finished = [r.id for r in runs if r.finished_at is not None]
    # While a sync writes, the last rates read stay on show.
    idle = not service.queue.is_busy(conn.id)
    return service.rates.get(
        conn,
        finished[0] if finished else None,
        service.vault,
        service.settings,
        refresh=idle,
    )


def data_kept(service: Service, conn: Connection) -> str:
    """Where a deleted connection's data stays; a new one never writes there."""
    where = f"dataset {conn.dataset}"
    if conn.destination == "duckdb":
        path = service.settings.duckdb_path(conn.slug).resolve()
        where = f"{shown_path(path)}, {where}"
    return (
        f"Its warehouse data stays in {where}; a new connection gets a dataset "
        "and sync state of its own."
    )


def shown_path(path: Path) -> str:
    """A path as the user started the service: relative to its folder if inside."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_connection(
    service: Service, connection_id: int, limit: int = 20
) -> tuple[Connection, list[Run]] | None:
    with service.db.session() as s:
        conn = s.get(Connection, connection_id)
        if conn is None:
            return None
        return conn, store.recent_runs(s, connection_id, limit)

"""Reads a few rows back from a connection's warehouse so users see data arrived."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from .crypto import Vault
from .db import Connection
from .settings import ServiceSettings

log = logging.getLogger(__name__)

_RATES_JOINED = """
select s.campaign_id, c.name, s.open_rate, s.click_rate
from {stats} s left join {campaign} c on c.id = s.campaign_id
where s.send_channel = 'email' and s.open_rate is not null
order by c.send_time desc nulls last, s.campaign_id
limit {limit}
"""
_RATES_ALONE = """
select s.campaign_id, null as name, s.open_rate, s.click_rate
from {stats} s
where s.send_channel = 'email' and s.open_rate is not null
order by s.stats_as_of desc, s.campaign_id
limit {limit}
"""
_COLUMNS = ("campaign_id", "name", "open_rate", "click_rate")


class RatesCache:
    """Remembers each connection's rates until one of its runs finishes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[int | None, list[dict[str, Any]] | None]] = {}

    def get(
        self,
        conn: Connection,
        last_run_id: int | None,
        vault: Vault,
        settings: ServiceSettings,
    ) -> list[dict[str, Any]] | None:
        with self._lock:
            cached = self._cache.get(conn.id)
        if cached is not None and cached[0] == last_run_id:
            return cached[1]
        rows = campaign_rates(conn, vault, settings)
        with self._lock:
            self._cache[conn.id] = (last_run_id, rows)
        return rows


def campaign_rates(
    conn: Connection, vault: Vault, settings: ServiceSettings, limit: int = 8
) -> list[dict[str, Any]] | None:
    """Recent email campaigns' rates, or None when the warehouse cannot be read."""
    if "campaign_performance_stats" not in conn.tables:
        return None
    try:
        if conn.destination == "duckdb":
            path = settings.warehouse_dir / f"{conn.slug}.duckdb"
            return _duckdb_rates(path, conn.dataset, limit) if path.exists() else None
        return _dlt_rates(conn, vault, settings, limit)
    except Exception as exc:
        log.info("warehouse of %s not readable now: %s", conn.slug, type(exc).__name__)
        return None


def _duckdb_rates(path: Path, dataset: str, limit: int) -> list[dict[str, Any]]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as db:
        stats, campaign = (
            f'"{dataset}".campaign_performance_stats',
            f'"{dataset}".campaign',
        )
        try:
            rows = db.execute(
                _RATES_JOINED.format(stats=stats, campaign=campaign, limit=limit)
            ).fetchall()
        except duckdb.CatalogException:
            rows = db.execute(_RATES_ALONE.format(stats=stats, limit=limit)).fetchall()
    return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]


def _dlt_rates(
    conn: Connection, vault: Vault, settings: ServiceSettings, limit: int
) -> list[dict[str, Any]]:
    import dlt

    from .engine import sync_config

    cfg = sync_config(conn, vault, settings)
    destination = (
        dlt.destinations.postgres(credentials=cfg.destination_credentials)
        if conn.destination == "postgres" and cfg.destination_credentials
        else conn.destination
    )
    pipeline = dlt.pipeline(
        pipeline_name=cfg.pipeline_name,
        pipelines_dir=str(cfg.data_dir),
        destination=destination,
        dataset_name=conn.dataset,
    )
    with pipeline.sql_client() as client:
        stats = client.make_qualified_table_name("campaign_performance_stats")
        campaign = client.make_qualified_table_name("campaign")
        try:
            rows = client.execute_sql(
                _RATES_JOINED.format(stats=stats, campaign=campaign, limit=limit)
            )
        except Exception:
            rows = client.execute_sql(_RATES_ALONE.format(stats=stats, limit=limit))
    return [dict(zip(_COLUMNS, row, strict=True)) for row in rows or []]

"""Reads a few rows back from a connection's warehouse so users see data arrived."""

from __future__ import annotations

import logging
import threading
from typing import Any

from klaviyo_connector.errors import ConfigError

from .crypto import Vault
from .db import Connection
from .settings import ServiceSettings

log = logging.getLogger(__name__)

_RATES_JOINED = """
select s.campaign_id, c.name, s.open_rate, s.click_rate
from {{campaign_performance_stats}} s left join {{campaign}} c on c.id = s.campaign_id
where s.send_channel = 'email' and s.open_rate is not null
order by c.send_time desc nulls last, s.campaign_id
limit {limit}
"""
_RATES_ALONE = """
select s.campaign_id, null as name, s.open_rate, s.click_rate
from {{campaign_performance_stats}} s
where s.send_channel = 'email' and s.open_rate is not null
order by s.stats_as_of desc, s.campaign_id
limit {limit}
"""


class RatesCache:
    """Remembers each connection's rates until one of its runs finishes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Keyed by slug: a slug, unlike an id in an older store, is never reused.
        self._cache: dict[str, tuple[int | None, list[dict[str, Any]] | None]] = {}

    def get(
        self,
        conn: Connection,
        last_run_id: int | None,
        vault: Vault,
        settings: ServiceSettings,
        refresh: bool = True,
    ) -> list[dict[str, Any]] | None:
        """`refresh=False` (a sync is writing) answers from the cache only."""
        with self._lock:
            cached = self._cache.get(conn.slug)
        if cached is not None and (cached[0] == last_run_id or not refresh):
            return cached[1]
        if not refresh:
            return None
        rows = campaign_rates(conn, vault, settings)
        with self._lock:
            self._cache[conn.slug] = (last_run_id, rows)
        return rows


def campaign_rates(
    conn: Connection, vault: Vault, settings: ServiceSettings, limit: int = 8
) -> list[dict[str, Any]] | None:
    """Recent email campaigns' rates, or None when the warehouse cannot be read."""
    from klaviyo_connector.load import warehouse_reader

    from .engine import sync_config

    if "campaign_performance_stats" not in conn.tables:
        return None
    try:
        cfg = sync_config(conn, vault, settings)
    except ConfigError:
        return None  # the connection page says why the key cannot be read
    if conn.destination == "duckdb" and not cfg.duckdb_path.exists():
        return None
    try:
        with warehouse_reader(cfg) as reader:
            return _rates(reader, "campaign" in conn.tables, limit)
    except Exception as exc:
        log.info("warehouse of %s not readable now: %s", conn.slug, type(exc).__name__)
        return None


def _rates(reader: Any, with_names: bool, limit: int) -> list[dict[str, Any]]:
    if with_names:
        try:
            return list(reader.query(_RATES_JOINED.format(limit=limit)))
        except Exception:
            log.debug("campaign names not readable; showing ids", exc_info=True)
    return list(reader.query(_RATES_ALONE.format(limit=limit)))

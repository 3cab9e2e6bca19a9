"""A connection's warehouse seen from the service: a destination checked before
it is saved, and a few rows read back so users see data arrived."""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from klaviyo_connector.errors import ConfigError, WarehouseError
from klaviyo_connector.keys import ApiKey

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


# A destination that does not answer fails the check after this long, rather
# than after dlt's 15 seconds for PostgreSQL.
CHECK_SECONDS = 5
POSTGRES_URL = "postgresql://user:password@host:5432/database"
_USER_IN_URL = re.compile(r"://[^/@\s]+@")


def destination_problem(
    destination: str, credentials: str | None, dataset: str
) -> str | None:
    """Opens the destination once, as a sync would; None when it answers, else
    what went wrong and how to put it right. Nothing is written to it."""
    from klaviyo_connector.config import SyncConfig
    from klaviyo_connector.load import warehouse_reader

    with tempfile.TemporaryDirectory() as folder:
        cfg = SyncConfig(
            api_key=ApiKey(""),  # the check asks Klaviyo nothing
            destination=destination,
            destination_credentials=_quick(destination, credentials),
            dataset=dataset,
            pipeline_name="destination_check",
            data_dir=Path(folder),
        )
        try:
            with warehouse_reader(cfg):
                return None
        except Exception as exc:
            return _advice(destination, exc, credentials)


def _quick(destination: str, credentials: str | None) -> str | None:
    if destination != "postgres" or not credentials or "connect_timeout" in credentials:
        return credentials
    joiner = "&" if "?" in credentials else "?"
    return f"{credentials}{joiner}connect_timeout={CHECK_SECONDS}"


def _advice(destination: str, exc: Exception, credentials: str | None) -> str:
    if isinstance(exc, ConfigError):
        return str(exc)
    setup = _setup_advice(destination, exc)
    if setup:
        return setup
    # The reader wraps the driver's error; its first line says what happened.
    cause = exc.__cause__ if isinstance(exc, WarehouseError) else exc
    detail = _without_secrets(_first_line(cause or exc), credentials)
    return (
        f"Could not connect to the {destination} destination: {detail}. Check the "
        "host, port, user, password and database in the credentials, and that the "
        "server is running and accepts connections from this machine."
    )


def _setup_advice(destination: str, exc: Exception) -> str | None:
    """What dlt could not even start with: no credentials, unreadable ones, or
    a destination whose library is not installed."""
    from dlt.common.configuration.exceptions import (
        ConfigFieldMissingException,
        InvalidNativeValue,
    )
    from dlt.common.exceptions import MissingDependencyException

    form = f" (for postgres a URL like {POSTGRES_URL})"
    if isinstance(exc, ConfigFieldMissingException):
        return (
            f"The {destination} destination has no credentials: give them in "
            f"Credentials{form}, or set DESTINATION__{destination.upper()}"
            "__CREDENTIALS where the service runs."
        )
    if isinstance(exc, InvalidNativeValue):
        return f"The {destination} credentials are not in a form dlt reads{form}."
    if isinstance(exc, MissingDependencyException):
        return (
            f"The {destination} destination needs a library this installation "
            f'lacks: install it with pip install "dlt[{destination}]" and restart '
            "the service."
        )
    return None


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0].strip().rstrip(".") if lines else type(exc).__name__


def _without_secrets(text: str, credentials: str | None) -> str:
    """Driver messages seldom repeat a password; a message shown is never one."""
    if credentials:
        try:
            password = urlsplit(credentials).password
        except ValueError:
            password = None
        for secret in (credentials, password):
            if secret:
                text = text.replace(secret, "***")
    return _USER_IN_URL.sub("://***@", text)

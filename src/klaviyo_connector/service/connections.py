"""Connections in the store; the key is encrypted on the way in."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import desc, select
from sqlalchemy.orm import Session

from klaviyo_connector.keys import ApiKey
from klaviyo_connector.sync.models import TABLES

from .crypto import CREDENTIALS, KEY, Undecryptable, Vault
from .db import Connection, RetiredSlug, Run
from .engine import CheckSummary
from .options import SyncSettings

FINISHED = ("succeeded", "partial", "failed", "interrupted")


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40]
    return slug or "account"


def unique_slug(
    session: Session, name: str, has_files: Callable[[str], bool] = lambda _: False
) -> str:
    """A slug no connection, living or deleted, has used: a deleted connection's
    warehouse data and cursors stay, and a new one must not resume them."""
    base = slugify(name)
    taken = set(session.scalars(select(Connection.slug)).all())
    taken |= set(session.scalars(select(RetiredSlug.slug)).all())
    slug, n = base, 2
    while slug in taken or has_files(slug):
        slug, n = f"{base}_{n}", n + 1
    return slug


def default_tables(summary: CheckSummary) -> list[str]:
    """Every table the key may read; tables it cannot read start unticked."""
    allowed = [t for t in TABLES if summary.tables.get(t, {}).get("ok", True)]
    return allowed or list(TABLES)


def create(
    session: Session,
    vault: Vault,
    name: str,
    key: ApiKey,
    summary: CheckSummary,
    has_files: Callable[[str], bool] = lambda _: False,
) -> Connection:
    """Stores a validated key as a connection whose setup is not yet finished."""
    slug = unique_slug(session, name, has_files)
    conn = Connection(
        slug=slug,
        name=name.strip(),
        key_encrypted=vault.encrypt(key.reveal()),
        key_hint=key.masked,
        dataset=f"klaviyo_{slug}",
        tables=default_tables(summary),
    )
    apply_check(conn, summary)
    session.add(conn)
    session.flush()
    return conn


def retire(session: Session, conn: Connection) -> None:
    """Deletes the connection and its runs; its name is never handed out again."""
    session.add(RetiredSlug(slug=conn.slug))
    session.delete(conn)


def secret_problem(conn: Connection, vault: Vault) -> str | None:
    """Why the stored key or credentials cannot be used, in the user's words."""
    if not vault.readable(conn.key_encrypted):
        return str(Undecryptable(KEY))
    if conn.credentials_encrypted and not vault.readable(conn.credentials_encrypted):
        return str(Undecryptable(CREDENTIALS))
    return None


def replace_key(
    conn: Connection, vault: Vault, key: ApiKey, summary: CheckSummary
) -> None:
    """A new key for the same account; another account's data needs its own."""
    if conn.account_id and summary.account_id != conn.account_id:
        raise ValueError(
            f"This key belongs to {summary.account_name or summary.account_id}, not "
            f"to {conn.account_name or conn.account_id}: connect it as a new "
            "connection, so the two accounts' data stay apart."
        )
    conn.key_encrypted = vault.encrypt(key.reveal())
    conn.key_hint = key.masked
    apply_check(conn, summary)


def apply_check(conn: Connection, summary: CheckSummary) -> None:
    conn.account_name = summary.account_name
    conn.account_id = summary.account_id
    conn.checks = summary.tables
    conn.metrics = summary.metrics
    conn.detected_metric_id = (
        summary.detected_metric["id"] if summary.detected_metric else None
    )


def apply_settings(conn: Connection, settings: SyncSettings, vault: Vault) -> None:
    conn.sync_period = settings.sync_period
    conn.sync_cron = settings.sync_cron if settings.sync_period == "cron" else None
    conn.sync_seconds = (
        settings.sync_seconds if settings.sync_period == "seconds" else None
    )
    conn.lookback_days = settings.lookback_days
    if settings.destination != conn.destination or settings.destination_credentials:
        conn.credentials_encrypted = (
            vault.encrypt(settings.destination_credentials)
            if settings.destination_credentials
            else None
        )
    conn.destination = settings.destination
    conn.dataset = settings.dataset or conn.dataset
    conn.conversion_metric_id = settings.conversion_metric_id


def current_settings(conn: Connection) -> SyncSettings:
    """The stored settings (credentials left out: they are never read back)."""
    return SyncSettings(
        sync_period=conn.sync_period,  # type: ignore[arg-type]
        sync_cron=conn.sync_cron,
        sync_seconds=conn.sync_seconds,
        lookback_days=conn.lookback_days,
        destination=conn.destination,
        dataset=conn.dataset,
        conversion_metric_id=conn.conversion_metric_id,
    )


def _same_name(name: str) -> str:
    return " ".join(name.split()).casefold()


def named(session: Session, name: str, other_than: int | None = None) -> str | None:
    """The name of another connection called `name` (case and spaces aside)."""
    for conn in all_connections(session):
        if conn.id != other_than and _same_name(conn.name) == _same_name(name):
            return conn.name
    return None


def all_connections(session: Session) -> list[Connection]:
    return list(session.scalars(select(Connection).order_by(Connection.name)).all())


def recent_runs(session: Session, connection_id: int, limit: int = 20) -> list[Run]:
    query = (
        select(Run)
        .where(Run.connection_id == connection_id)
        .order_by(desc(Run.id))
        .limit(limit)
    )
    return list(session.scalars(query).all())


def health(conn: Connection, runs: list[Run]) -> str:
    """healthy, failing, paused or never run, from the latest finished run."""
    finished = [r for r in runs if r.status in FINISHED]
    if not finished:
        return "never run"
    if finished[0].status in ("failed", "partial"):
        return "failing"
    if not conn.auto_sync:
        return "paused"
    return "healthy"


def metric_label(conn: Connection) -> dict[str, Any] | None:
    """The conversion metric the next run will use, with its name when known."""
    metric_id = conn.conversion_metric_id or conn.detected_metric_id
    if not metric_id:
        return None
    known = {m["id"]: m for m in conn.metrics or []}
    return known.get(metric_id, {"id": metric_id, "name": None, "integration": None})

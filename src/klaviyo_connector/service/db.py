"""The embedded SQLite store: connections, settings, run history, sign-in links."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC (SQLite has no zones) and hands back aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


class Connection(Base):
    """One Klaviyo account and where and how often it is copied."""

    __tablename__ = "connection"
    # Ids are never reused, so nothing keyed by a deleted connection's id (its
    # runs, a cached warehouse read) can be mistaken for a new connection's.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    key_encrypted: Mapped[str] = mapped_column(Text)
    key_hint: Mapped[str] = mapped_column(String(16))
    account_name: Mapped[str | None] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(String(64))
    checks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    detected_metric_id: Mapped[str | None] = mapped_column(String(64))
    conversion_metric_id: Mapped[str | None] = mapped_column(String(64))
    tables: Mapped[list[str]] = mapped_column(JSON, default=list)
    sync_period: Mapped[str] = mapped_column(String(16), default="24h")
    sync_cron: Mapped[str | None] = mapped_column(String(120))
    sync_seconds: Mapped[int | None] = mapped_column(Integer)
    lookback_days: Mapped[int] = mapped_column(Integer, default=14)
    destination: Mapped[str] = mapped_column(String(40), default="duckdb")
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    dataset: Mapped[str] = mapped_column(String(120))
    auto_sync: Mapped[bool] = mapped_column(Boolean, default=False)
    # When auto-sync was last switched on: the schedule counts from here until
    # a scheduled run has happened, so a restart does not start it over.
    auto_sync_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    setup_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )


class Run(Base):
    """One sync of one connection, from queued to its outcome."""

    __tablename__ = "run"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("connection.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    window_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Tables the run read from the beginning: no earlier sync had finished them.
    full_history_tables: Mapped[list[str] | None] = mapped_column(JSON)
    tables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    fix: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RetiredSlug(Base):
    """The name of a deleted connection's files, dataset and pipeline.

    Its warehouse data is kept (deleting a connection never drops data), so a
    new connection must not take the name and resume the old one's cursors.
    """

    __tablename__ = "retired_slug"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BrowserSession(Base):
    """A signed-in browser; the cookie only names it, so signing out ends it."""

    __tablename__ = "browser_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignInLink(Base):
    """A one-time sign-in token, stored as a hash."""

    __tablename__ = "signin_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the pages read while a run's progress is being written.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _owner_only(path: Path) -> None:
    """Creates the database file 0600 before SQLite opens it.

    SQLite gives its -wal and -shm files the mode of the database file, so they
    are owner-only too; files left by an older version are tightened here.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        if (path.parent / name).exists():
            os.chmod(path.parent / name, 0o600)


def _add_new_columns(engine: Engine) -> None:
    """Adds columns newer than a store's tables; every added column is nullable."""
    inspector = inspect(engine)
    with engine.begin() as db:
        for table in Base.metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(engine.dialect)
                db.execute(
                    text(
                        f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
                    )
                )


class Database:
    """Engine and sessions over the SQLite file in the data folder."""

    def __init__(self, path: Path) -> None:
        _owner_only(path)
        self.engine: Engine = create_engine(
            f"sqlite:///{path}", connect_args={"check_same_thread": False}
        )
        event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        _add_new_columns(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

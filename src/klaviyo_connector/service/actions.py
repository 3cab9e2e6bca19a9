"""What a user can do to connections; the pages and the API both call these."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from klaviyo_connector.errors import ConfigError
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.sync.windows import recovery_range

from . import connections as store
from .db import Connection, utcnow
from .engine import CheckFailed, CheckSummary, check_key
from .options import NAME_MAX_LENGTH, SyncSettings, clean_tables
from .warehouse import destination_problem
from .web import Service


class ActionError(Exception):
    """A request that cannot be carried out; the message is shown as is."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.message = message
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class Queued:
    run_id: int
    behind_running: bool


def _connection(service: Service, connection_id: int) -> Connection:
    with service.db.session() as s:
        conn = s.get(Connection, connection_id)
        if conn is None:
            raise ActionError("No such connection.", 404)
        return conn


def check(service: Service, api_key: str) -> CheckSummary:
    """Validates a key with Klaviyo; raises CheckFailed with a plain message."""
    return check_key(ApiKey(api_key), service.settings.klaviyo_base_url)


def check_name(service: Service, name: str, connection_id: int | None = None) -> str:
    """The name trimmed; refuses an empty or overlong name, or one another
    connection has: two cards called the same cannot be told apart (a form
    posted twice would make them)."""
    name = name.strip()
    if not name:
        raise ActionError("Give the connection a name.")
    if len(name) > NAME_MAX_LENGTH:
        raise ActionError(
            f"The name is {len(name):,} characters long: keep it to "
            f"{NAME_MAX_LENGTH} characters."
        )
    with service.db.session() as s:
        taken = store.named(s, name, other_than=connection_id)
    if taken is not None:
        raise ActionError(
            f'A connection called "{taken}" already exists: open it from the '
            "dashboard, or give this one another name.",
            409,
        )
    return name


def create(service: Service, name: str, api_key: str, summary: CheckSummary) -> int:
    name = check_name(service, name)
    with service.db.session() as s:
        conn = store.create(
            s,
            service.vault,
            name,
            ApiKey(api_key),
            summary,
            service.settings.has_files_of,
        )
        return conn.id


def replace_key(service: Service, connection_id: int, api_key: str) -> None:
    """Checks a new key with Klaviyo and stores it in place of the old one."""
    try:
        summary = check(service, api_key)
    except CheckFailed as exc:
        raise ActionError(exc.message) from None
    with service.db.session() as s:
        conn = s.get(Connection, connection_id)
        if conn is None:
            raise ActionError("No such connection.", 404)
        try:
            store.replace_key(conn, service.vault, ApiKey(api_key), summary)
        except ValueError as exc:
            raise ActionError(str(exc)) from None


def check_tables(tables: list[str]) -> list[str]:
    """Known tables in their canonical order; raises on unknown or none."""
    try:
        return clean_tables(tables)
    except ValueError as exc:
        raise ActionError(f"Tables: {exc}.") from None


def save_tables(service: Service, connection_id: int, tables: list[str]) -> None:
    chosen = check_tables(tables)
    with service.db.session() as s:
        conn = s.get(Connection, connection_id)
        if conn is None:
            raise ActionError("No such connection.", 404)
        conn.tables = chosen


def save_settings(
    service: Service,
    connection_id: int,
    settings: SyncSettings,
    *,
    finish: bool = False,
    name: str | None = None,
) -> None:
    """Stores the settings (credentials encrypted) and reschedules auto-sync;
    a new destination is stored only once it answers."""
    if settings.sync_period == "seconds" and not service.settings.allow_seconds_period:
        raise ActionError("The 'every N seconds' period is not enabled on this server.")
    if name is not None:
        name = check_name(service, name, connection_id)
    _check_destination(_connection(service, connection_id), settings)
    with service.db.session() as s:
        conn = s.get(Connection, connection_id)
        if conn is None:
            raise ActionError("No such connection.", 404)
        store.apply_settings(conn, settings, service.vault)
        if name is not None:
            conn.name = name
        if finish:
            conn.setup_complete = True
    service.autosync.refresh(connection_id)


def _check_destination(conn: Connection, settings: SyncSettings) -> None:
    """A destination other than DuckDB (a file the sync creates) is opened
    when it or its credentials change, so a typo fails here, not on the first
    run. Settings that leave them alone are saved without asking it."""
    changed = settings.destination != conn.destination
    if settings.destination == "duckdb" or not (
        changed or settings.destination_credentials
    ):
        return
    problem = destination_problem(
        settings.destination,
        settings.destination_credentials,
        settings.dataset or conn.dataset,
    )
    if problem:
        raise ActionError(f"{problem} Nothing was saved.")


def set_auto_sync(service: Service, connection_id: int, enabled: bool) -> None:
    with service.db.session() as s:
        conn = s.get(Connection, connection_id)
        if conn is None:
            raise ActionError("No such connection.", 404)
        if enabled and not conn.setup_complete:
            raise ActionError("Finish the setup before switching auto-sync on.", 409)
        if enabled and not conn.auto_sync:
            conn.auto_sync_since = utcnow()
        conn.auto_sync = enabled
    service.autosync.refresh(connection_id)


def _ready(service: Service, connection_id: int) -> None:
    if not _connection(service, connection_id).setup_complete:
        raise ActionError("Finish the setup before syncing.", 409)


def sync_now(service: Service, connection_id: int) -> Queued:
    _ready(service, connection_id)
    busy = service.queue.is_busy(connection_id)
    return Queued(service.queue.submit(connection_id, "manual"), busy)


def historical(
    service: Service, connection_id: int, start: dt.date, end: dt.date
) -> Queued:
    """Queues a recovery of [start, end] (whole UTC days, both included)."""
    _ready(service, connection_id)
    try:
        # The same check as the command line's backfill; the fix is left out:
        # its message is the one sentence the form and the API show.
        begin, finish = recovery_range(start, end, dt.datetime.now(dt.UTC))
    except ConfigError as exc:
        raise ActionError(exc.message) from None
    busy = service.queue.is_busy(connection_id)
    run_id = service.queue.submit(connection_id, "historical", begin, finish)
    return Queued(run_id, busy)


def delete(
    service: Service, connection_id: int, *, never_ran: bool = False
) -> Connection:
    """Forgets the connection and its runs; returns it to say where its data is.

    `never_ran` frees the name again: a connection undone while being created
    wrote nothing a later one could resume.
    """
    conn = _connection(service, connection_id)
    if service.queue.is_busy(connection_id):
        raise ActionError(
            "A sync of this connection is queued or running; "
            "delete it once the sync has finished.",
            409,
        )
    with service.db.session() as s:
        stored = s.get(Connection, connection_id)
        if stored is not None and never_ran:
            s.delete(stored)
        elif stored is not None:
            store.retire(s, stored)
    service.autosync.refresh(connection_id)
    return conn

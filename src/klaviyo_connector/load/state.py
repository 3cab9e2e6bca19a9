"""Incremental cursors, kept in the warehouse beside the data they describe.

Each commit appends one row to `_klaviyo_sync_state` in the same dlt load as
the rows it covers. A row counts only once its load is recorded as complete in
dlt's `_dlt_loads`, so a load that dies half way leaves the previous cursor in
force and the next sync simply reads those records again.

Every row also names the Klaviyo account the run read: a dataset holds one
account, and a sync of another one is refused before it reads anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import orjson

from klaviyo_connector.reports.base import TEXT, TIMESTAMP, Column, parse_timestamp

STATE_TABLE = "_klaviyo_sync_state"

STATE_COLUMNS = (
    Column("table_name", TEXT, False),
    Column("cursor_at", TIMESTAMP, doc="highest updated value fully loaded"),
    Column("resume_after", TIMESTAMP, doc="progress of an unfinished sync"),
    Column(
        "resume_ranges",
        TEXT,
        doc="an unfinished sync read in several ranges: what each has left",
    ),
    Column("run_started_at", TIMESTAMP),
    Column("committed_at", TIMESTAMP, False),
    Column("account_id", TEXT, doc="the Klaviyo account the run read"),
    Column("account_name", TEXT),
)
# Columns a state table written by an earlier version may lack.
NEWER_COLUMNS = ("resume_ranges", "account_id", "account_name")
# The table name of a row about the dataset as a whole, not one table: it
# records the account before a run commits any cursor (a backfill commits none).
DATASET_ROW = "*"
_LONG_AGO = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Account:
    """A Klaviyo account; a dataset holds the records of exactly one."""

    id: str
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id


@dataclass(frozen=True)
class CursorState:
    """Where one table's incremental reads stand."""

    table: str
    cursor: dt.datetime | None = None
    # Set while a chunked sync is under way: the next sync continues from here.
    resume_after: dt.datetime | None = None
    # Set instead when the sync read several `updated` ranges at once: the
    # [lower, upper) ranges still to read (upper None: up to the present).
    ranges: tuple[Range, ...] | None = None
    # When the row in force was committed, by the clock of the run that
    # committed it (the newest row wins; see `Warehouse`).
    committed_at: dt.datetime | None = field(default=None, compare=False)


Range = tuple[dt.datetime | None, dt.datetime | None]


def ranges_text(ranges: tuple[Range, ...] | None) -> str | None:
    """The ranges as JSON text: [["2026-01-01T00:00:00Z", null], ...]."""
    if ranges is None:
        return None
    encoded = [
        [None if bound is None else _iso(bound) for bound in each] for each in ranges
    ]
    return orjson.dumps(encoded).decode()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_ranges(text: Any) -> tuple[Range, ...] | None:
    """Ranges from their JSON text; None when absent or unreadable (the sync
    then falls back on `resume_after`, which never skips anything)."""
    if not text:
        return None
    try:
        decoded = orjson.loads(text)
        ranges = tuple(
            (parse_timestamp(lower), parse_timestamp(upper)) for lower, upper in decoded
        )
    except (TypeError, ValueError):
        return None
    return ranges


def state_row(
    state: CursorState,
    run_started_at: dt.datetime,
    committed_at: dt.datetime | None = None,
    account: Account | None = None,
) -> dict[str, Any]:
    return {
        "table_name": state.table,
        "cursor_at": state.cursor,
        "resume_after": state.resume_after,
        "resume_ranges": ranges_text(state.ranges),
        "run_started_at": run_started_at,
        "committed_at": committed_at or dt.datetime.now(dt.UTC),
        "account_id": account.id if account else None,
        "account_name": account.name if account else None,
    }


def latest_states(rows: list[tuple[Any, ...]]) -> dict[str, CursorState]:
    """The newest committed state per table from (table, cursor, resume,
    committed_at[, resume_ranges, ...]) tuples, in any order."""
    newest: dict[str, tuple[dt.datetime, CursorState]] = {}
    for table, cursor, resume, committed, *ranges in rows:
        if table == DATASET_ROW:
            continue
        at = parse_timestamp(committed) or _LONG_AGO
        if table not in newest or at >= newest[table][0]:
            state = CursorState(
                table,
                parse_timestamp(cursor),
                parse_timestamp(resume),
                parse_ranges(ranges[0]) if ranges else None,
                at,
            )
            newest[table] = (at, state)
    return {table: state for table, (_, state) in newest.items()}


def held_account(rows: list[tuple[Any, ...]]) -> Account | None:
    """The account of the newest committed row that names one, from the rows
    `state_query` selects; None when no row does (a new dataset, or one
    written before accounts were recorded)."""
    newest: tuple[dt.datetime, Account] | None = None
    for _, _, _, committed, _, account_id, account_name in rows:
        at = parse_timestamp(committed) or _LONG_AGO
        if account_id and (newest is None or at >= newest[0]):
            newest = (at, Account(str(account_id), account_name or None))
    return newest[1] if newest else None


def state_query(qualify: Any, columns: Collection[str]) -> str:
    """The committed states. `columns` are those the state table has: one an
    earlier version did not write yet reads as NULL."""
    state, loads = qualify(STATE_TABLE), qualify("_dlt_loads")
    newer = ", ".join(
        f"s.{name}" if name in columns else f"NULL AS {name}" for name in NEWER_COLUMNS
    )
    return (
        f"SELECT s.table_name, s.cursor_at, s.resume_after, s.committed_at, {newer} "
        f"FROM {state} s JOIN {loads} l ON l.load_id = s._dlt_load_id "
        f"WHERE l.status = 0"
    )

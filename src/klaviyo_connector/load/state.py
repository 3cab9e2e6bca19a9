"""Incremental cursors, kept in the warehouse beside the data they describe.

Each commit appends one row to `_klaviyo_sync_state` in the same dlt load as
the rows it covers. A row counts only once its load is recorded as complete in
dlt's `_dlt_loads`, so a load that dies half way leaves the previous cursor in
force and the next sync simply reads those records again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from klaviyo_connector.reports.base import TEXT, TIMESTAMP, Column, parse_timestamp

STATE_TABLE = "_klaviyo_sync_state"

STATE_COLUMNS = (
    Column("table_name", TEXT, False),
    Column("cursor_at", TIMESTAMP, doc="highest updated value fully loaded"),
    Column("resume_after", TIMESTAMP, doc="progress of an unfinished sync"),
    Column("run_started_at", TIMESTAMP),
    Column("committed_at", TIMESTAMP, False),
)


@dataclass(frozen=True)
class CursorState:
    """Where one table's incremental reads stand."""

    table: str
    cursor: dt.datetime | None = None
    # Set while a chunked sync is under way: the next sync continues from here.
    resume_after: dt.datetime | None = None


def state_row(state: CursorState, run_started_at: dt.datetime) -> dict[str, Any]:
    return {
        "table_name": state.table,
        "cursor_at": state.cursor,
        "resume_after": state.resume_after,
        "run_started_at": run_started_at,
        "committed_at": dt.datetime.now(dt.UTC),
    }


def latest_states(rows: list[tuple[Any, ...]]) -> dict[str, CursorState]:
    """The newest committed state per table from (table, cursor, resume,
    committed_at) tuples, in any order."""
    newest: dict[str, tuple[dt.datetime, CursorState]] = {}
    for table, cursor, resume, committed in rows:
        at = parse_timestamp(committed) or dt.datetime.min.replace(tzinfo=dt.UTC)
        if table not in newest or at >= newest[table][0]:
            state = CursorState(table, parse_timestamp(cursor), parse_timestamp(resume))
            newest[table] = (at, state)
    return {table: state for table, (_, state) in newest.items()}


def state_query(qualify: Any) -> str:
    state, loads = qualify(STATE_TABLE), qualify("_dlt_loads")
    return (
        f"SELECT s.table_name, s.cursor_at, s.resume_after, s.committed_at "
        f"FROM {state} s JOIN {loads} l ON l.load_id = s._dlt_load_id "
        f"WHERE l.status = 0"
    )

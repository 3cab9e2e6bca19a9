"""What a run read, in the run history's words: the lookback window, the whole
history of tables that had no cursor yet, or the days a recovery covers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import desc, select
from sqlalchemy.orm import Session

from .db import Run

STATS = "campaign_performance_stats"
INCREMENTAL = ("manual", "scheduled")


def when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _stats_history_days() -> int:
    from klaviyo_connector.config import SyncConfig

    return int(SyncConfig.model_fields["stats_history_days"].default)


def recovery_days(run: Run) -> tuple[dt.date | None, dt.date | None]:
    """The days a recovery covers; its stored end is the next midnight or now."""
    start = run.window_start.date() if run.window_start else None
    end = run.window_end
    if end is None:
        return start, None
    if end.time() == dt.time():
        return start, (end - dt.timedelta(days=1)).date()
    return start, end.date()


def _has_cursor(table: str, done: dict[str, Any]) -> bool:
    # The engine keeps a table's cursor only once a sync finished it; a table
    # that loaded no rows has no newest `updated` to keep, except the stats,
    # whose cursor is the sync's start.
    finished = bool(done.get("done")) and not done.get("error")
    return finished and (table == STATS or bool(done.get("rows")))


def tables_without_cursor(
    session: Session, connection_id: int, tables: Sequence[str], before: int
) -> list[str]:
    """The tables no earlier sync of the connection finished: the engine reads
    their whole history (the stats: the last `stats_history_days`)."""
    left = list(tables)
    earlier = (
        select(Run.tables)
        .where(
            Run.connection_id == connection_id,
            Run.kind.in_(INCREMENTAL),
            Run.id < before,
        )
        .order_by(desc(Run.id))
        .execution_options(yield_per=50)
    )
    for recorded in session.scalars(earlier):
        left = [t for t in left if not _has_cursor(t, (recorded or {}).get(t, {}))]
        if not left:
            break
    return left


def window_label(run: Run) -> list[str]:
    """The run's window, line by line, as the run history shows it."""
    if run.kind == "historical":
        start, end = recovery_days(run)
        return [str(start or "—"), f"→ {end or '—'} (UTC)"]
    if run.window_end is None:
        return ["—"]
    fresh = list(run.full_history_tables or [])
    whole = [t for t in fresh if t != STATS]
    first = when(run.window_start) if run.window_start else "full history"
    lines = [first, f"→ {when(run.window_end)}"]
    if run.window_start and whole:
        lines.append(f"full history: {', '.join(whole)}")
    if STATS in fresh:
        lines.append(f"campaign stats: last {_stats_history_days()} days")
    return lines

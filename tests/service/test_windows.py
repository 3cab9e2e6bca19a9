"""What the run history says a run read: full history, lookback, recovery days."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from klaviyo_connector.service.db import Connection, Database, Run
from klaviyo_connector.service.windows import tables_without_cursor, window_label

STATS = "campaign_performance_stats"
TABLES = ("list", "segment", "profile", STATS)


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path) -> Database:
    database = Database(tmp_path / "connector.db")
    with database.session() as s:
        s.add(
            Connection(slug="a", name="a", key_encrypted="", key_hint="", dataset="a")
        )
    return database


def _earlier(db: Database, kind: str, tables: dict[str, Any]) -> int:
    with db.session() as s:
        run = Run(connection_id=1, kind=kind, status="succeeded", tables=tables)
        s.add(run)
        s.flush()
        return run.id


def _fresh(db: Database) -> list[str]:
    with db.session() as s:
        return tables_without_cursor(s, 1, TABLES, before=10_000)


def test_a_first_sync_reads_every_table_from_the_beginning(db):
    assert _fresh(db) == list(TABLES)


def test_only_tables_an_earlier_sync_finished_with_rows_have_a_cursor(db):
    done = {"done": True, "error": None}
    _earlier(db, "historical", {"segment": done | {"rows": 9}})
    _earlier(
        db,
        "manual",
        {
            "list": done | {"rows": 14},
            "profile": {"done": True, "rows": 40, "error": "Klaviyo answered 500."},
            # No rows, no newest `updated` to keep: read from the beginning again.
            "segment": done | {"rows": 0},
            STATS: done | {"rows": 0},
        },
    )
    assert _fresh(db) == ["segment", "profile"]
    _earlier(db, "scheduled", {"profile": {"done": True, "rows": 300}})
    assert _fresh(db) == ["segment"]


def _run(kind: str, start: str | None, end: str | None, **kw: Any) -> Run:
    return Run(
        kind=kind,
        window_start=start and _utc(start),
        window_end=end and _utc(end),
        **kw,
    )


def test_a_recovery_shows_the_days_chosen_both_included():
    to_midnight = _run("historical", "2021-01-01T00:00", "2026-12-04T00:00")
    assert window_label(to_midnight) == ["2021-01-01", "→ 2026-12-03 (UTC)"]
    # A recovery up to today ends now, in the middle of the day.
    to_now = _run("historical", "2026-07-01T00:00", "2026-07-15T10:30")
    assert window_label(to_now) == ["2026-07-01", "→ 2026-07-15 (UTC)"]


def test_a_sync_shows_what_it_read_from_the_beginning():
    end = "2026-07-15T10:30"
    first = _run("manual", None, end, full_history_tables=["list", STATS])
    assert window_label(first) == [
        "full history",
        "→ 2026-07-15 10:30 UTC",
        "campaign stats: last 730 days",
    ]
    added = _run("scheduled", "2026-07-01T10:30", end, full_history_tables=["segment"])
    assert window_label(added) == [
        "2026-07-01 10:30 UTC",
        "→ 2026-07-15 10:30 UTC",
        "full history: segment",
    ]
    later = _run("manual", "2026-07-01T10:30", end, full_history_tables=[])
    assert window_label(later) == ["2026-07-01 10:30 UTC", "→ 2026-07-15 10:30 UTC"]
    assert window_label(_run("manual", None, None)) == ["—"]

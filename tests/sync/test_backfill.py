"""A historical recovery after incremental syncs: it fills its range and
leaves every stored cursor where it was."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import engine_config
from tests.sync.report_truth import assert_row_is_the_report, reported
from tests.sync.support import (
    STATS_KEY,
    Warehouse,
    assert_matches_ground_truth,
    by_key,
    read_table,
    ts,
)

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunKind, RunRequest, RunStatus

pytestmark = pytest.mark.slow

DAY = dt.timedelta(days=1)
DIMENSIONS = ("campaign", "list", "segment", "profile")


def _cursors(cfg: SyncConfig) -> list[dict[str, Any]]:
    with warehouse_reader(cfg) as reader:
        rows = reader.query(f"SELECT * FROM {reader.table('_klaviyo_sync_state')}")
    keys = ("table_name", "committed_at")
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))


def _load_ids(cfg: SyncConfig, table: str) -> dict[str, str]:
    return {r["id"]: r["_dlt_load_id"] for r in read_table(cfg, table)}


def _placed_order(running: RunningSandbox) -> str:
    return next(
        str(m["id"])
        for m in running.sandbox.ground_truth("metric")
        if m["attributes"]["name"] == "Placed Order"
        and (m["attributes"].get("integration") or {}).get("key") == "shopify"
    )


def _updated_in(
    running: RunningSandbox, start: dt.datetime, end: dt.datetime
) -> set[str]:
    return {
        p["id"]
        for p in running.sandbox.ground_truth("profile")
        if start <= ts(p["attributes"]["updated"]) < end  # type: ignore[operator]
    }


def test_a_backfill_after_a_sync_fills_its_range_and_keeps_every_cursor(
    running_sandbox: RunningSandbox, tmp_path: Path, warehouse: Warehouse
) -> None:
    # The first sync reads 30 days of stats history, so older stats are missing.
    cfg = engine_config(running_sandbox, tmp_path, stats_history_days=30, **warehouse)
    assert run_sync(cfg, RunRequest()).status == RunStatus.SUCCEEDED
    cursors = _cursors(cfg)
    stats_before = by_key(read_table(cfg, "campaign_performance_stats"), STATS_KEY)
    loads_before = _load_ids(cfg, "profile")
    now = dt.datetime.now(dt.UTC)
    start, end = now - 700 * DAY, now - 200 * DAY

    recovery = RunRequest(kind=RunKind.HISTORICAL, start=start, end=end)
    result = run_sync(cfg, recovery)

    assert result.status == RunStatus.SUCCEEDED, result.tables
    assert {c["table_name"] for c in cursors} == {
        *DIMENSIONS,
        "campaign_performance_stats",
    }
    assert _cursors(cfg) == cursors
    in_range = reported(running_sandbox, _placed_order(running_sandbox), start, end)
    assert in_range
    assert not set(in_range) & set(stats_before)
    stats = by_key(read_table(cfg, "campaign_performance_stats"), STATS_KEY)
    assert set(stats) == set(stats_before) | set(in_range)
    for key, report in in_range.items():  # sent long ago: settled numbers
        assert_row_is_the_report(stats[key], report)
    for key, row in stats_before.items():
        assert stats[key] == row
    loads = _load_ids(cfg, "profile")
    reread = {i for i, load in loads.items() if loads_before[i] != load}
    assert reread == _updated_in(running_sandbox, start, end) != set()
    for table in DIMENSIONS:
        assert_matches_ground_truth(cfg, running_sandbox.sandbox, table)

    # The next incremental sync carries on from the untouched cursors.
    after = run_sync(cfg, RunRequest(lookback_days=0))
    assert after.status == RunStatus.SUCCEEDED
    assert after.tables["profile"].rows <= 3

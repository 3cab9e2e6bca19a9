"""End-to-end syncs against a served sandbox, checked record by record."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from pathlib import Path

import pytest
from tests.conftest import StartSandbox, engine_config
from tests.sync.report_truth import (
    assert_stats_are_the_report,
    reported,
    settled_before,
)
from tests.sync.support import (
    COUNTS,
    STATS_KEY,
    Warehouse,
    assert_matches_ground_truth,
    by_key,
    comparable,
    read_table,
)

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.load.state import DATASET_ROW, STATE_TABLE
from klaviyo_connector.sandbox import RunningSandbox, serve_in_thread
from klaviyo_connector.sync.check import KEY_REJECTED
from klaviyo_connector.sync.engine import INTERRUPTED, run_sync
from klaviyo_connector.sync.models import (
    TABLES,
    Progress,
    RunKind,
    RunRequest,
    RunStatus,
)

pytestmark = pytest.mark.slow

DIMENSIONS = ("campaign", "list", "segment", "profile")
SHOPIFY_PLACED_ORDER = "2mHvgp"  # the sandbox's store metric for seed 42
DAY = dt.timedelta(days=1)


def _metric_id(running: RunningSandbox) -> str:
    candidates = [
        m
        for m in running.sandbox.ground_truth("metric")
        if m["attributes"]["name"] == "Placed Order"
        and (m["attributes"].get("integration") or {}).get("key") == "shopify"
    ]
    return str(candidates[0]["id"])


def _sent(cfg: SyncConfig) -> dict[str, dt.datetime]:
    return {r["id"]: r["send_time"] for r in read_table(cfg, "campaign")}


def test_first_sync_equals_the_ground_truth(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    sandbox, metric = running_sandbox.sandbox, _metric_id(running_sandbox)
    before = dt.datetime.now(dt.UTC)
    # A first sync reads the stats history, not only the lookback window.
    history = SyncConfig.model_fields["stats_history_days"].default * DAY
    settled = settled_before(running_sandbox)
    report_before = reported(running_sandbox, metric, before - history, before)
    events: list[Progress] = []
    result = run_sync(e2e_config, RunRequest(), events.append)

    assert result.status == RunStatus.SUCCEEDED, result.tables
    for table in DIMENSIONS:
        assert_matches_ground_truth(e2e_config, sandbox, table)
    started = result.started_at
    report_after = reported(running_sandbox, metric, started - history, started)
    stats = by_key(read_table(e2e_config, "campaign_performance_stats"), STATS_KEY)
    sent = _sent(e2e_config)
    assert any(sent[k[0]] < started - 14 * DAY for k in stats), "history was read"
    assert_stats_are_the_report(stats, report_before, report_after, sent, settled)
    assert {row["conversion_metric_id"] for row in stats.values()} == {metric}
    assert result.tables["profile"].rows == 300
    assert all(result.tables[t].requests > 0 for t in TABLES)
    assert {e.table for e in events if e.done} == set(TABLES)


def _snapshot(cfg: SyncConfig) -> dict[str, dict]:
    """Every table row by row, without the lineage of the load that wrote it."""
    out = {}
    for table in DIMENSIONS:
        out[table] = {
            k: comparable(r) for k, r in by_key(read_table(cfg, table)).items()
        }
    return out


def test_a_second_run_changes_nothing(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    first = run_sync(e2e_config, RunRequest())
    snapshot = _snapshot(e2e_config)
    stats = by_key(read_table(e2e_config, "campaign_performance_stats"), STATS_KEY)
    second = run_sync(e2e_config, RunRequest())

    assert first.status == second.status == RunStatus.SUCCEEDED
    assert _snapshot(e2e_config) == snapshot
    again = by_key(read_table(e2e_config, "campaign_performance_stats"), STATS_KEY)
    assert set(again) == set(stats)
    # Stats outside the lookback window are not touched; inside it they are
    # re-read, and engagement only grows.
    reread_from = first.started_at - 14 * DAY
    sent = _sent(e2e_config)
    for key, row in again.items():
        if sent[key[0]] < reread_from - DAY:
            assert row == stats[key], key
        else:
            assert all(row[c] >= stats[key][c] for c in COUNTS), key
    # Only the lookback window is read again, not the whole account.
    assert second.tables["profile"].rows < first.tables["profile"].rows


def _load_ids(cfg: SyncConfig, table: str) -> dict[str, str]:
    return {r["id"]: r["_dlt_load_id"] for r in read_table(cfg, table)}


def test_an_incremental_run_picks_up_exactly_the_changes(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    sandbox = running_sandbox.sandbox
    request = RunRequest(lookback_days=0)
    assert run_sync(e2e_config, request).status == RunStatus.SUCCEEDED
    first_loads = {t: _load_ids(e2e_config, t) for t in DIMENSIONS}
    changes = sandbox.mutate(share=0.05)
    changed_profiles = set(changes.updated.get("profile", [])) | set(
        changes.created.get("profile", [])
    )
    assert changed_profiles

    result = run_sync(e2e_config, request)
    assert result.status == RunStatus.SUCCEEDED
    for table in DIMENSIONS:
        assert_matches_ground_truth(e2e_config, sandbox, table)
    now_loads = _load_ids(e2e_config, "profile")
    reread = {
        i for i, load in now_loads.items() if first_loads["profile"].get(i) != load
    }
    assert changed_profiles <= reread
    # Besides the changes, only the boundary second of the cursor is re-read.
    assert len(reread - changed_profiles) <= 3
    assert result.tables["profile"].rows == len(reread)


def test_lookback_rereads_stats_of_recent_campaigns_only(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    year = run_sync(e2e_config, RunRequest(lookback_days=365))
    assert year.status == RunStatus.SUCCEEDED
    first = by_key(read_table(e2e_config, "campaign_performance_stats"), STATS_KEY)
    sent = {r["id"]: r["send_time"] for r in read_table(e2e_config, "campaign")}
    week = run_sync(e2e_config, RunRequest(lookback_days=14))
    assert week.status == RunStatus.SUCCEEDED
    second = by_key(read_table(e2e_config, "campaign_performance_stats"), STATS_KEY)

    assert set(second) == set(first)
    cutoff = week.started_at - 14 * DAY
    recent = {k for k in second if sent[k[0]] >= cutoff}
    older = set(second) - recent
    assert recent
    assert older
    for key in recent:
        assert second[key]["stats_as_of"] > first[key]["stats_as_of"]
    for key in older:
        assert second[key] == first[key]


def _state_tables(cfg: SyncConfig) -> set[str]:
    with warehouse_reader(cfg) as reader:
        rows = reader.query(f"SELECT table_name FROM {reader.table(STATE_TABLE)}")
    return {row["table_name"] for row in rows}


def test_backfill_fills_a_range_and_leaves_cursors_alone(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    sandbox, metric = running_sandbox.sandbox, _metric_id(running_sandbox)
    now = dt.datetime.now(dt.UTC)
    start, end = now - 700 * DAY, now - 20 * DAY
    request = RunRequest(kind=RunKind.HISTORICAL, start=start, end=end)
    settled = settled_before(running_sandbox)
    before = reported(running_sandbox, metric, start, end)
    result = run_sync(e2e_config, request)

    assert result.status == RunStatus.SUCCEEDED, result.tables
    # No cursor, only the row naming the account the dataset now holds.
    assert _state_tables(e2e_config) == {DATASET_ROW}
    profiles = read_table(e2e_config, "profile")
    expected = {
        p["id"]
        for p in sandbox.ground_truth("profile")
        if start <= dt.datetime.fromisoformat(p["attributes"]["updated"]) < end
    }
    assert {p["id"] for p in profiles} == expected
    after = reported(running_sandbox, metric, start, end)
    stats = by_key(read_table(e2e_config, "campaign_performance_stats"), STATS_KEY)
    assert len(stats) > 0
    assert_stats_are_the_report(stats, before, after, _sent(e2e_config), settled)

    incremental = run_sync(e2e_config, RunRequest())
    assert incremental.tables["profile"].rows == 300


def test_only_the_requested_tables_load(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    result = run_sync(e2e_config, RunRequest(tables=("campaign", "list")))
    assert set(result.tables) == {"campaign", "list"}
    with warehouse_reader(e2e_config) as reader:
        counts = reader.counts()
    assert counts["campaign"]
    assert counts["list"]
    assert counts["profile"] is None
    assert counts["segment"] is None
    assert counts["campaign_performance_stats"] is None


def test_a_key_without_segments_read_loads_the_other_four(
    start_sandbox: StartSandbox, tmp_path: Path, warehouse: Warehouse
) -> None:
    from klaviyo_connector.sandbox.config import ALL_SCOPES

    limited = "pk_" + "noseg" * 6 + "abcd"
    running = start_sandbox(scoped_keys={limited: ALL_SCOPES - {"segments:read"}})
    cfg = engine_config(running, tmp_path, api_key=ApiKey(limited), **warehouse)
    result = run_sync(cfg, RunRequest())

    assert result.status == RunStatus.PARTIAL
    segment = result.tables["segment"]
    assert "segments:read" in (segment.error or "")
    assert segment.fix == (
        "Add `segments:read` in Klaviyo > Settings > API Keys, or deselect the "
        "segment table."
    )
    for table in ("campaign", "list", "profile", "campaign_performance_stats"):
        assert result.tables[table].ok, result.tables[table]
    for table in ("campaign", "list", "profile"):
        assert_matches_ground_truth(cfg, running.sandbox, table)
    with warehouse_reader(cfg) as reader:
        assert reader.count("segment") is None
        assert reader.count("campaign_performance_stats")


def test_no_placed_order_metric_fails_only_the_stats_table(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    running = start_sandbox(no_placed_order=True)
    result = run_sync(engine_config(running, tmp_path), RunRequest())

    stats = result.tables["campaign_performance_stats"]
    assert result.status == RunStatus.PARTIAL
    assert stats.error == (
        "This Klaviyo account has no 'Placed Order' metric, so "
        "campaign_performance_stats has no conversion metric to report."
    )
    assert "conversion_metric_id" in (stats.fix or "")
    assert all(result.tables[t].ok for t in DIMENSIONS)


def test_a_rejected_key_stops_the_run_cleanly(
    running_sandbox: RunningSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "pk_" + "w" * 30 + "zzzz"
    cfg = engine_config(running_sandbox, tmp_path, api_key=ApiKey(wrong))
    caplog.set_level(logging.DEBUG)
    result = run_sync(cfg, RunRequest())

    assert result.status == RunStatus.FAILED
    assert result.error == KEY_REJECTED
    assert all(not t.ok for t in result.tables.values())
    assert wrong not in caplog.text
    assert wrong not in repr(result)


def test_profiles_commit_in_chunks_and_a_killed_run_resumes(
    running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox = running_sandbox.sandbox
    cfg = engine_config(running_sandbox, tmp_path, profile_chunk_rows=100)

    # Two pages of 100 go through, then the profile endpoint keeps failing.
    sandbox.faults.add("status", status=503, count=None, path="/api/profiles", after=2)
    broken = run_sync(cfg, RunRequest(tables=("profile",)))
    assert not broken.tables["profile"].ok
    assert "503" in (broken.tables["profile"].error or "")
    committed = broken.tables["profile"].rows
    assert committed == 200
    assert len(read_table(cfg, "profile")) == committed

    sandbox.faults.clear()
    resumed = run_sync(cfg, RunRequest(tables=("profile",)))
    assert resumed.status == RunStatus.SUCCEEDED
    assert_matches_ground_truth(cfg, sandbox, "profile")
    # It continued from the last commit instead of starting over.
    assert resumed.tables["profile"].rows <= 300 - committed + 5


def test_dlt_keeps_out_of_the_home_directory(
    running_sandbox: RunningSandbox,
    sync_config: SyncConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    result = run_sync(sync_config, RunRequest(tables=("list",)))
    assert result.status == RunStatus.SUCCEEDED
    assert list(home.iterdir()) == []
    assert (sync_config.data_dir / "pipelines").is_dir()


def test_api_quirks_still_give_the_ground_truth_and_a_sane_cursor(
    start_sandbox: StartSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from klaviyo_connector.sandbox.config import QUIRKS

    running = start_sandbox(quirks=QUIRKS)
    cfg = engine_config(running, tmp_path)
    caplog.set_level(logging.DEBUG)
    result = run_sync(cfg, RunRequest(tables=DIMENSIONS))

    assert result.status == RunStatus.SUCCEEDED, result.tables
    for table in DIMENSIONS:
        assert_matches_ground_truth(cfg, running.sandbox, table)
    with warehouse_reader(cfg) as reader:
        cursors = reader.query(
            f"SELECT table_name, cursor_at FROM {reader.table('_klaviyo_sync_state')}"
        )
    # Records dated in the future are loaded, but no cursor passes the run start.
    future = [
        row
        for table, column in (("profile", "updated"), ("campaign", "updated_at"))
        for row in read_table(cfg, table)
        if row[column] > result.started_at
    ]
    assert future
    assert cursors
    assert all(row["cursor_at"] <= result.started_at for row in cursors)
    assert running.api_key not in caplog.text


def test_cancel_stops_every_table_at_its_next_page_and_keeps_the_commits(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    running = start_sandbox(profiles=1000)
    running.sandbox.faults.add("slow", delay=0.05, count=None, path="/api/profiles")
    cfg = engine_config(running, tmp_path, profile_chunk_rows=100)
    cancel = threading.Event()

    def progress(event: Progress) -> None:
        if event.table == "profile" and event.rows >= 200:
            cancel.set()

    result = run_sync(cfg, RunRequest(), progress, cancel=cancel)

    assert result.status == RunStatus.INTERRUPTED
    assert result.error == INTERRUPTED
    profile = result.tables["profile"]
    assert profile.stopped
    assert 200 <= profile.rows < 1000
    assert len(read_table(cfg, "profile")) == profile.rows
    resumed = run_sync(cfg, RunRequest(tables=("profile",)))
    assert resumed.status == RunStatus.SUCCEEDED
    assert resumed.tables["profile"].rows <= 1000 - profile.rows + 5
    assert_matches_ground_truth(cfg, running.sandbox, "profile")


def test_a_wrong_key_creates_no_warehouse_and_counts_its_one_request(
    running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    cfg = engine_config(running_sandbox, tmp_path, api_key=ApiKey("pk_" + "w" * 34))
    result = run_sync(cfg, RunRequest())
    assert result.error == KEY_REJECTED
    assert all(t.stopped for t in result.tables.values())
    assert running_sandbox.sandbox.requests.total == 1
    assert not cfg.duckdb_path.exists()
    assert not cfg.data_dir.exists()


def _columns(cfg: SyncConfig, table: str) -> set[str]:
    sql = (
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ?"
    )
    with warehouse_reader(cfg) as reader:
        return {row["column_name"] for row in reader.query(sql, cfg.dataset, table)}


def _declared_columns(table: str) -> set[str]:
    from klaviyo_connector.reports import DIMENSIONS as REPORTS
    from klaviyo_connector.reports import STATS

    report = STATS if table == STATS.table else REPORTS[table]
    return {c.name for c in report.columns} | {"_loaded_at", "_dlt_load_id", "_dlt_id"}


def test_tables_without_rows_exist_with_every_column(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    running = start_sandbox(lists=0, segments=0)
    cfg = engine_config(running, tmp_path)
    result = run_sync(cfg, RunRequest())

    assert result.status == RunStatus.SUCCEEDED, result.tables
    with warehouse_reader(cfg) as reader:
        counts = reader.counts()
    assert counts["list"] == 0
    assert counts["segment"] == 0
    for table in ("list", "segment"):
        assert _columns(cfg, table) == _declared_columns(table)
    again = run_sync(cfg, RunRequest())
    assert again.status == RunStatus.SUCCEEDED, again.tables


def test_a_backfill_that_finds_nothing_still_creates_every_table(
    running_sandbox: RunningSandbox, sync_config: SyncConfig
) -> None:
    start = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    request = RunRequest(kind=RunKind.HISTORICAL, start=start, end=start + DAY)
    result = run_sync(sync_config, request)

    assert result.status == RunStatus.SUCCEEDED, result.tables
    with warehouse_reader(sync_config) as reader:
        assert reader.counts() == dict.fromkeys(TABLES, 0)
    for table in TABLES:
        assert _columns(sync_config, table) == _declared_columns(table)


FILTER_TIME = re.compile(r"(?:greater|less)-than\(\w+,([^)]*)\)")


def test_a_backfill_to_now_sends_no_datetime_after_the_run_start(
    tmp_path: Path,
) -> None:
    from tests.faults.support import RecordingSandbox, small

    sandbox = RecordingSandbox(small())
    with serve_in_thread(sandbox) as running:
        cfg = engine_config(running, tmp_path)
        start = dt.datetime.now(dt.UTC) - 30 * DAY
        request = RunRequest(kind=RunKind.HISTORICAL, start=start, end=start + 60 * DAY)
        result = run_sync(cfg, request)

    assert result.status == RunStatus.SUCCEEDED, result.tables
    sent = []
    for exchange in sandbox.exchanges:
        for name, value in exchange.query:
            if name == "filter":
                sent += FILTER_TIME.findall(value)
        timeframe = ((exchange.body or {}).get("data") or {}).get("attributes", {})
        sent += list((timeframe.get("timeframe") or {}).values())
    assert len(sent) >= 5
    moments = [dt.datetime.fromisoformat(text) for text in sent]
    assert max(moments) <= result.started_at


def test_a_conversion_metric_without_values_fails_only_the_stats_table(
    running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox = running_sandbox.sandbox
    opened = next(
        m
        for m in sandbox.ground_truth("metric")
        if m["attributes"]["name"] == "Opened Email"
    )
    assert not sandbox.store.metric_supports_values(opened["id"])
    cfg = engine_config(running_sandbox, tmp_path, conversion_metric_id=opened["id"])
    result = run_sync(cfg, RunRequest(tables=("list", "campaign_performance_stats")))

    assert result.status == RunStatus.PARTIAL
    assert result.tables["list"].ok
    stats = result.tables["campaign_performance_stats"]
    assert stats.error == (
        f"The conversion metric Opened Email ({opened['id']}) cannot be used for "
        "campaign_performance_stats: it has no values to report (Klaviyo: Passed "
        "in conversion metric does not support querying for values data)."
    )
    assert stats.fix == (
        "Set conversion_metric_id (--conversion-metric) to an order metric such as "
        "Placed Order, or remove it to use the account's Placed Order; "
        "`klaviyo-connector check` shows which one that is."
    )

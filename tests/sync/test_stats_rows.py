"""Which report rows and which windows the stats table takes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from tests.sync.support import STATS_KEY, by_key, read_table, stats_truth

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.load.state import CursorState
from klaviyo_connector.load.warehouse import Warehouse
from klaviyo_connector.reports import STATS
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync import stats
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

pytestmark = pytest.mark.slow

DAY = dt.timedelta(days=1)


def test_rows_without_their_keys_are_skipped_with_a_warning(
    running_sandbox: RunningSandbox,
    sync_config: SyncConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = stats.report_results

    def with_a_keyless_row(*args: Any) -> Iterator[list[dict[str, Any]]]:
        for results in real(*args):
            yield [*results, {"groupings": {"send_channel": "email"}, "statistics": {}}]

    monkeypatch.setattr(stats, "report_results", with_a_keyless_row)
    result = run_sync(sync_config, RunRequest(tables=("campaign_performance_stats",)))

    table = result.tables["campaign_performance_stats"]
    assert result.status == RunStatus.SUCCEEDED
    assert table.rows > 0
    assert any(
        re.fullmatch(
            r"1 report row was skipped: no campaign, message or channel "
            r"\(from \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d\)\.",
            w,
        )
        for w in table.warnings
    ), table.warnings


def test_a_gap_between_syncs_longer_than_the_lookback_is_still_read(
    running_sandbox: RunningSandbox, sync_config: SyncConfig
) -> None:
    """The stats window reaches back to the previous sync's start minus the
    lookback, so campaigns sent while no sync ran still get their rows."""
    only_stats = RunRequest(tables=(STATS.table,), lookback_days=14)
    assert run_sync(sync_config, only_stats).status == RunStatus.SUCCEEDED
    now = dt.datetime.now(dt.UTC)
    with Warehouse(sync_config) as warehouse:
        warehouse.load(
            stats.table_spec(STATS),
            [],
            state=CursorState(STATS.table, cursor=now - 60 * DAY),
            run_started_at=now - 60 * DAY,
        )
    with duckdb.connect(str(sync_config.duckdb_path)) as db:
        db.execute(f"DELETE FROM {sync_config.dataset}.{STATS.table}")

    result = run_sync(sync_config, only_stats)

    assert result.status == RunStatus.SUCCEEDED
    metric = str(read_table(sync_config, STATS.table)[0]["conversion_metric_id"])
    sandbox = running_sandbox.sandbox
    truth = stats_truth(sandbox, metric, now - 74 * DAY, result.started_at)
    recent = stats_truth(sandbox, metric, now - 14 * DAY, result.started_at)
    assert len(truth) > len(recent), "campaigns were sent inside the gap"
    loaded = by_key(read_table(sync_config, STATS.table), STATS_KEY)
    assert set(loaded) == set(truth)

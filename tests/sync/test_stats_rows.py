"""Report rows the stats table cannot key are skipped out loud, not silently."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync import stats
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

pytestmark = pytest.mark.slow


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
        "had no campaign, message or channel and were skipped" in w
        for w in table.warnings
    ), table.warnings

"""The stats table stores the rates Klaviyo reports, not ratios of its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.sync.report_truth import (
    assert_row_is_the_report,
    reported,
    settled_before,
)
from tests.sync.support import RATES, STATS_KEY, by_key, read_table, ts

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sandbox import values as sandbox_values
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

pytestmark = pytest.mark.slow

ORIGINAL_RATES = sandbox_values.with_rates


def _rounded_rates(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Rates rounded to four places, as a report might give them: no longer
    the exact ratio of the counts beside them."""
    stats = ORIGINAL_RATES(*args, **kwargs)
    rates = sandbox_values.RATES
    return {k: round(v, 4) if k in rates and v else v for k, v in stats.items()}


def _placed_order(running: RunningSandbox) -> str:
    metrics = running.sandbox.ground_truth("metric")
    return next(
        str(m["id"])
        for m in metrics
        if m["attributes"]["name"] == "Placed Order"
        and (m["attributes"].get("integration") or {}).get("key") == "shopify"
    )


def test_rates_are_the_reported_ones(
    running_sandbox: RunningSandbox,
    sync_config: SyncConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox_values, "with_rates", _rounded_rates)
    settled = settled_before(running_sandbox)
    result = run_sync(sync_config, RunRequest(tables=("campaign_performance_stats",)))
    assert result.status == RunStatus.SUCCEEDED, result.tables

    history = sync_config.stats_history_days * dt.timedelta(days=1)
    started = result.started_at
    report = reported(
        running_sandbox, _placed_order(running_sandbox), started - history, started
    )
    rows = by_key(read_table(sync_config, "campaign_performance_stats"), STATS_KEY)
    sent = {
        c["id"]: ts(c["attributes"]["send_time"])
        for c in running_sandbox.sandbox.ground_truth("campaign")
    }
    old = [k for k in rows if sent[k[0]] < settled]  # type: ignore[operator]
    assert old
    for key in old:
        assert_row_is_the_report(rows[key], report[key])
    differs = [
        (key, rate)
        for key in old
        for rate, (top, bottom) in RATES.items()
        if rows[key][bottom] and rows[key][rate] != rows[key][top] / rows[key][bottom]
    ]
    assert differs, "rounded rates should differ from the ratios somewhere"

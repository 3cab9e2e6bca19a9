"""What the sandbox's campaign values report answers over HTTP, and the check
that the stats table holds exactly those numbers and rates."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from tests.sync.support import COUNTS, RATES, STATS_KEY

from klaviyo_connector import KLAVIYO_REVISION
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sandbox.values import SETTLED

Key = tuple[str, str, str]
Report = dict[Key, dict[str, float]]

# The table's statistics, named independently of the connector's report module.
STATISTICS = (*COUNTS, "conversion_value", *RATES)
YEAR = dt.timedelta(days=365)


def _zone(running: RunningSandbox) -> dt.tzinfo:
    account = next(running.sandbox.ground_truth("account"))
    return ZoneInfo(account["attributes"].get("timezone") or "UTC")


def _body(metric: str, start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> dict:
    """Klaviyo reads a custom timeframe as wall-clock times in the account's
    timezone, so the bounds go as that wall clock."""
    timeframe = {
        "start": start.astimezone(zone).isoformat(timespec="seconds"),
        "end": end.astimezone(zone).isoformat(timespec="seconds"),
    }
    attributes = {
        "statistics": list(STATISTICS),
        "timeframe": timeframe,
        "conversion_metric_id": metric,
        "group_by": list(STATS_KEY),
    }
    return {"data": {"type": "campaign-values-report", "attributes": attributes}}


def _post(running: RunningSandbox, body: dict) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{running.base_url}/api/campaign-values-reports",
        json=body,
        headers={
            "Authorization": f"Klaviyo-API-Key {running.api_key}",
            "revision": KLAVIYO_REVISION,
            "Accept": "application/vnd.api+json",
        },
        timeout=30,
    )
    response.raise_for_status()
    return list(response.json()["data"]["attributes"]["results"])


def reported(
    running: RunningSandbox, metric: str, start: dt.datetime, end: dt.datetime
) -> Report:
    """The report's statistics per stats key over [start, end), asked a year
    at a time as Klaviyo requires."""
    zone, out = _zone(running), {}
    while start < end:
        upper = min(start + YEAR, end)
        for result in _post(running, _body(metric, start, upper, zone)):
            key = tuple(result["groupings"][k] for k in STATS_KEY)
            out[key] = result["statistics"]
        start = upper
    return out  # type: ignore[return-value]


def assert_row_is_the_report(row: dict[str, Any], stats: dict[str, float]) -> None:
    """Counts and rates exactly as reported; a rate over a zero denominator,
    which the report gives as 0, is NULL (unknown)."""
    for name in COUNTS:
        assert isinstance(row[name], int), name
        assert row[name] == stats[name], name
    assert row["conversion_value"] == stats["conversion_value"]
    for rate, (_, denominator) in RATES.items():
        if not stats[denominator]:
            assert row[rate] is None, rate
        else:
            assert row[rate] == stats[rate], rate


def _between(
    row: dict[str, Any], low: dict[str, float], high: dict[str, float]
) -> None:
    for name in (*COUNTS, "conversion_value"):
        if high[name] is None:  # a statistic the channel does not have
            assert row[name] is None, name
        else:
            assert (low[name] or 0) <= row[name] <= high[name], name
    for rate, (top, bottom) in RATES.items():
        if not row[bottom]:
            assert row[rate] is None, rate
        else:
            assert abs(row[rate] - row[top] / row[bottom]) < 1e-9, rate


def settled_before(running: RunningSandbox) -> dt.datetime:
    """Campaigns sent before this moment have final numbers in the sandbox."""
    margin = dt.timedelta(seconds=SETTLED, hours=1)
    return running.sandbox.store.now - margin


def assert_stats_are_the_report(
    rows: dict[Key, dict[str, Any]],
    before: Report,
    after: Report,
    sent: dict[str, dt.datetime],
    settled: dt.datetime,
) -> None:
    """Rows are the report's, key for key. Campaigns sent before `settled` no
    longer change, so they equal the report exactly; newer ones keep growing
    while the test runs, so they lie between the reports read before and
    after the sync, with rates that are ratios of the row's own counts."""
    assert set(rows) == set(after)
    exact = 0
    for key, row in rows.items():
        if sent[key[0]] < settled:
            assert before[key] == after[key], key
            assert_row_is_the_report(row, after[key])
            exact += 1
        else:
            _between(row, before.get(key, after[key]), after[key])
    assert exact, "no settled campaign to compare exactly"

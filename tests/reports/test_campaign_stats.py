"""campaign_performance_stats rows from values-report results."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from klaviyo_connector.reports import campaign_stats

AS_OF = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


def result(**stats: float) -> dict:
    return {
        "groupings": {
            "campaign_id": "C1",
            "campaign_message_id": "M1",
            "send_channel": "email",
        },
        "statistics": stats,
    }


def test_counts_are_integers_and_rates_are_klaviyos() -> None:
    row = campaign_stats.stats_row(
        result(
            recipients=100.0,
            delivered=98.0,
            opens_unique=40.0,
            open_rate=0.4082,
            conversion_value=50924.15,
            conversions=3.0,
            average_order_value=16974.7,
        ),
        "Y6Hmxn",
        AS_OF,
    )
    assert row["recipients"] == 100
    assert isinstance(row["recipients"], int)
    assert row["open_rate"] == 0.4082
    assert row["conversion_value"] == 50924.15
    assert row["average_order_value"] == 16974.7
    assert row["conversion_metric_id"] == "Y6Hmxn"
    assert row["stats_as_of"] == AS_OF
    assert (row["campaign_id"], row["campaign_message_id"], row["send_channel"]) == (
        "C1",
        "M1",
        "email",
    )


def test_a_rate_over_a_zero_denominator_is_null() -> None:
    row = campaign_stats.stats_row(
        result(
            recipients=0.0,
            delivered=0.0,
            delivery_rate=0.0,
            open_rate=0.0,
            opens_unique=0.0,
            click_to_open_rate=0.0,
            conversions=0.0,
            average_order_value=0.0,
        ),
        "M",
        AS_OF,
    )
    assert row["delivery_rate"] is None
    assert row["open_rate"] is None
    assert row["click_to_open_rate"] is None
    assert row["average_order_value"] is None
    assert row["recipients"] == 0


def test_missing_statistics_are_null_not_zero() -> None:
    row = campaign_stats.stats_row(result(), "M", AS_OF)
    assert row["opens"] is None
    assert row["open_rate"] is None


def test_timeframes_are_sent_in_the_account_timezone() -> None:
    """Klaviyo reads a custom timeframe's wall clock in the account timezone."""
    body = campaign_stats.REPORT.body(
        "Y6Hmxn",
        dt.datetime(2025, 1, 1, 5, tzinfo=dt.UTC),
        dt.datetime(2025, 7, 1, 4, tzinfo=dt.UTC),
        ZoneInfo("America/New_York"),
    )
    assert body["data"]["attributes"]["timeframe"] == {
        "start": "2025-01-01T00:00:00-05:00",
        "end": "2025-07-01T00:00:00-04:00",
    }


def test_request_body_asks_for_every_column_in_one_call() -> None:
    body = campaign_stats.REPORT.body(
        "Y6Hmxn",
        dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
    )
    attrs = body["data"]["attributes"]
    assert body["data"]["type"] == "campaign-values-report"
    assert attrs["timeframe"] == {
        "start": "2025-01-01T00:00:00+00:00",
        "end": "2025-02-01T00:00:00+00:00",
    }
    assert attrs["group_by"] == ["campaign_id", "campaign_message_id", "send_channel"]
    stat_columns = {c.name for c in campaign_stats.COLUMNS} - {
        "campaign_id",
        "campaign_message_id",
        "send_channel",
        "conversion_metric_id",
        "stats_as_of",
    }
    assert set(attrs["statistics"]) == stat_columns

"""`campaign_performance_stats`: one row per campaign message and send channel.

Read from the campaign values report, which Klaviyo limits to 1 call a second,
2 a minute and 225 a day, so one call covers every campaign of a timeframe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from klaviyo_connector.reports.base import (
    BIGINT,
    DOUBLE,
    TEXT,
    TIMESTAMP,
    Column,
    Row,
    float_or_none,
    int_or_none,
    text_or_none,
)

COUNTS = (
    "recipients",
    "delivered",
    "opens",
    "opens_unique",
    "clicks",
    "clicks_unique",
    "bounced",
    "unsubscribes",
    "unsubscribe_uniques",
    "spam_complaints",
    "conversions",
    "conversion_uniques",
)
AMOUNTS = ("conversion_value",)

# Each rate and the count it divides by: a zero denominator means the rate is
# unknown (NULL), not 0 and never NaN.
RATES: Mapping[str, str] = {
    "delivery_rate": "recipients",
    "open_rate": "delivered",
    "click_rate": "delivered",
    "click_to_open_rate": "opens_unique",
    "bounce_rate": "recipients",
    "unsubscribe_rate": "delivered",
    "spam_complaint_rate": "delivered",
    "conversion_rate": "delivered",
    "revenue_per_recipient": "delivered",
    "average_order_value": "conversions",
}

STATISTICS: tuple[str, ...] = (*COUNTS, *AMOUNTS, *RATES)
GROUP_BY = ("campaign_id", "campaign_message_id", "send_channel")
KEY = GROUP_BY

# Column order in the table: each rate right after the counts it relates to.
_ORDER = (
    "recipients",
    "delivered",
    "delivery_rate",
    "opens",
    "opens_unique",
    "open_rate",
    "clicks",
    "clicks_unique",
    "click_rate",
    "click_to_open_rate",
    "bounced",
    "bounce_rate",
    "unsubscribes",
    "unsubscribe_uniques",
    "unsubscribe_rate",
    "spam_complaints",
    "spam_complaint_rate",
    "conversions",
    "conversion_uniques",
    "conversion_value",
    "conversion_rate",
    "revenue_per_recipient",
    "average_order_value",
)


def _stat_column(name: str) -> Column:
    return Column(name, BIGINT if name in COUNTS else DOUBLE)


COLUMNS = (
    Column("campaign_id", TEXT, False),
    Column("campaign_message_id", TEXT, False),
    Column("send_channel", TEXT, False, "email, sms, push-notification, whatsapp"),
    *(_stat_column(name) for name in _ORDER),
    Column("conversion_metric_id", TEXT, doc="the metric conversions count"),
    Column("stats_as_of", TIMESTAMP, doc="when these numbers were read"),
)


@dataclass(frozen=True)
class ValuesReport:
    """A table read from a POSTed values report over bounded timeframes."""

    table: str
    endpoint: str
    scopes: tuple[str, ...]
    key: tuple[str, ...]
    replace_key: str
    columns: tuple[Column, ...]
    statistics: tuple[str, ...]
    group_by: tuple[str, ...]
    max_days: int
    doc: str = ""

    def body(
        self,
        metric_id: str,
        start: dt.datetime,
        end: dt.datetime,
        zone: dt.tzinfo = dt.UTC,
    ) -> dict:
        """`zone` is the account's timezone: Klaviyo ignores a custom
        timeframe's offset and reads its wall clock there."""
        attrs: dict[str, Any] = {
            "statistics": list(self.statistics),
            "timeframe": {"start": _iso(start, zone), "end": _iso(end, zone)},
            "conversion_metric_id": metric_id,
            "group_by": list(self.group_by),
        }
        return {"data": {"type": "campaign-values-report", "attributes": attrs}}


def _iso(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """The account's wall clock time with its offset: right whether Klaviyo
    reads the offset or ignores it."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def stats_row(result: Mapping[str, Any], metric_id: str, as_of: dt.datetime) -> Row:
    groupings = result.get("groupings") or {}
    stats = result.get("statistics") or {}
    row: Row = {name: text_or_none(groupings.get(name)) for name in GROUP_BY}
    row.update({name: int_or_none(stats.get(name)) for name in COUNTS})
    row.update({name: float_or_none(stats.get(name)) for name in AMOUNTS})
    for rate, denominator in RATES.items():
        known = row.get(denominator) not in (None, 0)
        row[rate] = float_or_none(stats.get(rate)) if known else None
    row["conversion_metric_id"] = metric_id
    row["stats_as_of"] = as_of
    return row


REPORT = ValuesReport(
    table="campaign_performance_stats",
    endpoint="/api/campaign-values-reports",
    scopes=("campaigns:read", "metrics:read"),
    key=KEY,
    replace_key="campaign_id",
    columns=COLUMNS,
    statistics=STATISTICS,
    group_by=GROUP_BY,
    max_days=365,
    doc=(
        "One row per campaign message and send channel; rows of campaigns sent "
        "inside the lookback window are replaced on every sync."
    ),
)

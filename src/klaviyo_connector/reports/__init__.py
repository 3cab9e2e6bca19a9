"""The five prebuilt tables, each a small declaration over shared machinery."""

from __future__ import annotations

from klaviyo_connector.reports import (
    campaign,
    campaign_stats,
    lists,
    profiles,
    segments,
)
from klaviyo_connector.reports.base import DimensionReport
from klaviyo_connector.reports.campaign_stats import ValuesReport

DIMENSIONS: dict[str, DimensionReport] = {
    report.table: report
    for report in (campaign.REPORT, lists.REPORT, segments.REPORT, profiles.REPORT)
}
STATS: ValuesReport = campaign_stats.REPORT
REPORTS: dict[str, DimensionReport | ValuesReport] = {**DIMENSIONS, STATS.table: STATS}

__all__ = ["DIMENSIONS", "REPORTS", "STATS", "DimensionReport", "ValuesReport"]

"""The choices a connection offers (tables, periods, destinations) and their checks."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, Field, field_validator, model_validator

from klaviyo_connector.sync.models import TABLES

TABLE_DESCRIPTIONS: dict[str, str] = {
    "campaign": "Every email, SMS and push campaign with its audiences and messages.",
    "list": "Your lists and how people opt in to them.",
    "segment": "Your segments with their definitions and status.",
    "profile": "Everyone in the account: contact details, location, properties "
    "and consent.",
    "campaign_performance_stats": "Deliveries, opens, clicks and conversions per "
    "campaign message.",
}

PERIOD_SECONDS: dict[str, int] = {"1h": 3600, "6h": 21600, "12h": 43200, "24h": 86400}
PERIOD_LABELS: dict[str, str] = {
    "1h": "Every hour",
    "6h": "Every 6 hours",
    "12h": "Every 12 hours",
    "24h": "Every day",
    "cron": "Cron expression",
    "seconds": "Every N seconds (testing)",
}
Period = Literal["1h", "6h", "12h", "24h", "cron", "seconds"]

DESTINATIONS: tuple[str, ...] = (
    "duckdb",
    "postgres",
    "motherduck",
    "bigquery",
    "snowflake",
    "redshift",
    "mssql",
    "clickhouse",
    "databricks",
    "athena",
    "synapse",
)
# The longest connection name, in characters once trimmed; the card and the
# database column are sized for it.
NAME_MAX_LENGTH = 120
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_DATASET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_METRIC = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def cron_trigger(expression: str) -> CronTrigger:
    return CronTrigger.from_crontab(expression, timezone="UTC")


class SyncSettings(BaseModel):
    """How often, how far back, where to: validated once for pages and API alike."""

    sync_period: Period = "24h"
    sync_cron: str | None = None
    sync_seconds: int | None = Field(default=None, ge=1, le=86400)
    lookback_days: int = Field(default=14, ge=0, le=365)
    destination: str = "duckdb"
    destination_credentials: str | None = Field(default=None, repr=False)
    dataset: str | None = None
    conversion_metric_id: str | None = None

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use a dlt destination name such as duckdb or postgres")
        return value

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str | None) -> str | None:
        if value and not _DATASET.match(value):
            raise ValueError("letters, digits and underscores only")
        return value or None

    @field_validator("conversion_metric_id")
    @classmethod
    def _metric(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if value and not _METRIC.match(value):
            raise ValueError("a Klaviyo metric id is letters and digits, like Y6Hmxn")
        return value or None

    @model_validator(mode="after")
    def _period(self) -> SyncSettings:
        if self.sync_period == "cron":
            if not self.sync_cron:
                raise ValueError("Give a cron expression, like '0 */2 * * *'")
            try:
                trigger = cron_trigger(self.sync_cron)
            except ValueError as exc:
                raise ValueError(f"The cron expression is not valid: {exc}") from exc
            # '0 0 31 2 *' parses, but no date matches it: the scheduler would
            # start one sync at once and never another.
            if trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC)) is None:
                raise ValueError(
                    "The cron expression never fires: none of its months has "
                    "that day of the month"
                )
        if self.sync_period == "seconds" and not self.sync_seconds:
            raise ValueError("Give the number of seconds between syncs")
        return self


def trigger_for(period: str, cron: str | None, seconds: int | None) -> BaseTrigger:
    """The APScheduler trigger for a stored sync period."""
    if period == "cron" and cron:
        return cron_trigger(cron)
    if period == "seconds" and seconds:
        return IntervalTrigger(seconds=seconds, timezone="UTC")
    return IntervalTrigger(seconds=PERIOD_SECONDS.get(period, 86400), timezone="UTC")


def describe_period(period: str, cron: str | None, seconds: int | None) -> str:
    if period == "cron":
        return f"cron {cron}"
    if period == "seconds":
        return f"every {seconds} s"
    return PERIOD_LABELS.get(period, period).lower()


def clean_tables(tables: list[str]) -> list[str]:
    """Known tables in their canonical order; raises on unknown or empty."""
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown table(s): {', '.join(unknown)}")
    chosen = [t for t in TABLES if t in tables]
    if not chosen:
        raise ValueError("select at least one table")
    return chosen

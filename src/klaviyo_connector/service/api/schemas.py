"""The API's request and response models; no response has a field for the key."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from ..options import NAME_MAX_LENGTH, Period, SyncSettings

# Trimmed, then checked: the same rules as the pages' name fields.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH),
]


class KeyIn(BaseModel):
    api_key: str = Field(repr=False, description="A Klaviyo private API key (pk_…).")


class TableCheckOut(BaseModel):
    ok: bool
    missing_scopes: list[str]
    problem: str | None = None


class MetricOut(BaseModel):
    id: str
    name: str | None = None
    integration: str | None = None


class CheckOut(BaseModel):
    account_name: str | None
    account_id: str | None
    tables: dict[str, TableCheckOut]
    detected_metric: MetricOut | None
    metrics: list[MetricOut]


class ConnectionIn(SyncSettings):
    """A new connection: validated with Klaviyo before anything is stored."""

    name: Name
    api_key: str = Field(repr=False)
    tables: list[str] | None = Field(
        default=None, description="Default: every table the key may read."
    )
    auto_sync: bool = False


class ConnectionPatch(BaseModel):
    """Only the fields given change; credentials are write-only."""

    name: Name | None = None
    tables: list[str] | None = None
    sync_period: Period | None = None
    sync_cron: str | None = None
    sync_seconds: int | None = None
    lookback_days: int | None = None
    destination: str | None = None
    destination_credentials: str | None = Field(default=None, repr=False)
    dataset: str | None = None
    conversion_metric_id: str | None = None
    auto_sync: bool | None = None


class TablesIn(BaseModel):
    tables: list[str]


class AutoSyncIn(BaseModel):
    enabled: bool


class HistoricalIn(BaseModel):
    start: dt.date = Field(description="First day to recover (UTC).")
    end: dt.date = Field(description="Last day to recover, included (UTC).")


class ConnectionOut(BaseModel):
    id: int
    name: str
    slug: str
    key: str = Field(description="Masked: pk_…abcd.")
    account_name: str | None
    account_id: str | None
    setup_complete: bool
    tables: list[str]
    permissions: dict[str, TableCheckOut]
    sync_period: Period
    sync_cron: str | None
    sync_seconds: int | None
    sync_period_label: str
    lookback_days: int
    destination: str
    destination_credentials_set: bool
    dataset: str
    duckdb_file: str | None = Field(description="Absolute path of the DuckDB file.")
    conversion_metric: MetricOut | None
    conversion_metric_detected: str | None
    metrics: list[MetricOut]
    auto_sync: bool
    next_sync_at: dt.datetime | None
    last_sync_at: dt.datetime | None
    last_status: str | None
    health: str = Field(description="healthy, failing, paused or never run.")
    busy: bool = Field(description="A run is queued or running.")
    secret_problem: str | None = Field(
        description="Why the stored key or credentials cannot be decrypted, if so."
    )


class TableRunOut(BaseModel):
    rows: int = 0
    requests: int = 0
    seconds: float | None = None
    done: bool = False
    error: str | None = None
    fix: str | None = None
    warnings: list[str] = Field(default_factory=list)
    stopped: bool = Field(
        default=False,
        description="Cut short because the whole run stopped; the run's error "
        "says why.",
    )
    note: str | None = Field(
        default=None,
        description="While the run runs: why the table is waiting, when a "
        "request waits two seconds or more for Klaviyo's rate limit or a retry.",
    )


class RunOut(BaseModel):
    id: int
    connection_id: int
    kind: str = Field(description="scheduled, manual or historical.")
    status: str = Field(
        description="queued, running, succeeded, partial, failed or interrupted."
    )
    queued_behind_running: bool
    window_start: dt.datetime | None = Field(
        description="Start of the lookback window; None when every table was read "
        "from the beginning, or the run has not started."
    )
    window_end: dt.datetime | None = Field(
        description="The run's start, or a recovery's end (excluded)."
    )
    full_history_tables: list[str] = Field(
        description="Tables read from the beginning: no earlier sync had finished "
        "them (campaign stats: the last 730 days)."
    )
    window_label: list[str] = Field(
        description="The window as the run history shows it, line by line; a "
        "recovery as the UTC days it covers, both included."
    )
    tables: dict[str, TableRunOut]
    rows: int
    requests: int
    duration_seconds: float | None
    error: str | None
    fix: str | None
    warnings: list[str] = Field(
        description="Every table's warnings as 'table: text'; a run with "
        "warnings still succeeds."
    )
    queued_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class CampaignRateOut(BaseModel):
    campaign_id: str
    name: str | None = Field(description="None when the campaign table is not read.")
    open_rate: float | None = Field(description="A fraction: 0.42 is 42 %.")
    click_rate: float | None = Field(description="A fraction: 0.05 is 5 %.")


class CampaignRatesOut(BaseModel):
    readable: bool = Field(description="The warehouse could be read.")
    campaigns: list[CampaignRateOut] = Field(
        description="Up to eight recent email campaigns, newest send first."
    )


class SignInLinkOut(BaseModel):
    url: str
    expires_in_seconds: int


def model(cls: type[BaseModel], data: dict[str, Any]) -> Any:
    return cls.model_validate(data)

"""What a run is asked to do and what it reports: shared by the engine, the
command line and the service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

TABLES: tuple[str, ...] = (
    "campaign",
    "list",
    "segment",
    "profile",
    "campaign_performance_stats",
)


class RunKind(StrEnum):
    INCREMENTAL = "incremental"
    HISTORICAL = "historical"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunRequest:
    """One sync: incremental (with a lookback) or a historical recovery [start, end)."""

    kind: RunKind = RunKind.INCREMENTAL
    tables: tuple[str, ...] = TABLES
    lookback_days: int = 14
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@dataclass
class TableResult:
    table: str
    rows: int = 0
    requests: int = 0
    seconds: float = 0.0
    error: str | None = None
    fix: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Not finished because the whole run stopped (RunResult.error says why).
    stopped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RunResult:
    request: RunRequest
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    tables: dict[str, TableResult] = field(default_factory=dict)
    error: str | None = None
    # Stopped on the caller's request (Ctrl-C): committed work is kept.
    interrupted: bool = False

    @property
    def status(self) -> RunStatus:
        if self.interrupted:
            return RunStatus.INTERRUPTED
        if self.error is not None or not self.tables:
            return RunStatus.FAILED
        failed = [t for t in self.tables.values() if not t.ok]
        if not failed:
            return RunStatus.SUCCEEDED
        if len(failed) == len(self.tables):
            return RunStatus.FAILED
        return RunStatus.PARTIAL


@dataclass(frozen=True)
class Progress:
    """A progress event: `rows` and `requests` so far for one table, and
    `note`, why it waits (Klaviyo's rate limit, a retry) while it does."""

    table: str
    rows: int
    requests: int
    done: bool = False
    error: str | None = None
    note: str | None = None


ProgressCallback = Callable[[Progress], None]

"""What every table of one run shares, and the per-table bookkeeping."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from klaviyo_connector.keys import redact
from klaviyo_connector.load.state import CursorState
from klaviyo_connector.sync.models import (
    Progress,
    ProgressCallback,
    RunKind,
    RunRequest,
    TableResult,
)

if TYPE_CHECKING:
    from klaviyo_connector.client import KlaviyoClient, WaitInfo
    from klaviyo_connector.config import SyncConfig
    from klaviyo_connector.load.warehouse import Warehouse

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The run is stopping: a rejected key or an unreachable Klaviyo elsewhere
    (`RunContext.stop_reason` says which), or the caller asked it to."""


@dataclass
class RunContext:
    cfg: SyncConfig
    request: RunRequest
    client: KlaviyoClient
    warehouse: Warehouse
    started_at: dt.datetime
    cursors: dict[str, CursorState] = field(default_factory=dict)
    progress: ProgressCallback | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    # Why the whole run stopped, when a table found that every other table
    # would fail the same way; None with `cancel` set means the caller asked.
    stop_reason: str | None = None
    # The pre-flight GET /api/accounts answer, when the key may read it.
    account: dict[str, Any] | None = None
    # Tables (the state table too) found missing from the warehouse although
    # an earlier sync created them: created again, read in full.
    recreated: tuple[str, ...] = ()
    _stop_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # The tables reading each endpoint, told when a request of theirs waits.
    _readers: dict[str, list[TableRun]] = field(default_factory=dict, repr=False)

    @property
    def historical(self) -> bool:
        return self.request.kind == RunKind.HISTORICAL

    @property
    def lookback(self) -> dt.timedelta:
        return dt.timedelta(days=self.request.lookback_days)

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def stop(self, reason: str) -> None:
        """Stops every table at its next page; the first reason is kept."""
        with self._stop_lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self.cancel.set()

    def emit(self, event: Progress) -> None:
        """Tell the listener; one that fails (a closed terminal, a dashboard
        whose database is gone) costs the progress display, not the sync."""
        if self.progress is None:
            return
        try:
            self.progress(event)
        except Exception:
            log.debug("the progress listener failed on %s", event.table, exc_info=True)

    def reads(self, run: TableRun, endpoints: Sequence[str]) -> None:
        for endpoint in endpoints:
            self._readers.setdefault(endpoint, []).append(run)

    def on_wait(self, wait: WaitInfo) -> None:
        """The client's `on_wait`: the tables reading the endpoint say why
        they wait. A wait outside any table (the key check) goes untold."""
        for run in tuple(self._readers.get(wait.endpoint, ())):
            run.waiting(wait.note)


class TableRun:
    """Counts one table's rows, requests and time, and reports progress."""

    def __init__(self, ctx: RunContext, table: str, endpoints: Sequence[str]) -> None:
        self.ctx = ctx
        self.result = TableResult(table)
        self._endpoints = tuple(endpoints)
        self._before = self._counts()
        self._started = time.monotonic()
        self._note: str | None = None
        self._note_since = 0  # requests answered when the wait began
        self._note_lock = threading.Lock()
        self._finished = False
        ctx.reads(self, self._endpoints)

    def _counts(self) -> dict[str, int]:
        counts = self.ctx.client.stats.by_endpoint
        return {e: counts.get(e, 0) for e in self._endpoints}

    @property
    def requests(self) -> int:
        now = self._counts()
        return sum(now[e] - self._before[e] for e in self._endpoints)

    def step(self, rows_loaded: int = 0) -> None:
        """After each page or commit: update counters, tell the listener, and
        stop here if the run is stopping (rows just committed still count)."""
        if rows_loaded:  # only the loading thread loads; readers just report
            self.result.rows += rows_loaded
        requests = self.result.requests = self.requests
        with self._note_lock:
            # A reader may still be on its last page when the table has
            # finished (a failed load, a stop): the table stays finished.
            if not self._finished:
                self._report(requests, self._current_note(requests))
        self.ctx.check_cancelled()

    def waiting(self, note: str) -> None:
        """A request of this table waits (pacing, or a retry): say so until
        Klaviyo answers one of its requests after the wait began. A request
        still out when the table has finished (another table's, on a shared
        endpoint) does not bring it back to life."""
        requests = self.requests
        note = redact(note, self.ctx.cfg.api_key.reveal())
        with self._note_lock:
            if self._finished:
                return
            self._note, self._note_since = note, requests
            self._report(requests, note)

    def _report(self, requests: int, note: str | None) -> None:
        result = self.result
        self.ctx.emit(Progress(result.table, result.rows, requests, note=note))

    def _current_note(self, requests: int) -> str | None:
        # Pages fetched ahead still arrive during a wait and must not end it:
        # only a request answered since the wait began does. Requests count
        # attempts as they are answered. Called with `_note_lock` held.
        if requests > self._note_since:
            self._note = None
        return self._note

    def finish(
        self, error: str | None = None, fix: str | None = None, *, stopped: bool = False
    ) -> TableResult:
        self.result.requests = self.requests
        self.result.seconds = round(time.monotonic() - self._started, 3)
        self.result.error, self.result.fix = error, fix
        self.result.stopped = stopped
        with self._note_lock:  # no wait note may follow the table's end
            self._finished, self._note = True, None
            self.ctx.emit(
                Progress(
                    self.result.table,
                    self.result.rows,
                    self.result.requests,
                    done=True,
                    error=error,
                )
            )
        return self.result

"""The run queue: every sync goes through it, one at a time per connection."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from klaviyo_connector.keys import redact
from klaviyo_connector.sync.models import (
    Progress,
    ProgressCallback,
    RunRequest,
    RunResult,
)

from .db import Connection, Database, Run, utcnow
from .engine import run_request
from .windows import recovery_days, tables_without_cursor

log = logging.getLogger(__name__)

Execute = Callable[[Connection, RunRequest, ProgressCallback], RunResult]
ACTIVE = ("queued", "running")
FLUSH_SECONDS = 2.0


def summarize(run: Run, result: RunResult, secret: str) -> None:
    """Copies a RunResult into its run record, with every message redacted."""
    run.status = result.status.value
    run.tables = {
        name: {
            "rows": t.rows,
            "requests": t.requests,
            "seconds": round(t.seconds, 2),
            "error": redact(t.error, secret) if t.error else None,
            "fix": redact(t.fix, secret) if t.fix else None,
            "warnings": [redact(w, secret) for w in t.warnings],
            "stopped": t.stopped,
            "done": True,
        }
        for name, t in result.tables.items()
    }
    run.requests = sum(t.requests for t in result.tables.values())
    run.rows = sum(t.rows for t in result.tables.values())
    run.finished_at = result.finished_at or utcnow()
    started = run.started_at or result.started_at
    run.duration_seconds = round((run.finished_at - started).total_seconds(), 2)
    run.error, run.fix = _headline(result, secret)


def _headline(result: RunResult, secret: str) -> tuple[str | None, str | None]:
    if result.error:
        return redact(result.error, secret), None
    failed = [t for t in result.tables.values() if not t.ok]
    if not failed:
        return None, None
    first = failed[0]
    message = f"{first.table}: {first.error}"
    if len(failed) > 1:
        message += f" (and {len(failed) - 1} more table(s))"
    return redact(message, secret), redact(first.fix, secret) if first.fix else None


class LiveRuns:
    """Per-table progress of running syncs, kept in memory for the pages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, dict[str, dict[str, Any]]] = {}

    def start(self, run_id: int, tables: tuple[str, ...]) -> None:
        with self._lock:
            self._runs[run_id] = {
                t: {"rows": 0, "requests": 0, "done": False, "note": None}
                for t in tables
            }

    def update(self, run_id: int, event: Progress) -> dict[str, dict[str, Any]]:
        with self._lock:
            tables = self._runs.setdefault(run_id, {})
            tables[event.table] = {
                "rows": event.rows,
                "requests": event.requests,
                "done": event.done,
                "error": event.error,
                # Why the table waits, while it does; never kept with the run.
                "note": redact(event.note) if event.note else None,
            }
            return {k: dict(v) for k, v in tables.items()}

    def get(self, run_id: int) -> dict[str, dict[str, Any]] | None:
        with self._lock:
            tables = self._runs.get(run_id)
            return None if tables is None else {k: dict(v) for k, v in tables.items()}

    def finish(self, run_id: int) -> None:
        with self._lock:
            self._runs.pop(run_id, None)


class RunQueue:
    """Queues runs per connection; a worker per busy connection drains its queue."""

    def __init__(
        self,
        db: Database,
        execute: Execute,
        secret_of: Callable[[Connection], str],
        max_parallel: int = 2,
        stopping: threading.Event | None = None,
    ) -> None:
        self._db = db
        self._execute = execute
        self._secret_of = secret_of
        # Set when the service stops: the engine's runs watch it (the real
        # engine is handed the same event) and no queued run starts after it.
        self.stopping = stopping or threading.Event()
        self._slots = threading.BoundedSemaphore(max_parallel)
        self._lock = threading.Lock()
        self._pending: dict[int, deque[int]] = {}
        self._workers: dict[int, threading.Thread] = {}
        self._running: dict[int, int] = {}
        self.live = LiveRuns()

    def submit(
        self,
        connection_id: int,
        kind: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> int:
        """Records a queued run and wakes the connection's worker; returns its id."""
        with self._lock:
            duplicate = self._queued_duplicate(connection_id, kind)
            if duplicate is not None:
                return duplicate
            run_id = self._record(connection_id, kind, start, end)
            self._pending.setdefault(connection_id, deque()).append(run_id)
            if connection_id not in self._workers:
                worker = threading.Thread(
                    target=self._drain,
                    args=(connection_id,),
                    name=f"sync-{connection_id}",
                    daemon=True,
                )
                self._workers[connection_id] = worker
                worker.start()
        return run_id

    def running_run(self, connection_id: int) -> int | None:
        with self._lock:
            return self._running.get(connection_id)

    def is_busy(self, connection_id: int) -> bool:
        with self._lock:
            return connection_id in self._workers

    def stop(self, timeout: float) -> bool:
        """Stops the running syncs at their next page, waits up to `timeout`
        for them to record how far they got, and marks whatever is left
        (queued runs, or a run that did not stop in time) interrupted, each
        saying what to do next. True when every run stopped in time."""
        self.stopping.set()
        stopped = self.wait_idle(timeout)
        left = mark_interrupted(self._db)
        if left:
            log.info("%s run(s) cut off by the stop: marked interrupted", left)
        return stopped

    def wait_idle(self, timeout: float) -> bool:
        """Waits for every worker to finish (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._workers:
                    return True
            time.sleep(0.05)
        return False

    def _queued_duplicate(self, connection_id: int, kind: str) -> int | None:
        # A second ordinary sync waiting behind the first would repeat its work.
        if kind == "historical":
            return None
        with self._db.session() as s:
            waiting = s.scalars(
                select(Run.id).where(
                    Run.connection_id == connection_id,
                    Run.status == "queued",
                    Run.kind != "historical",
                )
            ).first()
        return waiting

    def _record(
        self,
        connection_id: int,
        kind: str,
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> int:
        with self._db.session() as s:
            run = Run(
                connection_id=connection_id,
                kind=kind,
                status="queued",
                window_start=start,
                window_end=end,
            )
            s.add(run)
            s.flush()
            return run.id

    def _next(self, connection_id: int) -> int | None:
        with self._lock:
            pending = self._pending.get(connection_id)
            if pending and not self.stopping.is_set():
                run_id = pending.popleft()
                self._running[connection_id] = run_id
                return run_id
            self._pending.pop(connection_id, None)
            self._workers.pop(connection_id, None)
            self._running.pop(connection_id, None)
            return None

    def _drain(self, connection_id: int) -> None:
        while (run_id := self._next(connection_id)) is not None:
            with self._slots:
                try:
                    self._run_one(run_id)
                except Exception as exc:
                    log.error(
                        "run %s stopped unexpectedly: %s", run_id, redact(repr(exc))
                    )
                    log.debug("traceback of run %s", run_id, exc_info=True)
                    self._mark(
                        run_id,
                        "failed",
                        "The run stopped on an internal error; see the service log.",
                    )
                finally:
                    self.live.finish(run_id)

    def _run_one(self, run_id: int) -> None:
        with self._db.session() as s:
            run = s.get(Run, run_id)
            conn = s.get(Connection, run.connection_id) if run else None
            if run is None or conn is None:
                return
            request = run_request(conn, run.kind, run.window_start, run.window_end)
            run.status, run.started_at = "running", utcnow()
            if request.kind.value == "incremental":
                _set_window(s, run, request)
            s.expunge(conn)
        self.live.start(run_id, request.tables)
        log.info("run %s of connection %s started (%s)", run_id, conn.slug, run.kind)
        result = self._execute(conn, request, self._progress(run_id))
        with self._db.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                return
            summarize(run, result, self._secret_of(conn))
            if result.interrupted and self.stopping.is_set():
                run.status = "interrupted"
                run.error, run.fix = interruption(run, started=True)
            log.info(
                "run %s finished %s: %s rows, %s requests, %.1f s",
                run_id,
                run.status,
                run.rows,
                run.requests,
                run.duration_seconds or 0,
            )

    def _progress(self, run_id: int) -> ProgressCallback:
        last_flush = [0.0]

        def on_progress(event: Progress) -> None:
            tables = self.live.update(run_id, event)
            now = time.monotonic()
            if now - last_flush[0] >= FLUSH_SECONDS:
                last_flush[0] = now
                self._flush(run_id, tables)

        return on_progress

    def _flush(self, run_id: int, tables: dict[str, dict[str, Any]]) -> None:
        with self._db.session() as s:
            run = s.get(Run, run_id)
            if run is not None and run.status == "running":
                run.tables = {
                    name: {k: v for k, v in t.items() if k != "note"}
                    for name, t in tables.items()
                }
                run.rows = sum(t.get("rows", 0) for t in tables.values())
                run.requests = sum(t.get("requests", 0) for t in tables.values())

    def _mark(self, run_id: int, status: str, error: str) -> None:
        with self._db.session() as s:
            run = s.get(Run, run_id)
            if run is not None:
                run.status, run.error, run.finished_at = status, error, utcnow()


def _set_window(s: Session, run: Run, request: RunRequest) -> None:
    """The lookback window from the run's start; none when every table is read
    from the beginning, as a connection's first sync reads them."""
    assert run.started_at is not None
    fresh = tables_without_cursor(s, run.connection_id, request.tables, run.id)
    run.full_history_tables = fresh
    lookback = dt.timedelta(days=request.lookback_days)
    everything = len(fresh) == len(request.tables)
    run.window_start = None if everything else run.started_at - lookback
    run.window_end = run.started_at


def mark_interrupted(db: Database) -> int:
    """Runs left queued or running by a stopped process; returns how many."""
    with db.session() as s:
        runs = s.scalars(select(Run).where(Run.status.in_(ACTIVE))).all()
        for run in runs:
            run.error, run.fix = interruption(run, started=run.status == "running")
            run.status = "interrupted"
            run.finished_at = utcnow()
        return len(runs)


def interruption(run: Run, started: bool) -> tuple[str, str]:
    """What a run cut off by a stop says: what happened, and what to do."""
    if started:
        error = "The service stopped during this run."
    else:
        error = "The service stopped before this run started."
    if run.kind != "historical":
        return error, (
            "Nothing to do: the next sync resumes where this one stopped (tables "
            "it finished are kept)."
        )
    start, end = recovery_days(run)
    return error, (
        f"A recovery does not resume on its own: launch it again for {start} to "
        f"{end} on the Historical data tab."
    )

"""The run queue on its own: no overlap per connection, records, interruption.

These use a test-local stand-in for the engine, passed in the way the app passes
the real one; the end-to-end tests run the real engine against the sandbox.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict

import pytest
from fastapi.testclient import TestClient
from tests.service.support import bearer, make_app, sign_in

from klaviyo_connector.service.crypto import Vault
from klaviyo_connector.service.db import Connection, Database, Run
from klaviyo_connector.service.queue import RunQueue, mark_interrupted, summarize
from klaviyo_connector.sync.models import (
    Progress,
    RunKind,
    RunRequest,
    RunResult,
    TableResult,
)

KEY = "pk_" + "q1w2e3r4t5" * 3 + "zz99"


class Recorder:
    """Records how many runs of each connection are in flight at once."""

    def __init__(self, hold: float = 0.2) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.active: dict[int, int] = defaultdict(int)
        self.peak: dict[int, int] = defaultdict(int)
        self.peak_total = 0
        self.order: list[tuple[int, str]] = []

    def __call__(self, conn, request, progress):
        with self.lock:
            self.active[conn.id] += 1
            self.peak[conn.id] = max(self.peak[conn.id], self.active[conn.id])
            self.peak_total = max(self.peak_total, sum(self.active.values()))
            self.order.append((conn.id, request.kind.value))
        started = dt.datetime.now(dt.UTC)
        for n, table in enumerate(request.tables):
            progress(Progress(table=table, rows=n * 10, requests=n + 1, done=True))
        time.sleep(self.hold)
        with self.lock:
            self.active[conn.id] -= 1
        tables = {
            t: TableResult(t, rows=10, requests=2, seconds=0.1) for t in request.tables
        }
        return RunResult(request, started, dt.datetime.now(dt.UTC), tables)


def _connection(db: Database, vault: Vault, slug: str) -> int:
    with db.session() as s:
        conn = Connection(
            slug=slug,
            name=slug,
            key_encrypted=vault.encrypt(KEY),
            key_hint="pk_…zz99",
            dataset=f"klaviyo_{slug}",
            tables=["list", "segment"],
            setup_complete=True,
        )
        s.add(conn)
        s.flush()
        return conn.id


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "state.db")
    yield db, Vault("test secret")
    db.dispose()


def _queue(db, vault, execute, parallel=2):
    return RunQueue(db, execute, lambda c: vault.decrypt(c.key_encrypted), parallel)


def _runs(db):
    with db.session() as s:
        return {r.id: r for r in s.query(Run).all()}


def test_runs_of_one_connection_never_overlap(store):
    db, vault = store
    a, b = _connection(db, vault, "a"), _connection(db, vault, "b")
    recorder = Recorder()
    queue = _queue(db, vault, recorder)
    first = queue.submit(a, "manual")
    time.sleep(0.05)
    historical = queue.submit(
        a,
        "historical",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
    )
    scheduled = queue.submit(a, "scheduled")
    other = queue.submit(b, "manual")
    assert queue.wait_idle(10)
    assert recorder.peak[a] == 1
    assert recorder.peak_total == 2, "a second connection runs beside the first"
    runs = _runs(db)
    assert [runs[i].status for i in (first, historical, scheduled, other)] == [
        "succeeded"
    ] * 4
    assert [k for c, k in recorder.order if c == a] == [
        "incremental",
        "historical",
        "incremental",
    ]


def test_a_second_sync_waiting_in_line_is_not_queued_twice(store):
    db, vault = store
    a = _connection(db, vault, "a")
    queue = _queue(db, vault, Recorder(hold=0.3))
    running = queue.submit(a, "manual")
    time.sleep(0.1)
    waiting = queue.submit(a, "manual")
    assert queue.submit(a, "scheduled") == waiting
    assert queue.running_run(a) == running
    assert queue.wait_idle(10)
    assert len(_runs(db)) == 2


def test_parallel_limit_holds_across_connections(store):
    db, vault = store
    ids = [_connection(db, vault, f"c{n}") for n in range(4)]
    recorder = Recorder(hold=0.15)
    queue = _queue(db, vault, recorder, parallel=2)
    for connection_id in ids:
        queue.submit(connection_id, "manual")
    assert queue.wait_idle(10)
    assert recorder.peak_total == 2


def test_result_becomes_a_redacted_record():
    request = RunRequest(kind=RunKind.INCREMENTAL, tables=("list", "segment"))
    start = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    result = RunResult(
        request,
        start,
        start + dt.timedelta(seconds=42),
        {
            "list": TableResult(
                "list",
                rows=14,
                requests=3,
                seconds=1.5,
                warnings=[f"odd dates seen with key {KEY}"],
            ),
            "segment": TableResult(
                "segment",
                requests=1,
                error=f"403 for key {KEY}: lacks segments:read",
                fix="Add segments:read in Klaviyo > Settings > API Keys.",
            ),
        },
    )
    run = Run(connection_id=1, kind="manual", started_at=start)
    summarize(run, result, KEY)
    assert run.status == "partial"
    assert (run.rows, run.requests, run.duration_seconds) == (14, 4, 42.0)
    assert run.error.startswith("segment: 403 for key pk_…zz99")
    assert KEY not in run.error
    assert KEY not in str(run.tables)
    assert run.fix == "Add segments:read in Klaviyo > Settings > API Keys."
    assert run.tables["list"]["warnings"] == ["odd dates seen with key pk_…zz99"]


def test_a_run_wide_error_is_a_failed_run():
    request = RunRequest()
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    result = RunResult(request, start, start, error="The key was rejected (401).")
    run = Run(connection_id=1, kind="manual", started_at=start)
    summarize(run, result, KEY)
    assert (run.status, run.error) == ("failed", "The key was rejected (401).")


def test_progress_is_live_then_flushed(store):
    db, vault = store
    a = _connection(db, vault, "a")
    seen: list[dict] = []
    gate = threading.Event()

    def execute(conn, request, progress):
        progress(Progress("list", rows=5, requests=1))
        seen.append(queue.live.get(run_id))
        gate.wait(5)
        return RunResult(
            request,
            dt.datetime.now(dt.UTC),
            dt.datetime.now(dt.UTC),
            {"list": TableResult("list", rows=5, requests=1)},
        )

    queue = _queue(db, vault, execute)
    run_id = queue.submit(a, "manual")
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)
    gate.set()
    assert queue.wait_idle(5)
    assert seen[0]["list"]["rows"] == 5
    assert _runs(db)[run_id].tables["list"]["rows"] == 5


def test_a_wait_note_is_live_only_and_never_shows_the_key(store):
    db, vault = store
    a = _connection(db, vault, "a")
    seen: list[tuple[dict, dict]] = []

    def execute(conn, request, progress):
        note = f"waiting 41 s for Klaviyo's rate limit on /api/lists {KEY}"
        progress(Progress("list", rows=5, requests=1, note=note))
        seen.append((queue.live.get(run_id), _runs(db)[run_id].tables))
        progress(Progress("list", rows=5, requests=2))
        seen.append((queue.live.get(run_id), {}))
        return RunResult(request, dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC))

    queue = _queue(db, vault, execute)
    run_id = queue.submit(a, "manual")
    assert queue.wait_idle(5)
    (waiting, flushed), (after, _) = seen
    assert waiting["list"]["note"] == (
        "waiting 41 s for Klaviyo's rate limit on /api/lists pk_…zz99"
    )
    assert "note" not in flushed["list"], "the note is not kept with the run"
    assert after["list"]["note"] is None


def test_an_engine_crash_fails_the_run_and_the_queue_goes_on(store):
    db, vault = store
    a = _connection(db, vault, "a")
    calls = []

    def execute(conn, request, progress):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(f"boom with {KEY}")
        return Recorder(hold=0)(conn, request, progress)

    queue = _queue(db, vault, execute)
    crashed = queue.submit(a, "manual")
    time.sleep(0.05)
    after = queue.submit(a, "historical")
    assert queue.wait_idle(5)
    runs = _runs(db)
    assert runs[crashed].status == "failed"
    assert KEY not in runs[crashed].error
    assert runs[after].status == "succeeded"


def test_runs_cut_off_by_a_stop_become_interrupted(store):
    db, vault = store
    a = _connection(db, vault, "a")
    with db.session() as s:
        s.add_all(
            [
                Run(connection_id=a, kind="manual", status="running"),
                Run(connection_id=a, kind="scheduled", status="queued"),
                Run(connection_id=a, kind="manual", status="succeeded"),
            ]
        )
    assert mark_interrupted(db) == 2
    statuses = sorted(r.status for r in _runs(db).values())
    assert statuses == ["interrupted", "interrupted", "succeeded"]


def test_runs_cut_off_by_a_stop_say_what_to_do_next(tmp_path, sandbox):
    data = tmp_path / "data"
    first = make_app(data, base_url=sandbox.base_url)
    with TestClient(first, headers=bearer(first)) as api:
        body = {"name": "Shop", "api_key": sandbox.api_key, "tables": ["list"]}
        cid = api.post("/api/connections", json=body).json()["id"]
    cut_off = [
        ("manual", "running", None, None),
        ("historical", "running", "2026-01-01T00:00:00", "2026-04-01T00:00:00"),
        ("historical", "queued", "2026-05-01T00:00:00", "2026-05-03T09:30:00"),
    ]
    with first.state.service.db.session() as s:
        for kind, status, start, end in cut_off:
            s.add(
                Run(
                    connection_id=cid,
                    kind=kind,
                    status=status,
                    window_start=start and dt.datetime.fromisoformat(start + "Z"),
                    window_end=end and dt.datetime.fromisoformat(end + "Z"),
                )
            )
    again = make_app(data, base_url=sandbox.base_url)
    with TestClient(again, headers=bearer(again)) as api:
        runs = api.get(f"/api/connections/{cid}/runs").json()
        said = [(r["status"], r["error"], r["fix"]) for r in reversed(runs)]
    with TestClient(again, base_url="http://127.0.0.1:8000") as browser:
        sign_in(browser)
        page = browser.get(f"/connections/{cid}").text
    assert "launch it again for 2026-01-01 to 2026-03-31 on the Historical" in page
    assert said == [
        (
            "interrupted",
            "The service stopped during this run.",
            "Nothing to do: the next sync resumes where this one stopped (tables "
            "it finished are kept).",
        ),
        (
            "interrupted",
            "The service stopped during this run.",
            "A recovery does not resume on its own: launch it again for "
            "2026-01-01 to 2026-03-31 on the Historical data tab.",
        ),
        (
            "interrupted",
            "The service stopped before this run started.",
            "A recovery does not resume on its own: launch it again for "
            "2026-05-01 to 2026-05-03 on the Historical data tab.",
        ),
    ]

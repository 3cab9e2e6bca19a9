"""Profiles read in several `updated` ranges, pushed where it hurts: clocks
that ran ahead, historical bounds on crowded seconds, profiles edited while
twenty chains read, a chain that fails while the others run, a load that
fails under the readers, one reader resuming many ranges, and a Klaviyo that
returns the boundary of a greater-than filter."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import sys
import threading
import time
import traceback
import types
from pathlib import Path
from typing import Any

import pytest
from tests.faults.support import RecordingSandbox, config, key_count, serve, small
from tests.sync.support import assert_matches_ground_truth, read_table

from klaviyo_connector.load import state as state_module
from klaviyo_connector.load.state import (
    DATASET_ROW,
    STATE_TABLE,
    CursorState,
    parse_ranges,
)
from klaviyo_connector.load.warehouse import Warehouse
from klaviyo_connector.reports import DIMENSIONS
from klaviyo_connector.reports.base import parse_timestamp
from klaviyo_connector.sync import engine
from klaviyo_connector.sync.dimension import table_spec
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import Progress, RunKind, RunRequest, RunStatus

pytestmark = pytest.mark.slow

SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
PROFILES = 6000  # 60 pages of 100
_BOUND = re.compile(r"(greater-than|less-than)\(updated,([^)]+)\)")
_WHOLE_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# -- helpers --------------------------------------------------------------------------


def _sync(cfg: Any, **request: Any) -> Any:
    return run_sync(cfg, RunRequest(tables=("profile",), **request))


def _updated(sandbox: RecordingSandbox) -> dict[str, dt.datetime]:
    return {
        p["id"]: parse_timestamp(p["attributes"]["updated"])
        for p in sandbox.ground_truth("profile")
    }


def _chains(
    sandbox: RecordingSandbox, since: int = 0
) -> list[tuple[dt.datetime | None, ...]]:
    """[lower, upper) of each chain (from request `since` on): its first
    request has no page cursor."""
    out = []
    for x in sandbox.sent("/api/profiles")[since:]:
        query = dict(x.query)
        if "page[cursor]" in query or query.get("page[size]") == "1":
            continue
        bounds = dict(_BOUND.findall(query.get("filter", "")))
        lower = parse_timestamp(bounds.get("greater-than"))
        out.append(
            (
                (lower + SECOND) if lower else None,
                parse_timestamp(bounds.get("less-than")),
            )
        )
    return sorted(out, key=lambda r: r[0] or dt.datetime.min.replace(tzinfo=dt.UTC))


def _states(cfg: Any) -> list[dict[str, Any]]:
    rows = read_table(cfg, STATE_TABLE)
    return sorted(rows, key=lambda r: str(r["committed_at"]))


def _in_force(cfg: Any) -> CursorState:
    """The state the next sync starts from, as the engine reads it."""
    with Warehouse(cfg) as warehouse:
        return warehouse.cursors()["profile"]


def _clock_ahead(by: dt.timedelta) -> Any:
    """A `datetime` module whose `datetime.now` runs `by` ahead."""

    class Ahead(dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return dt.datetime.now(tz) + by

    shim = types.SimpleNamespace(
        **{name: getattr(dt, name) for name in dir(dt) if not name.startswith("_")}
    )
    shim.datetime = Ahead
    return shim


def _stop_after(rows: int, cancel: threading.Event) -> Any:
    def on_progress(event: Progress) -> None:
        if event.table == "profile" and event.rows >= rows:
            cancel.set()

    return on_progress


def _interrupted_after_2000(cfg: Any, sandbox: RecordingSandbox) -> Any:
    """A ranged sync on slow pages, stopped once 2000 profiles are committed."""
    sandbox.faults.add("slow", delay=0.03, count=None, path="/api/profiles")
    cancel = threading.Event()
    first = run_sync(
        cfg, RunRequest(tables=("profile",)), _stop_after(2000, cancel), cancel=cancel
    )
    assert first.interrupted, first.tables
    return first


def _reader_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("read-profile-") and t.is_alive()
    ]


# -- a state committed by a clock that ran ahead --------------------------------------


def test_a_state_committed_by_a_clock_that_ran_ahead_does_not_outlive_later_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupted sync on a machine whose clock ran a day ahead leaves
    `resume_ranges`; once its open-ended chain had finished, they are bounded.
    The clock is corrected, the next sync reads those ranges and succeeds; the
    sync after it must start from that success, not from the stale ranges
    (which it would read again, and nothing updated since)."""
    sandbox = RecordingSandbox(small(profiles=3000))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=4)
        assert _sync(cfg).status == RunStatus.SUCCEEDED
        cursor = _in_force(cfg).cursor
        moments = sorted(_updated(sandbox).values())
        lo, hi = moments[1000], moments[2000]
        with monkeypatch.context() as m:  # the clock a day ahead
            m.setattr(state_module, "dt", _clock_ahead(DAY))
            with Warehouse(cfg) as warehouse:
                warehouse.load(
                    table_spec(DIMENSIONS["profile"]),
                    [],
                    state=CursorState("profile", cursor, lo, ((lo, hi),)),
                    run_started_at=dt.datetime.now(dt.UTC) + DAY,
                )
        # The clock is right again: the stored range is trusted and read.
        before = len(sandbox.sent("/api/profiles"))
        resumed = _sync(cfg)
        assert resumed.status == RunStatus.SUCCEEDED, resumed.tables
        assert _chains(sandbox, before) == [(lo, hi)]

        changed = sandbox.mutate(share=0.05)
        third = _sync(cfg)
        assert third.status == RunStatus.SUCCEEDED, third.tables
        loaded = {r["id"] for r in read_table(cfg, "profile")}
        missing = [i for i in changed.created["profile"] if i not in loaded]
        in_force = _in_force(cfg)
        assert not missing, (
            f"{len(missing)} of {len(changed.created['profile'])} new profiles "
            f"never loaded by a successful sync; the state in force is still "
            f"{in_force} (committed a day ahead), so each sync reads "
            f"[{lo}, {hi}) again"
        )
        assert in_force.ranges is None
        assert_matches_ground_truth(cfg, sandbox, "profile")


def test_a_sync_interrupted_under_a_clock_a_day_ahead_is_resumed_once_not_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first sync on a machine whose clock runs a day ahead is interrupted;
    the clock is corrected and the next sync resumes it and succeeds. The
    sync after that must not resume the same ranges again."""
    sandbox = RecordingSandbox(small(profiles=PROFILES))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=4, profile_chunk_rows=1000)
        sandbox.faults.add("slow", delay=0.03, count=None, path="/api/profiles")
        cancel = threading.Event()
        with monkeypatch.context() as m:
            m.setattr(state_module, "dt", _clock_ahead(DAY))
            m.setattr(engine, "dt", _clock_ahead(DAY))
            stop = _stop_after(2000, cancel)
            first = run_sync(cfg, RunRequest(tables=("profile",)), stop, cancel=cancel)
        assert first.interrupted, first.tables
        left = _in_force(cfg).ranges
        assert left, "the interrupted sync left ranges"
        sandbox.faults.clear()
        second = _sync(cfg)
        assert second.status == RunStatus.SUCCEEDED, second.tables
        assert_matches_ground_truth(cfg, sandbox, "profile")
        third = _sync(cfg)
        assert third.status == RunStatus.SUCCEEDED, third.tables
        in_force = _in_force(cfg)
        assert in_force.ranges is None, (
            f"the ranges of the run committed a day ahead are still in force "
            f"after two successful syncs; the third re-read "
            f"{third.tables['profile'].rows} profiles of {PROFILES}"
        )
        # A 14-day lookback over three years of profiles: a few pages.
        assert third.tables["profile"].rows < PROFILES // 10


# -- historical ranges ----------------------------------------------------------------


def test_historical_ranges_keep_exactly_start_to_end_on_crowded_seconds(
    tmp_path: Path,
) -> None:
    """A backfill read in several chains keeps every profile updated in
    [start, end) and nothing else, when thousands share the boundary seconds;
    its filters are greater-than/less-than at whole UTC seconds with Z, and
    it leaves no cursor behind."""
    sandbox = RecordingSandbox(small(profiles=PROFILES))
    with serve(sandbox) as running:
        first = sandbox.mutate(share=0.3)  # 2700 profiles share one second
        time.sleep(1.2)
        second = sandbox.mutate(share=0.1)  # ~1000 more share a later one
        truth = _updated(sandbox)
        created = {p["id"]: p["attributes"]["created"] for p in
                   sandbox.ground_truth("profile")}  # fmt: skip
        s1 = parse_timestamp(created[first.created["profile"][0]])
        s2 = parse_timestamp(created[second.created["profile"][0]])
        assert s1 is not None
        assert s2 is not None
        assert s1 < s2
        assert sum(m == s1 for m in truth.values()) > 1000
        old = sorted(truth.values())[300]  # 30 pages of base profiles before s1
        cases = [(old, s1), (s1, s2), (old, s2 + SECOND), (old + SECOND / 2, s1)]
        cuts = 0
        for n, (start, end) in enumerate(cases):
            cfg = config(
                running, tmp_path / str(n), profile_readers=8, profile_chunk_rows=700
            )
            before = len(sandbox.sent("/api/profiles"))
            result = _sync(cfg, kind=RunKind.HISTORICAL, start=start, end=end)
            assert result.status == RunStatus.SUCCEEDED, result.tables
            want = {i for i, moment in truth.items() if start <= moment < end}
            got = [r["id"] for r in read_table(cfg, "profile")]
            assert len(got) == len(set(got))
            assert set(got) == want, (
                start,
                end,
                len(set(got) - want),
                len(want - set(got)),
            )
            assert result.tables["profile"].rows == len(want), (start, end)
            # No cursor: at most the row naming the account the dataset holds.
            states = read_table(cfg, STATE_TABLE) if _has_state(cfg) else []
            assert {row["table_name"] for row in states} <= {DATASET_ROW}
            cuts += len(_chains(sandbox, before)) - 1
            for x in sandbox.sent("/api/profiles")[before:]:
                text = dict(x.query).get("filter", "")
                ops = re.findall(r"([a-z-]+)\(updated,([^)]+)\)", text)
                assert ops, text
                for op, value in ops:
                    assert op in ("greater-than", "less-than"), text
                    assert _WHOLE_UTC.match(value), text
    assert cuts >= 3, "no range was cut"


def _has_state(cfg: Any) -> bool:
    try:
        read_table(cfg, STATE_TABLE)
    except Exception:
        return False
    return True


# -- profiles edited while twenty chains read -----------------------------------------


def test_profiles_edited_while_twenty_slow_chains_read_are_caught_up_without_lookback(
    tmp_path: Path,
) -> None:
    """Edits land while twenty chains read slow pages; the next sync, with no
    lookback at all, still ends equal to the ground truth with each profile
    once: the cursor never claims a change the first sync did not load."""
    sandbox = RecordingSandbox(small(profiles=PROFILES, latency=0.3))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=20, profile_chunk_rows=800)
        done = threading.Event()

        def edit() -> None:
            while not done.wait(0.25):
                sandbox.mutate(share=0.005)

        editor = threading.Thread(target=edit, daemon=True)
        editor.start()
        try:
            first = _sync(cfg)
        finally:
            done.set()
            editor.join()
        assert first.status == RunStatus.SUCCEEDED, first.tables
        assert sandbox.store.mutations >= 3
        rows, distinct = key_count(cfg, "profile")
        assert rows == distinct
        assert len(_chains(sandbox)) >= 3
        second = _sync(cfg, lookback_days=0)
        assert second.status == RunStatus.SUCCEEDED, second.tables
        assert_matches_ground_truth(cfg, sandbox, "profile")
        total = len(_updated(sandbox))
        assert key_count(cfg, "profile") == (total, total)


# -- a chain that fails while the others run ------------------------------------------


def test_a_chain_failing_mid_read_ends_the_sync_promptly_and_the_resume_converges(
    tmp_path: Path,
) -> None:
    """Transient 503s and 429s in some chains are retried without losing or
    doubling a row; a 503 that exhausts its only attempt fails the table at
    once (slow pages in flight on other chains), keeps the committed chunks
    and their ranges, and the next sync converges."""
    sandbox = RecordingSandbox(small(profiles=PROFILES, latency=0.1))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=8, profile_chunk_rows=500)
        sandbox.faults.add("status", status=503, count=3, path="/api/profiles", after=8)
        sandbox.faults.add(
            "throttle", count=3, retry_after=0.2, path="/api/profiles", after=15
        )
        clean = _sync(cfg)
        assert clean.status == RunStatus.SUCCEEDED, clean.tables
        assert clean.tables["profile"].rows == PROFILES
        assert key_count(cfg, "profile") == (PROFILES, PROFILES)

    sandbox = RecordingSandbox(small(profiles=PROFILES, latency=0.1))
    with serve(sandbox) as running:
        cfg = config(
            running,
            tmp_path / "2",
            profile_readers=8,
            profile_chunk_rows=500,
            max_attempts=1,
        )
        sandbox.faults.add(
            "status", status=503, count=1, path="/api/profiles", after=30
        )
        started = time.monotonic()
        broken = _sync(cfg)
        took = time.monotonic() - started
        assert broken.status != RunStatus.SUCCEEDED
        assert broken.tables["profile"].error
        assert took < 15, took
        committed, distinct = key_count(cfg, "profile")
        assert committed == distinct >= 500
        ranges = parse_ranges(_states(cfg)[-1]["resume_ranges"])
        assert ranges, "the committed chunks keep what each range has left"
        for (_, upper), (lower, _) in itertools.pairwise(ranges):
            assert upper is not None
            assert lower is not None
            assert upper <= lower
        again = _sync(cfg)
        assert again.status == RunStatus.SUCCEEDED, again.tables
        assert_matches_ground_truth(cfg, sandbox, "profile")
        assert key_count(cfg, "profile") == (PROFILES, PROFILES)
        # Each range re-reads at most its restart second: no full re-read.
        assert again.tables["profile"].rows <= PROFILES - committed + 100 * len(ranges)


# -- a load that fails under the readers ----------------------------------------------


def test_the_readers_stop_when_the_load_under_them_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that fails (here an unexpected error, logged with its
    traceback) ends the table; the range readers must stop with it, not keep
    reading or polling a closed client for as long as that traceback lives."""
    sandbox = RecordingSandbox(small(profiles=PROFILES, latency=0.05))
    real_load = Warehouse.load
    calls = {"profile": 0}

    def failing_load(self: Warehouse, spec: Any, rows: Any, **kwargs: Any) -> int:
        if spec.name == "profile":
            calls["profile"] += 1
            if calls["profile"] == 2:
                raise RuntimeError("the warehouse disk is full")
        return real_load(self, spec, rows, **kwargs)

    monkeypatch.setattr(Warehouse, "load", failing_load)
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=8, profile_chunk_rows=500)
        result = _sync(cfg)
        assert result.tables["profile"].error, result.tables
        ended = len(sandbox.sent("/api/profiles"))
        # In-flight requests may finish their retries (max_attempts=4), no more.
        deadline = time.monotonic() + 15
        while _reader_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        lingering = _reader_threads()
        later = len(sandbox.sent("/api/profiles")) - ended
        frames = sys._current_frames()
        where = [
            "".join(traceback.format_stack(frames[t.ident])[-3:])
            for t in lingering
            if t.ident in frames
        ]
    assert not lingering, (
        f"{len(lingering)} reader threads still alive 15 s after the sync "
        f"returned ({later} profile requests after it):\n" + "\n".join(where)
    )


# -- one reader resuming many ranges --------------------------------------------------


def test_one_reader_resumes_every_range_a_wider_sync_left(tmp_path: Path) -> None:
    sandbox = RecordingSandbox(small(profiles=PROFILES))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=6, profile_chunk_rows=1000)
        first = _interrupted_after_2000(cfg, sandbox)
        ranges = parse_ranges(_states(cfg)[-1]["resume_ranges"])
        assert ranges is not None
        assert len(ranges) >= 2, ranges
        committed = key_count(cfg, "profile")[0]
        sandbox.faults.clear()
        one = config(running, tmp_path, profile_readers=1, profile_chunk_rows=1000)
        before = len(sandbox.sent("/api/profiles"))
        second = _sync(one)
        assert second.status == RunStatus.SUCCEEDED, second.tables
        assert len(sandbox.sent("/api/profiles")) - before <= (
            (PROFILES - committed) // 100 + 2 * len(ranges)
        )
        assert_matches_ground_truth(cfg, sandbox, "profile")
        assert key_count(cfg, "profile") == (PROFILES, PROFILES)
        assert first.tables["profile"].rows + second.tables["profile"].rows <= (
            PROFILES + 100 * len(ranges)
        )
        assert _states(cfg)[-1]["resume_ranges"] is None


# -- a Klaviyo that returns the boundary ----------------------------------------------


def test_a_greater_than_that_returns_its_boundary_loads_and_counts_each_profile_once(
    tmp_path: Path,
) -> None:
    sandbox = RecordingSandbox(
        small(profiles=PROFILES, quirks=frozenset({"boundary_repeat"}))
    )
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=6, profile_chunk_rows=700)
        result = _sync(cfg)
        assert result.status == RunStatus.SUCCEEDED, result.tables
        assert result.tables["profile"].rows == PROFILES
        assert not result.tables["profile"].warnings
        assert len(_chains(sandbox)) >= 4
        assert key_count(cfg, "profile") == (PROFILES, PROFILES)
        assert_matches_ground_truth(cfg, sandbox, "profile")


# -- cuts racing slow pages in flight -------------------------------------------------


def test_cuts_racing_twenty_slow_chains_leave_disjoint_ranges_outside_every_commit(
    tmp_path: Path,
) -> None:
    """Twenty chains on 200 ms answers: cuts land while pages are in flight.
    What an interrupted sync leaves is disjoint and in order, every committed
    profile lies outside it, and the resume reads only it and converges."""
    profiles = 20_000
    sandbox = RecordingSandbox(small(profiles=profiles, latency=0.2))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=20, profile_chunk_rows=1000)
        cancel = threading.Event()
        first = run_sync(
            cfg,
            RunRequest(tables=("profile",)),
            _stop_after(6000, cancel),
            cancel=cancel,
        )
        assert first.interrupted, first.tables
        assert len(_chains(sandbox)) >= 8
        committed, distinct = key_count(cfg, "profile")
        assert committed == distinct >= 6000
        assert first.tables["profile"].rows == committed
        ranges = parse_ranges(_states(cfg)[-1]["resume_ranges"])
        assert ranges is not None
        assert len(ranges) >= 4, ranges
        for (_, upper), (lower, _) in itertools.pairwise(ranges):
            assert upper is not None
            assert lower is not None
            assert upper <= lower
        inside = [
            r["id"]
            for r in read_table(cfg, "profile")
            for lower, upper in ranges
            if (lower is None or r["updated"] > lower)
            and (upper is None or r["updated"] < upper)
        ]
        assert not inside, f"{len(inside)} committed profiles lie inside a range left"
        before = len(sandbox.sent("/api/profiles"))
        second = _sync(cfg)
        assert second.status == RunStatus.SUCCEEDED, second.tables
        resumed = len(sandbox.sent("/api/profiles")) - before
        assert_matches_ground_truth(cfg, sandbox, "profile")
    assert key_count(cfg, "profile") == (profiles, profiles)
    chains = len(_chains(sandbox, before))
    assert resumed <= (profiles - committed) // 100 + len(ranges) + chains
    assert second.tables["profile"].rows <= profiles - committed + len(ranges) * 100


# -- edits between an interrupted sync and its resume ---------------------------------


def test_edits_between_an_interrupted_sync_and_its_resume_are_not_skipped(
    tmp_path: Path,
) -> None:
    """Profiles edited after a ranged sync was interrupted move out of the
    ranges it left; the resume and the sync after it (no lookback) load
    them all the same."""
    sandbox = RecordingSandbox(small(profiles=PROFILES))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=6, profile_chunk_rows=1000)
        _interrupted_after_2000(cfg, sandbox)
        sandbox.faults.clear()
        sandbox.mutate(share=0.2)
        assert _sync(cfg, lookback_days=0).status == RunStatus.SUCCEEDED
        sandbox.mutate(share=0.05)
        assert _sync(cfg, lookback_days=0).status == RunStatus.SUCCEEDED
        assert_matches_ground_truth(cfg, sandbox, "profile")
        total = len(_updated(sandbox))
        assert key_count(cfg, "profile") == (total, total)


# -- ranges stored ahead of the clock -------------------------------------------------


def test_ranges_stored_ahead_of_the_clock_are_distrusted_and_everything_reread(
    tmp_path: Path,
) -> None:
    sandbox = RecordingSandbox(small(profiles=2000))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=4)
        assert _sync(cfg).status == RunStatus.SUCCEEDED
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        ahead = ((now - DAY, now + DAY), (now + 2 * DAY, None))
        with Warehouse(cfg) as warehouse:
            warehouse.load(
                table_spec(DIMENSIONS["profile"]),
                [],
                state=CursorState("profile", now - DAY, now - DAY, ahead),
                run_started_at=now,
            )
        changed = sandbox.mutate(share=0.1)
        assert changed.updated["profile"]
        result = _sync(cfg, lookback_days=0)
        assert result.status == RunStatus.SUCCEEDED, result.tables
        (warning,) = result.tables["profile"].warnings
        assert "was later than this run's start" in warning
        assert result.tables["profile"].rows == len(_updated(sandbox))
        assert _in_force(cfg).ranges is None
        assert _in_force(cfg).cursor <= result.started_at
        assert_matches_ground_truth(cfg, sandbox, "profile")

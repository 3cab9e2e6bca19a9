"""Profiles read in several `updated` ranges at once: the ranges partition the
window (no record read into two, none missed), each range is one cursor chain,
and an interrupted sync leaves exactly the unread parts of each range for the
next one."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from pathlib import Path

import pytest
from tests.faults.support import RecordingSandbox, config, key_count, serve, small
from tests.sync.support import assert_matches_ground_truth, read_table

from klaviyo_connector.load.state import STATE_TABLE, parse_ranges, ranges_text
from klaviyo_connector.reports.base import parse_timestamp
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import Progress, RunRequest, RunStatus

pytestmark = pytest.mark.slow

PROFILES = 6000  # 60 pages of 100
SECOND = dt.timedelta(seconds=1)
_BOUND = re.compile(r"(greater-than|less-than)\(updated,([^)]+)\)")


def _range_of(query: dict[str, str]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[lower, upper) of a chain's first request: greater-than one second early."""
    bounds = dict(_BOUND.findall(query.get("filter", "")))
    lower = parse_timestamp(bounds.get("greater-than"))
    upper = parse_timestamp(bounds.get("less-than"))
    return (lower + SECOND if lower else None), upper


def _chains(sandbox: RecordingSandbox) -> list[tuple[dt.datetime | None, ...]]:
    """The range of every chain: requests without a page cursor start one."""
    firsts = [
        dict(x.query)
        for x in sandbox.sent("/api/profiles")
        if "page[cursor]" not in dict(x.query)
    ]
    return sorted(
        (_range_of(q) for q in firsts),
        key=lambda r: r[0] or dt.datetime.min.replace(tzinfo=dt.UTC),
    )


def test_a_large_read_runs_several_chains_whose_ranges_partition_it(
    tmp_path: Path,
) -> None:
    # Answers that take a while: one chain alone would keep the rate low.
    sandbox = RecordingSandbox(small(profiles=PROFILES, latency=0.05))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=4)
        result = run_sync(cfg, RunRequest(tables=("profile",)))
        assert result.status == RunStatus.SUCCEEDED, result.tables
        assert_matches_ground_truth(cfg, sandbox, "profile")
    assert key_count(cfg, "profile") == (PROFILES, PROFILES)
    assert result.tables["profile"].rows == PROFILES  # nothing counted twice

    chains = _chains(sandbox)
    assert len(chains) >= 4, chains
    # From the very first record on; each chain starts at its own cut.
    lowers = [lower for lower, _ in chains]
    assert lowers[0] is None
    assert all(lower is not None for lower in lowers[1:])
    assert lowers[1:] == sorted(set(lowers[1:]))  # type: ignore[type-var]
    # Each cut costs at most one page that is not full: the cut chain's last,
    # which may reach past the cut (those rows are the next chain's).
    pages = len(sandbox.sent("/api/profiles"))
    assert PROFILES // 100 <= pages <= PROFILES // 100 + len(chains) - 1
    answered = [i for x in sandbox.sent("/api/profiles") for i in x.ids]
    assert len(set(answered)) == PROFILES
    assert len(answered) - PROFILES <= 100 * (len(chains) - 1)


def test_one_reader_reads_one_chain(tmp_path: Path) -> None:
    sandbox = RecordingSandbox(small(profiles=2000))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=1)
        result = run_sync(cfg, RunRequest(tables=("profile",)))
        assert result.status == RunStatus.SUCCEEDED, result.tables
        assert_matches_ground_truth(cfg, sandbox, "profile")
    assert _chains(sandbox) == [(None, None)]
    assert len(sandbox.sent("/api/profiles")) == 20


def _states(cfg: object) -> list[dict[str, object]]:
    rows = read_table(cfg, STATE_TABLE)  # type: ignore[arg-type]
    return sorted(rows, key=lambda r: str(r["committed_at"]))


def test_an_interrupted_ranged_read_leaves_each_range_s_unread_part(
    tmp_path: Path,
) -> None:
    sandbox = RecordingSandbox(small(profiles=PROFILES))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, profile_readers=4, profile_chunk_rows=1000)
        # Slow pages: the chains are all running when the sync is stopped.
        sandbox.faults.add("slow", delay=0.03, count=None, path="/api/profiles")
        cancel = threading.Event()

        def stop_after_two_commits(event: Progress) -> None:
            if event.table == "profile" and event.rows >= 2000:
                cancel.set()

        first = run_sync(
            cfg,
            RunRequest(tables=("profile",)),
            stop_after_two_commits,
            cancel=cancel,
        )
        assert first.interrupted, first.tables
        committed, distinct = key_count(cfg, "profile")
        assert committed == distinct >= 2000
        last = _states(cfg)[-1]
        ranges = parse_ranges(last["resume_ranges"])
        assert ranges is not None
        assert len(ranges) >= 2, ranges
        assert last["cursor_at"] is None  # a first sync: no cursor until it ends
        # What is left is disjoint, in order, and everything committed lies
        # outside it (or on the boundary second a range restarts from).
        for (_, upper), (lower, _) in itertools.pairwise(ranges):
            assert upper is not None
            assert lower is not None
            assert upper <= lower
        loaded = {
            r["id"]: parse_timestamp(r["updated"]) for r in read_table(cfg, "profile")
        }
        inside = [
            moment
            for moment in loaded.values()
            for lower, upper in ranges
            if (lower is None or moment > lower) and (upper is None or moment < upper)
        ]
        assert not inside, "a committed profile lies inside a range left to read"

        sandbox.faults.clear()
        before = len(sandbox.sent("/api/profiles"))
        second = run_sync(cfg, RunRequest(tables=("profile",)))
        assert second.status == RunStatus.SUCCEEDED, second.tables
        resumed = len(sandbox.sent("/api/profiles")) - before
        assert_matches_ground_truth(cfg, sandbox, "profile")
    assert key_count(cfg, "profile") == (PROFILES, PROFILES)
    # The resumed run reads what was left, not the committed pages again: at
    # most one page more per range it restarts and per cut it makes.
    assert resumed <= PROFILES // 100 - committed // 100 + len(ranges) + 4
    final = _states(cfg)[-1]
    assert final["resume_ranges"] is None
    assert final["resume_after"] is None
    assert final["cursor_at"] is not None


def test_ranges_survive_their_text_form() -> None:
    t = dt.datetime(2026, 3, 1, 12, 0, 5, 250000, tzinfo=dt.UTC)
    ranges = ((None, t), (t, t + SECOND), (t + SECOND, None))
    assert parse_ranges(ranges_text(ranges)) == ranges
    assert ranges_text(None) is None
    assert parse_ranges(None) is None
    assert parse_ranges("not json") is None
    assert parse_ranges('[["2026-03-01T00:00:00Z"]]') is None  # a bound missing

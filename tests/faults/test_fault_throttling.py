"""429 storms: the client waits what Retry-After says and finishes; only a storm
that outlasts the retry budget fails its table, and the next sync converges."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.faults.support import (
    VirtualTime,
    assert_converged,
    config,
    serve,
    small,
    spy_on_client,
    sync,
)

from klaviyo_connector.sandbox import Sandbox
from klaviyo_connector.sync.models import RunStatus

pytestmark = pytest.mark.slow

STORM = 3


@pytest.mark.parametrize("retry_after", [1.0, 0.5])
def test_a_429_storm_is_waited_out_as_told(
    retry_after: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox(small())
    spy = spy_on_client(monkeypatch)
    with serve(sandbox) as running:
        sandbox.faults.add(
            "throttle", retry_after=retry_after, count=STORM, path="/api/profiles"
        )
        cfg = config(running, tmp_path)
        started = time.monotonic()
        result = sync(cfg, "profile", "list")
        elapsed = time.monotonic() - started

        assert result.status == RunStatus.SUCCEEDED, result.tables
        assert sandbox.requests.throttled == STORM
        assert spy.stats.throttled == STORM
        assert spy.stats.retries == STORM
        # Every 429 was waited out in real time, never retried early.
        assert elapsed >= STORM * retry_after
        assert spy.stats.waited >= STORM * retry_after
        assert_converged(cfg, sandbox, ("profile", "list"))


def test_a_60_second_retry_after_is_honoured_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three 60 s resets fit the 300 s budget: the client sleeps each one in
    full (on a virtual clock, so the test does not wait three minutes)."""
    sandbox, clock = Sandbox(small()), VirtualTime()
    spy = spy_on_client(monkeypatch, clock=clock.clock, sleep=clock.sleep)
    with serve(sandbox) as running:
        sandbox.faults.add("throttle", retry_after=60, count=STORM, path="/api/lists")
        cfg = config(running, tmp_path)
        result = sync(cfg, "list", "segment")

        assert result.status == RunStatus.SUCCEEDED, result.tables
        assert sandbox.requests.throttled == STORM
        assert spy.stats.throttled == STORM
        long_waits = [s for s in clock.sleeps if s >= 60]
        assert len(long_waits) == STORM
        assert all(s < 61.1 for s in long_waits)  # as told, plus a little jitter
        assert_converged(cfg, sandbox, ("list", "segment"))


def test_a_storm_longer_than_the_budget_fails_only_its_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, clock = Sandbox(small()), VirtualTime()
    spy = spy_on_client(monkeypatch, clock=clock.clock, sleep=clock.sleep)
    with serve(sandbox) as running:
        sandbox.faults.add("throttle", retry_after=60, count=None, path="/api/lists")
        cfg = config(running, tmp_path, max_wait=300.0)
        result = sync(cfg, "list", "segment")

        assert result.status == RunStatus.PARTIAL
        lists = result.tables["list"]
        assert (lists.error or "").startswith(
            "Klaviyo kept throttling GET /api/lists (429 throttled: "
        )
        assert "the most the connector waits" in (lists.error or "")
        assert "the next run continues where this one stopped" in (lists.fix or "")
        assert result.tables["segment"].ok
        # It kept trying for the whole budget, never beyond it.
        assert 240 <= sum(clock.sleeps) <= 300 + 5
        assert spy.stats.throttled >= 4

        sandbox.faults.clear()
        assert_converged(cfg, sandbox, ("list", "segment"))

"""Server errors, dropped connections, timeouts, DNS failures, cut-short and
non-JSON bodies: retried with backoff and survived; when they persist, one
clear error naming the endpoint fails only that table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.faults.support import (
    DnsOutage,
    FlakyDns,
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

# (fault options, engine overrides, what the final error says)
TRANSIENT: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "500": ({"kind": "status", "status": 500}, {}, "(500 error: "),
    "502": ({"kind": "status", "status": 502}, {}, "(502 error: "),
    "503": ({"kind": "status", "status": 503}, {}, "(503 error: "),
    "504": ({"kind": "status", "status": 504}, {}, "(504 error: "),
    "reset": (
        {"kind": "reset"},
        {},
        ": the connection was reset or closed mid-answer.",
    ),
    "timeout": (
        {"kind": "slow", "delay": 1.5},
        {"timeout": 0.4},
        ": the answer timed out.",
    ),
    "truncated": (
        {"kind": "truncated"},
        {},
        "answered 200 with a body that is not valid JSON (cut short or malformed).",
    ),
    "html 403": (
        {"kind": "html", "status": 403},
        {},
        "answered 403 with an HTML page instead of Klaviyo's JSON.",
    ),
}


@pytest.mark.parametrize("name", list(TRANSIENT))
def test_a_passing_fault_is_retried_and_the_data_is_whole(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault, overrides, _ = TRANSIENT[name]
    sandbox = Sandbox(small())
    spy = spy_on_client(monkeypatch)
    with serve(sandbox) as running:
        sandbox.faults.add(**fault, count=2, path="/api/lists")
        cfg = config(running, tmp_path, **overrides)
        result = sync(cfg, "list")

        assert result.status == RunStatus.SUCCEEDED, result.tables
        assert sandbox.requests.faulted == 2
        assert spy.stats.retries == 2
        # Backoff, not a hammering loop: the first step waits at least 0.25 s.
        assert spy.stats.waited >= 0.25 + 0.5
        assert_converged(cfg, sandbox, ("list",))


@pytest.mark.parametrize("name", list(TRANSIENT))
def test_a_persistent_fault_fails_its_table_with_a_clear_error(
    name: str, tmp_path: Path
) -> None:
    fault, overrides, says = TRANSIENT[name]
    sandbox = Sandbox(small())
    with serve(sandbox) as running:
        sandbox.faults.add(**fault, count=None, path="/api/lists")
        cfg = config(running, tmp_path, max_attempts=2, **overrides)
        result = sync(cfg, "list", "segment")

        assert result.status == RunStatus.PARTIAL
        error = result.tables["list"].error or ""
        assert "GET /api/lists" in error
        assert says in error, error
        assert error.endswith("Gave up after 2 attempts.")
        assert result.tables["list"].fix
        assert result.tables["segment"].ok

        sandbox.faults.clear()
        assert_converged(cfg, sandbox, ("list", "segment"))


def test_an_html_400_from_a_proxy_is_a_clear_error_not_a_crash(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(small())
    with serve(sandbox) as running:
        sandbox.faults.add("html", status=400, count=None, path="/api/segments")
        cfg = config(running, tmp_path)
        result = sync(cfg, "list", "segment")

        assert result.status == RunStatus.PARTIAL
        segment = result.tables["segment"]
        assert segment.error == (
            "GET /api/segments answered 400 with an HTML page instead of "
            "Klaviyo's JSON."
        )
        assert "proxy or firewall" in (segment.fix or "")
        # A 400 proxy page is not retried: it would not change.
        assert sandbox.requests[("GET", "/api/segments")] == 1
        assert result.tables["list"].ok

        sandbox.faults.clear()
        assert_converged(cfg, sandbox, ("list", "segment"))


def test_a_failed_dns_lookup_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox(small())
    spy = spy_on_client(monkeypatch, transport=FlakyDns(failures=2))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        result = sync(cfg, "list")

        assert result.status == RunStatus.SUCCEEDED, result.tables
        assert spy.stats.retries == 2
        assert_converged(cfg, sandbox, ("list",))


def _dns_outage_mid_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failures: int | None,
    converge: bool = True,
) -> tuple[Any, DnsOutage, Any, Any]:
    """A profile read whose third page meets a DNS outage of `failures`
    attempts (None: one that lasts), after two pages came back; once the
    outage is over, the next sync converges."""
    sandbox = Sandbox(small(profiles=450))
    outage = DnsOutage("/api/profiles", after=2, failures=failures)
    spy = spy_on_client(monkeypatch, transport=outage)
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        result = sync(cfg, "profile", "list")
        stats = spy.stats
        outage.failures = len(outage.failed)
        if converge:
            assert_converged(cfg, sandbox, ("profile", "list"))
    return result, outage, stats, cfg


def test_a_dns_failure_in_the_middle_of_a_read_is_retried_with_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, outage, stats, _ = _dns_outage_mid_read(tmp_path, monkeypatch, 2)

    assert result.status == RunStatus.SUCCEEDED, result.tables
    assert result.tables["profile"].rows == 450
    ((first, page), (second, again)) = outage.failed
    assert [failed for *_, failed in outage.attempts[:2]] == [False, False]
    # The third page itself was asked again, not the read started over.
    (then, retried, failed) = outage.attempts[4]
    assert page == again == retried
    assert not failed
    # Equal-jitter backoff: at least 0.25 s, then at least 0.5 s.
    assert second - first >= 0.25
    assert then - second >= 0.5
    assert stats.retries == 2
    assert stats.waited >= 0.25 + 0.5


def test_a_dns_outage_that_lasts_stops_the_run_after_its_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, outage, stats, cfg = _dns_outage_mid_read(tmp_path, monkeypatch, None)

    assert result.status == RunStatus.FAILED
    assert result.error == (
        f"Could not reach Klaviyo at {cfg.base_url}: the host name did not "
        "resolve (DNS); check the network and the base URL."
    )
    # Three tries of the same page, backing off between them, then it stops.
    times = [t for t, _ in outage.failed]
    assert len(times) == 3
    assert len({url for _, url in outage.failed}) == 1
    assert times[1] - times[0] >= 0.25
    assert times[2] - times[1] >= 0.5
    assert stats.retries == 2
    assert result.tables["profile"].stopped
    assert result.tables["profile"].rows == 0, "no half-read chunk was loaded"


def test_a_dns_outage_that_lasts_names_the_endpoint_and_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, *_ = _dns_outage_mid_read(tmp_path, monkeypatch, None, converge=False)

    own = result.tables["profile"].error or ""
    run = result.error or ""
    assert "GET /api/profiles" in own or (
        "GET /api/profiles" in run and "profile table" in run
    ), (run, own)


def test_an_unresolvable_host_stops_the_run_at_once_saying_so_once(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(small())
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, base_url="http://klaviyo-fault.invalid")
        result = sync(cfg, "list", "segment")

    assert result.status == RunStatus.FAILED
    assert result.error == (
        "Could not reach Klaviyo at http://klaviyo-fault.invalid: the host name did "
        "not resolve (DNS); check the network and the base URL."
    )
    for table in ("list", "segment"):
        assert result.tables[table].stopped
        assert result.tables[table].requests == 0
    assert sandbox.requests.total == 0
    # Nothing was created for a run that could not start.
    assert not cfg.duckdb_path.exists()
    assert not cfg.data_dir.exists()

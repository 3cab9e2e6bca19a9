"""Keys that stop working or never could: a key revoked mid-run stops the run
cleanly and leaves the warehouse consistent; a key without one scope skips
only the tables that need it; a public key is refused before any request."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.faults.support import (
    DIMENSIONS,
    assert_converged,
    config,
    key_count,
    serve,
    small,
    sync,
)
from typer.testing import CliRunner

from klaviyo_connector.cli import app
from klaviyo_connector.errors import ConfigError
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.sandbox import Sandbox
from klaviyo_connector.sandbox.config import ALL_SCOPES
from klaviyo_connector.sync.check import KEY_REJECTED, check_connection
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

pytestmark = pytest.mark.slow

SECOND_KEY = "pk_" + "Revokable0" * 3 + "4321"
PUBLIC_KEY = "XfPy36"


def _cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in ("KLAVIYO_API_KEY", "KLAVIYO_BASE_URL", "KLAVIYO_TABLES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def test_a_key_revoked_mid_run_stops_cleanly_and_a_good_key_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox(small(scoped_keys={SECOND_KEY: ALL_SCOPES}))
    with serve(sandbox) as running:
        # Two pages of profiles commit, then the key is revoked on the third.
        sandbox.faults.add("revoke", after=2, path="/api/profiles")
        env = {
            "KLAVIYO_API_KEY": SECOND_KEY,
            "KLAVIYO_BASE_URL": running.base_url,
            "KLAVIYO_PROFILE_CHUNK_ROWS": "100",
            "KLAVIYO_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
            "KLAVIYO_DATA_DIR": str(tmp_path / "connector-data"),
        }
        cli = _cli(tmp_path, monkeypatch)
        stopped = cli.invoke(app, ["sync", "--tables", "profile"], env=env)

        assert stopped.exit_code == 1
        assert f"Sync failed: {KEY_REJECTED}" in stopped.output
        assert "Traceback" not in stopped.output
        cfg = config(running, tmp_path)
        # Exactly the committed chunks are in, each once; no half chunk.
        assert key_count(cfg, "profile") == (200, 200)

        converged = assert_converged(cfg, sandbox, DIMENSIONS)
        # The good key's run continued after the committed chunks.
        assert converged.tables["profile"].rows <= 300 - 200 + 1


def read_table_missing(cfg, table: str) -> bool:  # type: ignore[no-untyped-def]
    with warehouse_reader(cfg) as reader:
        return reader.count(table) is None


def test_a_rejected_key_mid_run_cancels_the_other_tables(tmp_path: Path) -> None:
    sandbox = Sandbox(small(lists=60, scoped_keys={SECOND_KEY: ALL_SCOPES}))
    with serve(sandbox) as running:
        sandbox.faults.add("slow", delay=0.3, count=None, path="/api/lists")
        sandbox.faults.add("revoke", path="/api/profiles")
        cfg = config(running, tmp_path, api_key=ApiKey(SECOND_KEY))
        result = sync(cfg, "profile", "list")

        assert result.status == RunStatus.FAILED
        assert result.error == KEY_REJECTED
        # Either cancelled between pages or refused itself: stopped either way,
        # and said once, for the run.
        assert result.tables["list"].stopped
        assert result.tables["profile"].stopped
        assert result.tables["profile"].requests >= 1
        # The list table stopped reading instead of finishing its six pages.
        assert sandbox.requests[("GET", "/api/lists")] < 6
        assert read_table_missing(config(running, tmp_path), "list")
        assert_converged(config(running, tmp_path), sandbox, ("profile", "list"))


@pytest.mark.parametrize(
    ("scope", "skipped"),
    [
        ("profiles:read", ("profile",)),
        ("metrics:read", ("campaign_performance_stats",)),
        ("campaigns:read", ("campaign", "campaign_performance_stats")),
    ],
)
def test_a_key_without_one_scope_skips_only_the_tables_that_need_it(
    scope: str, skipped: tuple[str, ...], tmp_path: Path
) -> None:
    sandbox = Sandbox(small(scoped_keys={SECOND_KEY: ALL_SCOPES - {scope}}))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path, api_key=ApiKey(SECOND_KEY))
        tables = ("list", "profile", "campaign", "campaign_performance_stats")
        result = run_sync(cfg, RunRequest(tables=tables))

        assert result.status == RunStatus.PARTIAL
        for table in tables:
            outcome = result.tables[table]
            if table in skipped:
                assert f"the key lacks `{scope}`" in (outcome.error or "")
                assert outcome.fix == (
                    f"Add `{scope}` in Klaviyo > Settings > API Keys, or deselect "
                    f"the {table} table."
                )
            else:
                assert outcome.ok, outcome
        with warehouse_reader(cfg) as reader:
            counts = reader.counts()
        assert all(counts[t] is None for t in skipped)
        assert counts["list"]

        # With the scope granted, the next sync fills the skipped tables.
        assert_converged(config(running, tmp_path), sandbox, tables)


def test_a_public_key_is_refused_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox(small())
    with serve(sandbox) as running:
        cli = _cli(tmp_path, monkeypatch)
        env = {"KLAVIYO_API_KEY": PUBLIC_KEY, "KLAVIYO_BASE_URL": running.base_url}
        for command in (["sync"], ["check"], ["backfill", "--from", "2024-01-01"]):
            result = cli.invoke(app, command, env=env)
            assert result.exit_code == 2, (command, result.output)
            assert "public key (site ID)" in result.output
            assert PUBLIC_KEY not in result.output
        public = config(running, tmp_path, api_key=ApiKey(PUBLIC_KEY))
        with pytest.raises(ConfigError, match="public key"):
            run_sync(public, RunRequest())
        with pytest.raises(ConfigError, match="public key"):
            check_connection(ApiKey(PUBLIC_KEY), base_url=running.base_url)

        assert sandbox.requests.total == 0
        # Nor was the warehouse opened.
        assert not (tmp_path / "klaviyo-warehouse.duckdb").exists()
        assert not (tmp_path / "warehouse.duckdb").exists()

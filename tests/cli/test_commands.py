"""The command line over a served sandbox: exit codes and the words users read."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from tests.conftest import POSTGRES_URL, StartSandbox
from typer.core import TyperGroup
from typer.testing import CliRunner

from klaviyo_connector.cli import app
from klaviyo_connector.cli.demo import SAMPLE_QUERY
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sandbox.config import ALL_SCOPES
from klaviyo_connector.sync.models import TABLES

pytestmark = pytest.mark.slow

LIMITED = "pk_" + "noseg" * 6 + "abcd"
NO_ACCOUNT = "pk_" + "noacc" * 6 + "abcd"
REJECTED = (
    "Error: Klaviyo rejected the API key: check it in Klaviyo > Settings > API Keys "
    "(it may be mistyped, revoked or from another account)."
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in ("KLAVIYO_API_KEY", "KLAVIYO_BASE_URL", "KLAVIYO_TABLES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


@pytest.fixture
def sandbox(start_sandbox: StartSandbox) -> RunningSandbox:
    return start_sandbox(
        scoped_keys={
            LIMITED: ALL_SCOPES - {"segments:read"},
            NO_ACCOUNT: ALL_SCOPES - {"accounts:read"},
        }
    )


def env(running: RunningSandbox, key: str | None = None) -> dict[str, str]:
    return {
        "KLAVIYO_API_KEY": key or running.api_key,
        "KLAVIYO_BASE_URL": running.base_url,
    }


def test_check_shows_account_scopes_and_metric(
    cli: CliRunner, sandbox: RunningSandbox
) -> None:
    result = cli.invoke(app, ["check"], env=env(sandbox))
    assert result.exit_code == 0, result.output
    assert "Klaviyo account: " in result.output
    assert "Key: pk_…0000" in result.output
    assert sandbox.api_key not in result.output
    assert "Conversion metric: Placed Order (" in result.output
    assert "Shopify" in result.output
    for table in (
        "campaign",
        "list",
        "segment",
        "profile",
        "campaign_performance_stats",
    ):
        assert table in result.output


def test_check_with_a_missing_scope_says_which_to_add(
    cli: CliRunner, sandbox: RunningSandbox
) -> None:
    result = cli.invoke(app, ["check"], env=env(sandbox, LIMITED))
    assert result.exit_code == 1
    assert (
        "segment: The key lacks `segments:read`: add it in Klaviyo > Settings > "
        "API Keys, or deselect the segment table."
    ) in result.output
    narrowed = cli.invoke(
        app, ["check", "--tables", "campaign,list"], env=env(sandbox, LIMITED)
    )
    assert narrowed.exit_code == 0, narrowed.output


def test_quiet_check_prints_only_the_tables_that_cannot_sync(
    cli: CliRunner, sandbox: RunningSandbox
) -> None:
    clean = cli.invoke(app, ["check", "-q"], env=env(sandbox))
    assert clean.exit_code == 0, clean.output
    assert clean.output == ""
    limited = cli.invoke(app, ["check", "-q"], env=env(sandbox, LIMITED))
    assert limited.exit_code == 1
    assert limited.output == (
        "segment: The key lacks `segments:read`: add it in Klaviyo > Settings > "
        "API Keys, or deselect the segment table.\n"
    )


def test_check_warns_about_the_stats_table_as_sync_does(
    cli: CliRunner, sandbox: RunningSandbox
) -> None:
    warning = (
        "campaign_performance_stats: The key lacks `accounts:read`, so report "
        "windows will be sent in UTC and may be off by the account's UTC offset at "
        "their edges: add it in Klaviyo > Settings > API Keys.\n"
    )
    shown = cli.invoke(app, ["check"], env=env(sandbox, NO_ACCOUNT))
    assert shown.exit_code == 0, shown.output
    assert re.search(r"campaign_performance_stats\s+yes, with a warning", shown.output)
    assert shown.output.endswith(warning)
    quiet = cli.invoke(app, ["check", "-q"], env=env(sandbox, NO_ACCOUNT))
    assert (quiet.exit_code, quiet.output) == (0, warning)
    stats = ["--tables", "campaign_performance_stats"]
    synced = cli.invoke(app, ["sync", "--strict", *stats], env=env(sandbox, NO_ACCOUNT))
    assert synced.exit_code == 1, synced.output
    assert (
        "campaign_performance_stats: The key lacks `accounts:read`, so report "
        "windows were sent in UTC"
    ) in synced.output
    full = cli.invoke(app, ["check", "-q", *stats], env=env(sandbox))
    assert (full.exit_code, full.output) == (0, "")


def test_check_with_a_wrong_key(cli: CliRunner, sandbox: RunningSandbox) -> None:
    wrong = "pk_" + "w" * 30 + "zzzz"
    result = cli.invoke(app, ["check"], env=env(sandbox, wrong))
    assert result.exit_code == 1
    assert REJECTED in result.output
    assert "Traceback" not in result.output
    assert wrong not in result.output
    verbose = cli.invoke(app, ["check", "-v"], env=env(sandbox, wrong))
    assert "Traceback" in verbose.output
    assert wrong not in verbose.output


def test_check_with_an_unreachable_api(cli: CliRunner) -> None:
    result = cli.invoke(
        app,
        ["check", "--base-url", "http://127.0.0.1:9"],
        env={"KLAVIYO_API_KEY": "pk_" + "x" * 34},
    )
    assert result.exit_code == 1
    assert (
        "Error: Could not reach Klaviyo at http://127.0.0.1:9: check the network, "
        "or the address in --base-url / KLAVIYO_BASE_URL."
    ) in result.output


def test_a_public_key_or_no_key_is_a_usage_error(cli: CliRunner) -> None:
    public = cli.invoke(app, ["check"], env={"KLAVIYO_API_KEY": "XfPy36"})
    assert public.exit_code == 2
    assert (
        "Error: That is a public key (site ID), which only works in the browser."
    ) in public.output
    missing = cli.invoke(app, ["sync"])
    assert missing.exit_code == 2
    assert "Error: No Klaviyo API key is configured." in missing.output


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (
            "sk_live_abcdefgh12345678",
            "Error: That doesn't look like a Klaviyo private API key (they start "
            "with pk_).",
        ),
        (
            "pk_" + "x" * 20 + "\u200b" + "x" * 14,
            "Error: The API key contains a character that isn't allowed (often an "
            "invisible one from copy and paste).",
        ),
        ("pk_" + "x" * 20 + "\n" + "x" * 14, "contains a space or line break."),
    ],
)
def test_a_malformed_key_is_a_usage_error_that_never_echoes_it(
    cli: CliRunner, key: str, says: str
) -> None:
    for command in (["check"], ["sync"]):
        result = cli.invoke(app, command, env={"KLAVIYO_API_KEY": key})
        assert result.exit_code == 2, result.output
        assert says in result.output
        assert "Traceback" not in result.output
        assert key not in result.output
        assert key.strip()[4:12] not in result.output
    assert not list(Path.cwd().iterdir())


def test_the_key_can_come_from_the_config_file(
    cli: CliRunner, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    config = tmp_path / "klaviyo-connector.toml"
    config.write_text(
        f'api_key = "{sandbox.api_key}"\nbase_url = "{sandbox.base_url}"\n'
    )
    config.chmod(0o644)
    result = cli.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "other users can read it (mode 644); run: chmod 600" in result.output


def test_sync_prints_a_summary_and_exits_0(
    cli: CliRunner, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["sync", "--duckdb-path", "out.duckdb"], env=env(sandbox))
    assert result.exit_code == 0, result.output
    where = (tmp_path / "out.duckdb").resolve()
    assert result.output.endswith(
        f"Destination: DuckDB file {where}, dataset klaviyo\n"
        "Sync succeeded: 5 tables loaded.\n"
    )
    assert "requests" in result.output
    assert (tmp_path / "out.duckdb").is_file()
    assert (tmp_path / ".klaviyo-connector" / "pipelines").is_dir()
    # dlt's folder holds Parquet copies of the profiles while they load.
    for folder in (".klaviyo-connector", ".klaviyo-connector/pipelines"):
        assert (tmp_path / folder).stat().st_mode & 0o777 == 0o700, folder


def _summary_line(output: str, table: str) -> tuple[int, int, float]:
    """Rows, requests and seconds of a table's line in the sync summary."""
    cells = r"\s*│\s*"
    found = re.search(
        rf"│\s*{table}{cells}ok{cells}([\d,]+){cells}([\d,]+){cells}([\d.]+) s\s*│",
        output,
    )
    assert found, (table, output)
    rows, requests, seconds = found.groups()
    return int(rows.replace(",", "")), int(requests.replace(",", "")), float(seconds)


def test_the_summary_shows_rows_requests_and_time_per_table(
    cli: CliRunner, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    import duckdb

    result = cli.invoke(app, ["sync", "--duckdb-path", "out.duckdb"], env=env(sandbox))
    assert result.exit_code == 0, result.output
    log = sandbox.sandbox.requests
    endpoints = {"campaign": "/api/campaigns", "list": "/api/lists"}
    endpoints |= {"segment": "/api/segments", "profile": "/api/profiles"}
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as db:
        for table in TABLES:
            rows, requests, seconds = _summary_line(result.output, table)
            stored = db.execute(f"SELECT count(*) FROM klaviyo.{table}").fetchone()
            assert (rows,) == stored, table
            assert requests > 0
            assert seconds >= 0
            if table in endpoints:
                assert requests == log[("GET", endpoints[table])], table


def test_quiet_prints_nothing_on_success_and_still_says_failures(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    def run(key: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "klaviyo_connector", "sync", "-q"]
        return subprocess.run(
            [*command, "--tables", "list,segment"],
            cwd=tmp_path,
            env={**os.environ, **env(sandbox, key)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    quiet = run(sandbox.api_key)
    assert quiet.returncode == 0, quiet.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")
    partial = run(LIMITED)
    assert partial.returncode == 1
    assert "Partial sync: 1 of 2 tables loaded; segment failed." in partial.stdout
    assert "Add `segments:read` in Klaviyo > Settings > API Keys" in partial.stdout


def test_a_partial_sync_exits_1_and_names_the_fix(
    cli: CliRunner, sandbox: RunningSandbox
) -> None:
    result = cli.invoke(app, ["sync"], env=env(sandbox, LIMITED))
    assert result.exit_code == 1
    assert "Partial sync: 4 of 5 tables loaded; segment failed." in result.output
    assert (
        "Add `segments:read` in Klaviyo > Settings > API Keys, or deselect the "
        "segment table."
    ) in result.output


def test_sync_with_a_wrong_key_exits_1(cli: CliRunner, sandbox: RunningSandbox) -> None:
    result = cli.invoke(app, ["sync", "-q"], env=env(sandbox, "pk_" + "w" * 34))
    assert result.exit_code == 1
    assert "Sync failed: Klaviyo rejected the API key" in result.output


def test_a_wrong_key_is_said_once_and_leaves_nothing_behind(
    cli: CliRunner, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["sync"], env=env(sandbox, "pk_" + "w" * 34))
    assert result.exit_code == 1
    assert result.output.count("rejected") == 1, result.output
    assert "Sync failed: Klaviyo rejected the API key: check it in Klaviyo > " in (
        result.output
    )
    # One request (the key check), not one per table.
    assert sandbox.sandbox.requests.total == 1
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_klaviyo_fails_fast_and_once(
    cli: CliRunner, tmp_path: Path
) -> None:
    key = {"KLAVIYO_API_KEY": "pk_" + "x" * 34}
    result = cli.invoke(app, ["sync", "--base-url", "http://127.0.0.1:9"], env=key)
    assert result.exit_code == 1
    assert result.output.count("Could not reach Klaviyo") == 1, result.output
    assert (
        "Sync failed: Could not reach Klaviyo at http://127.0.0.1:9: the connection "
        "was refused or failed; check the network and the base URL."
    ) in result.output
    # Three tries of the key check, two warnings about retrying, no table.
    assert result.output.count("retrying in") == 2
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_exit_2(cli: CliRunner, sandbox: RunningSandbox) -> None:
    bad_table = cli.invoke(app, ["sync", "--tables", "campaigns"], env=env(sandbox))
    assert bad_table.exit_code == 2
    assert "unknown table(s) campaigns" in bad_table.output
    bad_date = cli.invoke(app, ["backfill", "--from", "last year"], env=env(sandbox))
    assert bad_date.exit_code == 2
    assert "--from 'last year' is not a date" in bad_date.output
    no_option = cli.invoke(app, ["sync", "--nope"])
    assert no_option.exit_code == 2


def test_a_duckdb_file_named_like_the_dataset_is_refused_before_any_request(
    cli: CliRunner, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    clash = (
        "duckdb_path: the file klaviyo.duckdb and the dataset 'klaviyo' share a "
        "name, which DuckDB cannot tell apart (it names the database after the "
        "file); choose another file name, e.g. klaviyo-warehouse.duckdb, or "
        "another dataset."
    )
    alone = cli.invoke(
        app, ["sync", "--duckdb-path", "klaviyo.duckdb"], env=env(sandbox)
    )
    assert alone.exit_code == 2, alone.output
    assert f"Error: A setting has a problem: {clash} Fix it in the flags" in (
        alone.output
    )
    both = cli.invoke(
        app,
        ["backfill", "--from", "2024-01-01", "--tables", "nope"],
        env={**env(sandbox), "KLAVIYO_DUCKDB_PATH": "out/Klaviyo.duckdb"},
    )
    assert both.exit_code == 2, both.output
    assert "Error: The settings have 2 problems:" in both.output
    assert clash.replace("klaviyo.duckdb", "Klaviyo.duckdb") in both.output
    assert "tables: unknown table(s) nope" in both.output
    assert sandbox.sandbox.requests.total == 0
    assert list(tmp_path.iterdir()) == []


def test_a_negative_lookback_is_a_settings_problem(
    cli: CliRunner, sandbox: RunningSandbox
) -> None:
    result = cli.invoke(app, ["sync", "--lookback-days", "-1"], env=env(sandbox))
    assert result.exit_code == 2, result.output
    assert (
        "Error: A setting has a problem: lookback_days: Input should be greater "
        "than or equal to 0."
    ) in result.output
    assert sandbox.sandbox.requests.total == 0


SETTING = "Error: A setting has a problem: {} Fix it in the flags, KLAVIYO_* "


@pytest.mark.parametrize(
    ("args", "environment", "says"),
    [
        (
            ["sync", "--data-dir", "notes.txt"],
            {},
            "data_dir: notes.txt is a file, not a folder; choose another folder.",
        ),
        (
            ["backfill", "--from", "2024-01-01", "--duckdb-path", "notes.txt/w.db"],
            {},
            "duckdb_path: {tmp}/notes.txt is a file, not a folder; choose another "
            "file.",
        ),
        (
            ["sync", "--duckdb-path", "."],
            {},
            "duckdb_path: . is a folder; give a file name, e.g. "
            "klaviyo-warehouse.duckdb.",
        ),
        (
            ["sync", "--dataset", ""],
            {},
            "dataset: must not be empty; leave it unset for klaviyo.",
        ),
        (
            ["check"],
            {"KLAVIYO_DATASET": ""},
            "dataset: must not be empty; leave it unset for klaviyo.",
        ),
        (
            ["sync"],
            {"KLAVIYO_TIMEOUT": "inf"},
            "timeout: Input should be a finite number.",
        ),
        (
            ["sync"],
            {"KLAVIYO_MAX_WAIT": "1e400"},
            "max_wait: Input should be a finite number.",
        ),
        (
            ["sync"],
            {"KLAVIYO_PIPELINE_NAME": "../../x"},
            "pipeline_name: must be 1 to 100 letters, digits, _ or -, and not a "
            "device name such as con (it names dlt's working folder), e.g. klaviyo.",
        ),
    ],
)
def test_a_setting_that_cannot_work_is_one_sentence_and_exit_2(
    cli: CliRunner,
    sandbox: RunningSandbox,
    tmp_path: Path,
    args: list[str],
    environment: dict[str, str],
    says: str,
) -> None:
    (tmp_path / "notes.txt").write_text("not a folder")
    result = cli.invoke(app, args, env={**env(sandbox), **environment})
    assert result.exit_code == 2, result.output
    expected = SETTING.format(says.format(tmp=tmp_path.resolve()))
    assert result.output.startswith(expected)
    assert "Traceback" not in result.output
    assert sandbox.sandbox.requests.total == 0
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_folder_the_user_cannot_write_is_named_with_the_other_problems(
    cli: CliRunner, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    (tmp_path / "locked").mkdir(mode=0o500)
    os.chdir(tmp_path / "locked")
    result = cli.invoke(app, ["sync"], env=env(sandbox))
    assert result.exit_code == 2, result.output
    locked = tmp_path.resolve() / "locked"
    assert result.output == (
        "Error: The settings have 2 problems:\n"
        "  duckdb_path: klaviyo-warehouse.duckdb cannot be created, as you cannot "
        f"write to the folder {locked}; choose a file in a folder you can write to.\n"
        "  data_dir: .klaviyo-connector cannot be created, as you cannot write to "
        f"the folder {locked}; choose a folder you can write to.\n"
        "Fix them in the flags, KLAVIYO_* variables or the config file.\n"
    )
    assert sandbox.sandbox.requests.total == 0


def test_demo_refuses_more_profiles_than_the_sandbox_holds(cli: CliRunner) -> None:
    result = cli.invoke(app, ["demo", "--profiles", "1000000000000"])
    assert result.exit_code == 2, result.output
    assert result.output == (
        "Error: --profiles must be between 1 and 100,000,000 (got "
        "1,000,000,000,000). Pass a smaller number; the default is 3,000.\n"
    )
    assert list(Path.cwd().iterdir()) == []


@pytest.mark.parametrize(
    ("tables", "says"),
    [
        ("\udcff", "unknown table(s) \\xff; choose from campaign, list, segment"),
        ("list,,nope", "unknown table(s) nope; choose from campaign, list"),
        (",", "no table given; choose from campaign, list, segment"),
    ],
)
def test_tables_that_do_not_exist_list_the_ones_that_do(
    cli: CliRunner, sandbox: RunningSandbox, tmp_path: Path, tables: str, says: str
) -> None:
    # "\udcff" is how Python hands over a byte (0xff) that is not UTF-8.
    result = cli.invoke(app, ["sync", "--tables", tables], env=env(sandbox))
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    assert sandbox.sandbox.requests.total == 0
    assert list(tmp_path.iterdir()) == []


def test_a_backfill_from_the_future_says_so(
    cli: CliRunner, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    for extra in ([], ["--to", "2099-02-01"]):
        result = cli.invoke(
            app, ["backfill", "--from", "2099-01-01", *extra], env=env(sandbox)
        )
        assert result.exit_code == 2, result.output
        assert (
            "Error: The recovery starts on 2099-01-01 00:00 UTC, which is in the "
            "future: there is nothing to recover yet. Choose a start date in the "
            "past."
        ) in result.output
    assert sandbox.sandbox.requests.total == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (
            "2025-06-01",
            "9999-12-31",
            "Error: The recovery ends on 9999-12-31, after today (",
        ),
        (
            "0001-01-01",
            "0001-01-02",
            "Error: The recovery starts on 0001-01-01, before Klaviyo existed: an "
            "account holds nothing older than 2012. Choose a start date on or after "
            "2012-01-01.\n",
        ),
    ],
)
def test_a_backfill_outside_klaviyos_lifetime_is_refused(
    cli: CliRunner,
    sandbox: RunningSandbox,
    tmp_path: Path,
    start: str,
    end: str,
    says: str,
) -> None:
    result = cli.invoke(
        app, ["backfill", "--from", start, "--to", end], env=env(sandbox)
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith(says)
    assert "Traceback" not in result.output
    assert sandbox.sandbox.requests.total == 0
    assert list(tmp_path.iterdir()) == []


def test_backfill_loads_a_range(cli: CliRunner, sandbox: RunningSandbox) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    result = cli.invoke(
        app,
        ["backfill", "--from", "2020-01-01", "--to", today, "--tables", "list"],
        env=env(sandbox),
    )
    assert result.exit_code == 0, result.output
    where = Path("klaviyo-warehouse.duckdb").resolve()
    assert result.output.endswith(
        f"Destination: DuckDB file {where}, dataset klaviyo\n"
        "Historical recovery succeeded: 1 table loaded.\n"
    )


def test_demo_needs_no_key(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    result = cli.invoke(app, ["demo", "--path", str(path), "--profiles", "200"])
    assert result.exit_code == 0, result.output
    assert f"Loaded into {path}" in result.output
    assert re.search(r"profile +200 rows", result.output)
    assert "The five campaigns with the best open rate:" in result.output
    assert path.is_file()
    import duckdb

    with duckdb.connect(str(path), read_only=True) as db:
        best = db.execute(SAMPLE_QUERY).fetchall()
        sent_without_stats = db.execute(
            "SELECT count(*) FROM klaviyo.campaign c WHERE c.status = 'Sent' AND "
            "c.id NOT IN (SELECT campaign_id FROM klaviyo.campaign_performance_stats)"
        ).fetchone()
    assert len(best) == 5
    assert sent_without_stats == (0,)
    for campaign, delivered, open_rate in best:
        line = rf"│\s*{re.escape(campaign)}\s*│\s*{delivered:,}\s*│\s*{open_rate}\s*│"
        assert re.search(line, result.output), (campaign, result.output)
    again = cli.invoke(app, ["demo", "--path", str(path), "--profiles", "200"])
    assert again.exit_code == 0, again.output


def test_the_demo_s_last_line_works_from_any_folder(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli.invoke(app, ["demo", "--path", "demo.duckdb", "--profiles", "50"])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Try it yourself:")
    assert f"duckdb.connect('{tmp_path / 'demo.duckdb'}')" in last


def test_quiet_demo_prints_nothing_and_builds_the_file(
    cli: CliRunner, tmp_path: Path
) -> None:
    from klaviyo_connector.cli.demo import is_demo_file

    path = tmp_path / "demo.duckdb"
    result = cli.invoke(app, ["demo", "-q", "--path", str(path), "--profiles", "50"])
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert is_demo_file(path)


def test_demo_refuses_a_path_named_like_its_dataset_by_its_own_option(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["demo", "--path", "klaviyo.duckdb"])
    assert result.exit_code == 2, result.output
    assert result.output == (
        "Error: klaviyo.duckdb and the demo's dataset 'klaviyo' share a name, "
        "which DuckDB cannot tell apart (it names the database after the file). "
        "Pass another --path, e.g. klaviyo-demo.duckdb.\n"
    )
    assert "--duckdb-path" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_demo_never_overwrites_a_file_that_is_not_its_own(
    cli: CliRunner, tmp_path: Path
) -> None:
    import duckdb

    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    empty = tmp_path / "empty.duckdb"
    empty.touch()
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as db:
        db.execute("CREATE TABLE orders (id INTEGER)")
    for path in (notes, empty, warehouse):
        refused = cli.invoke(app, ["demo", "--path", str(path)])
        assert refused.exit_code == 2, refused.output
        assert (
            f"Error: {path} already exists and is not a demo warehouse, so the "
            "demo will not overwrite it. Pass another --path, or add --force to "
            "replace the file."
        ) in refused.output
    assert notes.read_text() == "my notes"
    assert empty.stat().st_size == 0
    with duckdb.connect(str(warehouse)) as db:
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (0,)

    forced = cli.invoke(
        app, ["demo", "--path", str(notes), "--force", "--profiles", "50"]
    )
    assert forced.exit_code == 0, forced.output
    assert re.search(r"profile +50 rows", forced.output)


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["variable", "flag"])
def test_postgres_without_a_password_works_from_dlts_variable_and_the_flag(
    cli: CliRunner, sandbox: RunningSandbox, pg_dataset: str, how: str
) -> None:
    assert ":" not in POSTGRES_URL.split("://")[1].split("@")[0]  # no password
    args = ["sync", "--destination", "postgres", "--dataset", pg_dataset]
    variables = env(sandbox)
    if how == "flag":
        args += ["--credentials", POSTGRES_URL]
    else:
        variables["DESTINATION__POSTGRES__CREDENTIALS"] = POSTGRES_URL
    result = cli.invoke(app, [*args, "--tables", "list"], env=variables)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        f"Destination: postgres, dataset {pg_dataset}\n"
        "Sync succeeded: 1 table loaded.\n"
    )
    assert POSTGRES_URL not in result.output


@pytest.mark.postgres
def test_dlt_lines_stay_out_of_normal_output_and_dates_read_iso(
    cli: CliRunner, sandbox: RunningSandbox, tmp_path: Path, pg_dataset: str
) -> None:
    postgres = ["--destination", "postgres", "--credentials", POSTGRES_URL]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "klaviyo_connector", "sync", "--tables"]
        return subprocess.run(
            [*command, "list", "--dataset", pg_dataset, *args],
            cwd=tmp_path,
            env={**os.environ, **env(sandbox)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run(*postgres).returncode == 0
    # The same working folder with another destination: dlt warns about it.
    verbose = run("-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "|dlt|" in verbose.stderr
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +INFO +GET /api/lists 200",
        verbose.stderr,
        re.MULTILINE,
    ), verbose.stderr
    normal = run(*postgres)
    assert normal.returncode == 0, normal.stderr
    assert normal.stderr.strip() == ""
    assert "Sync succeeded: 1 table loaded." in normal.stdout


def test_help_shows_no_type_for_flags(cli: CliRunner) -> None:
    for command in ([], ["sync"], ["demo"], ["sandbox"]):
        result = cli.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output
        assert "--help" in result.output
    assert "<str>" in cli.invoke(app, ["sync", "--help"]).output  # values keep theirs


HELP_COMMANDS = [[], ["check"], ["sync"], ["backfill"], ["demo"], ["sandbox"]]
HELP_COMMANDS += [["serve"]]


def option_help_words(command: list[str]) -> set[str]:
    """Every word of the help texts of a command's shown options."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    ctx = typer.Context(group)
    target = group.get_command(ctx, command[0]) if command else group
    assert target is not None
    shown = [p for p in target.get_params(ctx) if not getattr(p, "hidden", False)]
    return {word for p in shown for word in (getattr(p, "help", None) or "").split()}


def assert_whole(shown: str, command: list[str]) -> None:
    """Rich ends a word that does not fit its column with "…"; every word of
    every option's help must be there as written."""
    assert "…" not in shown, shown
    missing = option_help_words(command) - set(shown.split())
    assert not missing, (missing, shown)
    assert max(len(line) for line in shown.splitlines()) == 80


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=" ".join)
def test_help_is_whole_when_the_output_is_not_a_terminal(
    command: list[str], tmp_path: Path
) -> None:
    unset = {"COLUMNS", "LINES", "TERMINAL_WIDTH"}
    environ = {name: v for name, v in os.environ.items() if name not in unset}
    shown = subprocess.run(
        [sys.executable, "-m", "klaviyo_connector", *command, "--help"],
        cwd=tmp_path,
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert_whole(shown.stdout, command)


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=" ".join)
def test_help_is_whole_on_a_narrow_terminal(cli: CliRunner, command: list[str]) -> None:
    shown = cli.invoke(app, [*command, "--help"], env={"COLUMNS": "40"})
    assert shown.exit_code == 0, shown.output
    assert_whole(shown.output, command)


def test_help_says_credentials_show_in_the_process_list() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    ctx = typer.Context(group)
    for command in ("sync", "backfill"):
        target = group.get_command(ctx, command)
        assert target is not None
        (option,) = [p for p in target.get_params(ctx) if p.name == "credentials"]
        assert getattr(option, "help", None) == (
            "Destination credentials, e.g. a PostgreSQL URL. They show in the "
            "process list: prefer KLAVIYO_DESTINATION_CREDENTIALS, dlt's own "
            "variables or the config file."
        )


@pytest.mark.parametrize("command", ["check", "sync", "backfill", "demo"])
def test_every_command_has_help_with_an_example(cli: CliRunner, command: str) -> None:
    result = cli.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: " in result.output


def test_sandbox_and_serve_are_registered(cli: CliRunner) -> None:
    listing = cli.invoke(app, ["--help"])
    assert "sandbox" in listing.output
    for command in ("sandbox", "serve"):
        result = cli.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "command", ["check", "sync", "backfill", "demo", "sandbox", "serve"]
)
def test_help_offers_no_shell_completion_options(cli: CliRunner, command: str) -> None:
    """Completion would install into the user's shell rc: not ours to offer."""
    result = cli.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--install-completion" not in result.output
    assert "--show-completion" not in result.output

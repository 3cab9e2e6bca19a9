"""The key stays secret: not in logs at any verbosity (httpx and dlt loggers
included), exception text, run results, the DuckDB file (its bytes and every
value in it), dlt's working folder, the process list (command line, and the
environment when the key comes from an owner-only config file) or the
dashboard; stored keys are encrypted at rest; the check and the dashboard show
it masked."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time
import traceback
from pathlib import Path

import duckdb
import psutil
import pytest
from fastapi.testclient import TestClient
from tests.faults.support import config, serve, small, spy_on_client, sync
from tests.service.support import make_app, sign_in
from typer.testing import CliRunner

from klaviyo_connector.cli import app
from klaviyo_connector.client import KlaviyoClient
from klaviyo_connector.errors import KlaviyoError
from klaviyo_connector.keys import ApiKey, mask
from klaviyo_connector.sandbox import RunningSandbox, Sandbox
from klaviyo_connector.sandbox.config import ALL_SCOPES
from klaviyo_connector.service.crypto import Vault
from klaviyo_connector.sync.models import RunStatus

pytestmark = pytest.mark.slow

KEY = "pk_" + "S3cretKeyX" * 3 + "abcd"
WRONG = "pk_" + "WrongKey99" * 3 + "wxyz"
# The tables the faults touch; the stats report's 1-a-second pacing adds nothing.
TABLES = ("--tables", "list,segment,profile")


def _sandbox() -> Sandbox:
    return Sandbox(small(api_key=KEY, scoped_keys={WRONG[:-1] + "Q": ALL_SCOPES}))


def _faults(sandbox: Sandbox) -> None:
    """Enough trouble that retries, errors and tracebacks all get logged."""
    sandbox.faults.add("status", status=503, count=2, path="/api/lists")
    sandbox.faults.add("reset", count=1, path="/api/profiles")
    sandbox.faults.add("html", status=400, count=None, path="/api/segments")


def _all_bytes(folder: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in folder.rglob("*") if p.is_file()]


def _values_holding(path: Path, *secrets: str) -> tuple[int, list[str]]:
    """Every column of every table in a DuckDB file, each value read as text
    (JSON included): how many columns were searched, and those holding a
    secret."""
    with duckdb.connect(str(path), read_only=True) as db:
        columns = db.execute(
            "SELECT table_schema, table_name, column_name "
            "FROM information_schema.columns"
        ).fetchall()
        holding = []
        for schema, table, column in columns:
            value = f'CAST("{column}" AS VARCHAR)'
            for secret in secrets:
                (found,) = db.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" '
                    f"WHERE contains({value}, ?)",
                    [secret],
                ).fetchone() or (0,)
                if found:
                    holding.append(f"{schema}.{table}.{column}")
    return len(columns), holding


def _cli_run(
    running: RunningSandbox, cwd: Path, *args: str, key: str = KEY
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVIYO_")}
    env.update(
        KLAVIYO_API_KEY=key,
        KLAVIYO_BASE_URL=running.base_url,
        KLAVIYO_MAX_ATTEMPTS="3",
        RUNTIME__LOG_LEVEL="DEBUG",  # dlt's own logger at its most talkative
        COLUMNS="200",
    )
    return subprocess.run(
        [sys.executable, "-m", "klaviyo_connector", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_key_is_in_no_log_output_file_or_folder_of_the_command_line(
    tmp_path: Path,
) -> None:
    sandbox = _sandbox()
    with serve(sandbox) as running:
        outputs = []
        for flags in ((), ("-v",), ("-vv",)):
            sandbox.faults.clear()
            _faults(sandbox)
            run = _cli_run(running, tmp_path, "sync", *TABLES, *flags)
            assert run.returncode == 1, run.stderr  # segment fails: partial
            outputs.append(run.stdout + run.stderr)
        rejected = _cli_run(running, tmp_path, "sync", *TABLES, "-vv", key=WRONG)
        assert rejected.returncode == 1
        outputs.append(rejected.stdout + rejected.stderr)
        sandbox.faults.clear()
        checked = _cli_run(running, tmp_path, "check", "-vv")
        outputs.append(checked.stdout + checked.stderr)

    verbose = outputs[2]
    assert "GET /api/lists 503" in verbose, "-vv logs each request"
    assert "retrying in" in verbose
    assert "Traceback" in outputs[3] or "Klaviyo rejected the API key" in outputs[3]
    assert f"Key: {mask(KEY)}" in outputs[4]
    for text in outputs:
        assert KEY not in text
        assert WRONG not in text
    files = _all_bytes(tmp_path)
    assert any(p.suffix == ".duckdb" for p, _ in files)
    assert any("pipelines" in p.parts for p, _ in files)
    for path, content in files:
        assert KEY.encode() not in content, path
        assert WRONG.encode() not in content, path
    # Bytes can hide a value (compressed or split blocks): ask DuckDB itself.
    searched, holding = _values_holding(
        tmp_path / "klaviyo-warehouse.duckdb", KEY, WRONG
    )
    assert searched >= 30, "profile, list, segment and state columns were read"
    assert holding == []


def test_the_key_never_reaches_any_logger_exception_or_result(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # the root: httpx, httpcore, dlt, everything
    # Whatever a command line run earlier in the process set up, the
    # connector's records reach the root here too.
    monkeypatch.setattr(logging.getLogger("klaviyo_connector"), "propagate", True)
    monkeypatch.setattr(logging.getLogger("klaviyo_connector"), "level", 0)
    sandbox = _sandbox()
    spy = spy_on_client(monkeypatch)
    with serve(sandbox) as running:
        _faults(sandbox)
        cfg = config(running, tmp_path, max_attempts=3)
        result = sync(cfg, "list", "segment", "profile")
        assert result.status == RunStatus.PARTIAL
        sandbox.revoke_key(KEY)
        with pytest.raises(KlaviyoError) as caught:
            KlaviyoClient(ApiKey(KEY), base_url=running.base_url).get("/api/lists")

    assert any(r.name.startswith("httpx") for r in caplog.records)
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    texts = [caplog.text, repr(result), str(result.tables), repr(spy.clients[0])]
    texts += [repr(cfg), str(cfg.api_key), f"{cfg.api_key}"]
    exc: BaseException | None = caught.value
    while exc is not None:  # the whole chain, suppressed context included
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        exc = exc.__cause__ or exc.__context__
    for text in texts:
        assert KEY not in text


def _process_texts(pid: int) -> list[tuple[str, bytes]]:
    """The command line and environment of a process and its children, as
    `ps -ef` and `ps e` show them to the same user and root."""
    process = psutil.Process(pid)
    texts = []
    for each in [process, *process.children(recursive=True)]:
        for name in ("cmdline", "environ"):
            texts.append(
                (f"{each.pid}/{name}", Path(f"/proc/{each.pid}/{name}").read_bytes())
            )
    return texts


def test_a_key_in_an_owner_only_config_file_is_in_no_process_listing(
    tmp_path: Path,
) -> None:
    sandbox = _sandbox()
    with serve(sandbox) as running:
        settings = tmp_path / "klaviyo-connector.toml"
        settings.write_text(f'api_key = "{KEY}"\nbase_url = "{running.base_url}"\n')
        settings.chmod(0o600)
        # Slow pages keep the sync running while its listing is read.
        sandbox.faults.add("slow", delay=0.2, count=None, path="/api/profiles")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVIYO_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "klaviyo_connector", "sync", *TABLES],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not sandbox.requests[("GET", "/api/profiles")]:
                assert process.poll() is None, "the sync ended before it was read"
                assert time.monotonic() < deadline, "the sync never read profiles"
                time.sleep(0.02)
            listing = _process_texts(process.pid)
        finally:
            output, _ = process.communicate(timeout=120)

    assert process.returncode == 0, output.decode()
    assert KEY.encode() not in output
    assert [name for name, _ in listing][:2] == [
        f"{process.pid}/cmdline",
        f"{process.pid}/environ",
    ]
    for name, text in listing:
        assert KEY.encode() not in text, name


def test_the_command_line_takes_no_key_argument(tmp_path: Path) -> None:
    runner = CliRunner()
    for command in ("sync", "check", "backfill"):
        help_text = runner.invoke(app, [command, "--help"]).output
        assert "--api-key" not in help_text
        given = runner.invoke(app, [command, "--api-key", KEY])
        assert given.exit_code == 2


def test_stored_keys_are_encrypted_and_shown_masked(tmp_path: Path) -> None:
    sandbox = _sandbox()
    data = tmp_path / "data"
    with serve(sandbox) as running:
        service = make_app(data, base_url=running.base_url)
        with TestClient(service, base_url="http://127.0.0.1:8000") as client:
            csrf = sign_in(client)
            created = client.post(
                "/api/connections",
                json={"name": "Shop", "api_key": KEY, "sync_period": "24h"},
                headers={"X-CSRF-Token": csrf},
            )
            assert created.status_code == 201, created.text
            pages = [client.get(p).text for p in ("/", "/connections/1")]
            pages.append(client.get("/api/connections/1").text)

    for text in [created.text, *pages]:
        assert KEY not in text
    assert any(mask(KEY) in text for text in pages)
    with sqlite3.connect(data / "connector.db") as db:
        (stored,) = db.execute("SELECT key_encrypted FROM connection").fetchone()
    assert stored != KEY
    assert Vault.open(data, None).decrypt(stored) == KEY  # encrypted, not dropped
    for path, content in _all_bytes(data):
        assert KEY.encode() not in content, path
    assert data.stat().st_mode & 0o777 == 0o700
    for name in ("secret.key", "connector.db"):
        assert (data / name).stat().st_mode & 0o777 == 0o600, name


def test_a_traceback_that_quotes_a_key_is_masked_in_the_log() -> None:
    import io

    from klaviyo_connector.keys import RedactingFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("klaviyo_connector.tests.redaction")
    logger.addHandler(handler)
    try:
        raise ValueError(f"a library quoted the header Klaviyo-API-Key {KEY}")
    except ValueError:
        logger.exception("table %s failed unexpectedly", "profile")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "ValueError: a library quoted the header" in text
    assert mask(KEY) in text
    assert KEY not in text

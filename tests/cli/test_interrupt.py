"""Ctrl-C during a sync: every table stops at its next page, committed chunks
stay, and the command says so and exits 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from tests.conftest import StartSandbox

pytestmark = pytest.mark.slow

PROFILE_PAGES = ("GET", "/api/profiles")


def _wait_for_pages(requests: object, pages: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while requests[PROFILE_PAGES] < pages:  # type: ignore[index]
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sync never got going"
        time.sleep(0.05)


def test_ctrl_c_stops_the_sync_keeps_its_commits_and_exits_130(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    running = start_sandbox(profiles=3000)
    sandbox = running.sandbox
    # Thirty pages of profiles at 0.3 s each: the sync would take ten seconds.
    sandbox.faults.add("slow", delay=0.3, count=None, path="/api/profiles")
    env = {
        **os.environ,
        "KLAVIYO_API_KEY": running.api_key,
        "KLAVIYO_BASE_URL": running.base_url,
        "KLAVIYO_PROFILE_CHUNK_ROWS": "100",
        "COLUMNS": "200",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "klaviyo_connector", "sync", "--tables", "profile,list"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_pages(sandbox.requests, 4, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, (out, err)
    assert (
        "Interrupted: committed work is kept; the next sync continues from there."
    ) in out
    assert "Traceback" not in out + err
    assert "Sync succeeded" not in out
    read = sandbox.requests[PROFILE_PAGES]
    assert read < 30, "the profile table stopped at its next page"
    with duckdb.connect(str(tmp_path / "klaviyo-warehouse.duckdb")) as db:
        row = db.execute("SELECT count(*) FROM klaviyo.profile").fetchone()
    assert row is not None
    loaded = row[0]
    # Whole chunks only, none beyond the pages read.
    assert loaded % 100 == 0
    assert 0 < loaded <= read * 100


def test_ctrl_c_between_chunks_commits_the_pages_already_read(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    """No chunk is ever full here: what the stop keeps is the pages it had
    read, and the next sync reads only the rest."""
    running = start_sandbox(profiles=3000)
    sandbox = running.sandbox
    sandbox.faults.add("slow", delay=0.3, count=None, path="/api/profiles")
    env = {
        **os.environ,
        "KLAVIYO_API_KEY": running.api_key,
        "KLAVIYO_BASE_URL": running.base_url,
        "KLAVIYO_PROFILE_CHUNK_ROWS": "100000",
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "klaviyo_connector", "sync", "--tables", "profile"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    _wait_for_pages(sandbox.requests, 6, proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    first_read = sandbox.requests[PROFILE_PAGES]
    warehouse = str(tmp_path / "klaviyo-warehouse.duckdb")
    with duckdb.connect(warehouse) as db:
        kept = db.execute("SELECT count(*) FROM klaviyo.profile").fetchone()
    assert kept is not None
    assert 0 < kept[0] < 3000

    sandbox.faults.clear()
    finished = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stdout
    second_read = sandbox.requests[PROFILE_PAGES] - first_read
    # A full read is 30 pages; the pages the stop kept are not read again.
    assert second_read <= 30 - kept[0] // 100 + 3
    with duckdb.connect(warehouse) as db:
        total, distinct = db.execute(
            "SELECT count(*), count(DISTINCT id) FROM klaviyo.profile"
        ).fetchone() or (0, 0)
    assert total == distinct == 3000

"""A real `klaviyo-connector sync` process killed with SIGKILL, once in the
middle of a large profile read and once in the middle of a load: the next run
keeps every committed chunk, continues after it instead of starting over, and
ends equal to the ground truth."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.faults.support import config, key_count, serve, small
from tests.sync.support import assert_matches_ground_truth

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.load.state import STATE_TABLE
from klaviyo_connector.sandbox import RunningSandbox, Sandbox

pytestmark = pytest.mark.slow

PROFILES = 3050  # 31 pages of 100; the last page is half full
CHUNK = 300  # rows per commit: three pages
PAGE = 100
PROFILES_ENDPOINT = ("GET", "/api/profiles")


def _env(running: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVIYO_")}
    env.update(
        KLAVIYO_API_KEY=running.api_key,
        KLAVIYO_BASE_URL=running.base_url,
        KLAVIYO_PROFILE_CHUNK_ROWS=str(CHUNK),
        KLAVIYO_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
        KLAVIYO_DATA_DIR=str(tmp_path / "connector-data"),
    )
    return env


def _sync_process(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "klaviyo_connector", "sync", "--tables", "profile"]
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _wait(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise AssertionError("the sync ended before it could be killed")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the sync never reached the point to kill it")
        time.sleep(0.005)


def _load_folder(tmp_path: Path) -> Path:
    return tmp_path / "connector-data" / "pipelines" / "klaviyo" / "load"


def _committed_packages(load: Path) -> int:
    """Load packages dlt finished: each holds one committed profile chunk (the
    job files themselves are deleted once loaded; the package record stays)."""
    return len(list(load.glob("loaded/*/package_completed.json")))


def _loading(load: Path) -> bool:
    """A package holding profile rows, normalized and handed to the loader,
    whose profile job has not finished."""
    return any(load.glob("normalized/*/new_jobs/profile.*")) or any(
        load.glob("normalized/*/started_jobs/profile.*")
    )


def _in_flight(load: Path) -> bool:
    """Any package on its way to the warehouse: extracted, new or normalized."""
    stages = (
        load.parent / "normalize" / "extracted",
        load / "new",
        load / "normalized",
    )
    return any(p.is_dir() for stage in stages for p in stage.glob("*"))


def _state(cfg: SyncConfig) -> list[dict[str, Any]]:
    with warehouse_reader(cfg) as reader:
        return reader.query(
            f"SELECT resume_after, cursor_at FROM {reader.table(STATE_TABLE)}"
        )


def _kill_then_resume(
    tmp_path: Path,
    kill_when: Callable[[Path], bool],
    killed_at: Callable[[Path, int, int], None],
) -> tuple[int, int, int]:
    """Kills a first sync at the chosen point and has `killed_at` check the
    point it died at (with the profile pages it had read and the rows
    committed); returns the committed rows, the profile requests of a full
    read, and those of the run that resumed."""
    sandbox = Sandbox(small(profiles=PROFILES))
    with serve(sandbox) as running:
        env, load = _env(running, tmp_path), _load_folder(tmp_path)
        # Slower pages stretch the read so the kill lands inside it.
        sandbox.faults.add("slow", delay=0.05, count=None, path="/api/profiles")
        first = _sync_process(env, tmp_path)
        _wait(first, lambda: kill_when(load))
        cmdline = Path(f"/proc/{first.pid}/cmdline").read_bytes()
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        assert running.api_key.encode() not in cmdline

        cfg = config(running, tmp_path)
        committed, distinct = key_count(cfg, "profile")
        assert committed == distinct
        assert committed >= CHUNK
        assert committed % CHUNK == 0, "whole chunks only"
        assert any(row["resume_after"] for row in _state(cfg))
        killed_at(load, sandbox.requests[PROFILES_ENDPOINT], committed)

        sandbox.faults.clear()
        before = sandbox.requests[PROFILES_ENDPOINT]
        second = subprocess.run(
            [sys.executable, "-m", "klaviyo_connector", "sync", "--tables", "profile"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 0, second.stdout + second.stderr
        resumed = sandbox.requests[PROFILES_ENDPOINT] - before
        assert key_count(cfg, "profile") == (PROFILES, PROFILES)
        assert_matches_ground_truth(cfg, sandbox, "profile")
        assert all(row["resume_after"] is None for row in _state(cfg)[-1:])
    return committed, math.ceil(PROFILES / PAGE), resumed


def _report(what: str, committed: int, full: int, resumed: int) -> None:
    saved = full - resumed
    print(
        f"\n{what}: {committed} profiles committed ({committed // PAGE} pages) "
        f"before SIGKILL; a full read is {full} profile requests, the resumed "
        f"run made {resumed}: {saved} requests saved."
    )
    assert saved >= committed // PAGE


def _reading(load: Path, pages: int, committed: int) -> None:
    assert not _in_flight(load), "no package was on its way to the warehouse"
    assert pages * PAGE > committed, "pages were read past the last commit"


def _loading_a_chunk(load: Path, pages: int, committed: int) -> None:
    assert _loading(load), "a chunk's package was left half-loaded"
    unfinished = {p.name for p in load.glob("normalized/*")}
    assert not unfinished & {p.name for p in load.glob("loaded/*")}
    assert committed < pages * PAGE, "the rows being loaded are not in"


def test_killed_in_the_middle_of_the_read_it_resumes_after_the_last_commit(
    tmp_path: Path,
) -> None:
    committed, full, resumed = _kill_then_resume(
        tmp_path,
        lambda load: _committed_packages(load) >= 2 and not _in_flight(load),
        _reading,
    )
    _report("killed mid-read", committed, full, resumed)


def test_killed_in_the_middle_of_a_load_it_keeps_the_committed_chunks(
    tmp_path: Path,
) -> None:
    committed, full, resumed = _kill_then_resume(
        tmp_path,
        lambda load: _committed_packages(load) >= 2 and _loading(load),
        _loading_a_chunk,
    )
    _report("killed mid-load", committed, full, resumed)

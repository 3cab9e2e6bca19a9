"""One sync per PostgreSQL dataset: a second sync into a dataset another sync
is loading waits for it or stops saying why, and no row is ever loaded twice.

The first sync is held at its first page (its progress listener waits), so it
has the dataset for exactly as long as a test needs; the second one runs as
the real command, from a folder of its own, as a second scheduled job would."""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import POSTGRES_URL, StartSandbox, engine_config
from tests.faults.support import key_count

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync.engine import INTERRUPTED, NOT_FINISHED, run_sync
from klaviyo_connector.sync.models import Progress, RunRequest, RunResult, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TABLES = ("list", "segment", "profile")
SECONDS = 120  # the most any step here may take before the test gives up


def _config(
    running: RunningSandbox, tmp_path: Path, dataset: str, **overrides: Any
) -> SyncConfig:
    return engine_config(
        running,
        tmp_path,
        destination="postgres",
        destination_credentials=POSTGRES_URL,
        dataset=dataset,
        **overrides,
    )


class HeldSync:
    """A sync in a thread that stops at its first page until released."""

    def __init__(self, cfg: SyncConfig) -> None:
        self.cfg = cfg
        self.reading = threading.Event()
        self.release = threading.Event()
        self.result: RunResult | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _progress(self, event: Progress) -> None:
        self.reading.set()
        self.release.wait(SECONDS)

    def _run(self) -> None:
        self.result = run_sync(self.cfg, RunRequest(tables=TABLES), self._progress)


@contextmanager
def held_sync(cfg: SyncConfig) -> Iterator[HeldSync]:
    """A sync that holds the dataset inside the block and ends after it."""
    held = HeldSync(cfg)
    held.thread.start()
    try:
        assert held.reading.wait(SECONDS), "the first sync never read a page"
        yield held
    finally:
        held.release.set()
        held.thread.join(SECONDS)


def _command(
    running: RunningSandbox, dataset: str, folder: Path, **settings: str
) -> subprocess.Popen[str]:
    """`klaviyo-connector sync` run from `folder`, into the dataset."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVIYO_")}
    env.update(
        COLUMNS="200",
        KLAVIYO_API_KEY=running.api_key,
        KLAVIYO_BASE_URL=running.base_url,
        KLAVIYO_PACING="false",
        KLAVIYO_TABLES=",".join(TABLES),
        KLAVIYO_DESTINATION="postgres",
        KLAVIYO_DESTINATION_CREDENTIALS=POSTGRES_URL,
        KLAVIYO_DATASET=dataset,
        **settings,
    )
    folder.mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "klaviyo_connector", "sync", "--lookback-days", "365"],
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line_saying(stream: Any, text: str) -> str:
    """The first line of a running process's output that holds `text`."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    while (line := lines.get(timeout=SECONDS)) is not None:
        if text in line:
            return line
    raise AssertionError(f"the process ended without saying {text!r}")


def _assert_each_record_once(cfg: SyncConfig, profiles: int) -> None:
    assert key_count(cfg, "profile") == (profiles, profiles)
    for table in ("list", "segment"):
        rows, keys = key_count(cfg, table)
        assert rows == keys, table


def test_a_sync_into_a_dataset_another_sync_is_loading_stops_and_says_why(
    start_sandbox: StartSandbox, tmp_path: Path, pg_dataset: str
) -> None:
    running = start_sandbox()
    cfg = _config(running, tmp_path / "first", pg_dataset)
    with held_sync(cfg) as first:
        second = _command(
            running, pg_dataset, tmp_path / "second", KLAVIYO_LOCK_WAIT="0"
        )
        out, _ = second.communicate(timeout=SECONDS)
        assert first.result is None  # the first still had the dataset

    assert second.returncode == 1, out
    assert out.strip().splitlines()[-1] == (
        f"Sync failed: Another sync is loading the dataset {pg_dataset} in postgres. "
        "Run this sync again once the other one has finished, or raise lock_wait "
        "(KLAVIYO_LOCK_WAIT) to wait longer."
    )
    assert first.result is not None
    assert first.result.status == RunStatus.SUCCEEDED, first.result.tables
    _assert_each_record_once(cfg, 300)


def test_a_sync_waits_for_the_one_loading_its_dataset_then_loads(
    start_sandbox: StartSandbox, tmp_path: Path, pg_dataset: str
) -> None:
    running = start_sandbox()
    cfg = _config(running, tmp_path / "first", pg_dataset)
    with held_sync(cfg):
        second = _command(running, pg_dataset, tmp_path / "second")
        said = _first_line_saying(second.stderr, "Another sync")
    out = second.stdout.read() if second.stdout else ""
    assert second.wait(SECONDS) == 0, out

    assert said.split("WARNING", 1)[1].strip() == (
        f"Another sync is loading the dataset {pg_dataset} in postgres; waiting up "
        "to 600 s for it to finish."
    )
    assert out.strip().splitlines()[-1] == "Sync succeeded: 3 tables loaded."
    _assert_each_record_once(cfg, 300)


def test_a_sync_waiting_for_its_dataset_stops_at_once_when_asked(
    start_sandbox: StartSandbox, tmp_path: Path, pg_dataset: str
) -> None:
    running = start_sandbox()
    waiting = threading.Event()

    class Waiting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waiting up to" in record.getMessage():
                waiting.set()

    handler = Waiting()
    logging.getLogger("klaviyo_connector").addHandler(handler)
    cancel = threading.Event()
    second: list[RunResult] = []
    cfg = _config(running, tmp_path / "second", pg_dataset)
    try:
        with held_sync(_config(running, tmp_path / "first", pg_dataset)) as first:
            thread = threading.Thread(
                target=lambda: second.append(
                    run_sync(cfg, RunRequest(tables=TABLES), cancel=cancel)
                )
            )
            thread.start()
            assert waiting.wait(SECONDS), "the second sync never said it waits"
            cancel.set()
            thread.join(SECONDS)
            assert first.result is None  # stopped while the first still loaded
    finally:
        logging.getLogger("klaviyo_connector").removeHandler(handler)

    (result,) = second
    assert result.status == RunStatus.INTERRUPTED
    assert result.error == INTERRUPTED
    assert {t.error for t in result.tables.values()} == {NOT_FINISHED}
    assert result.tables["profile"].requests == 0


def test_two_syncs_started_together_load_every_profile_once(
    start_sandbox: StartSandbox, tmp_path: Path, pg_dataset: str
) -> None:
    """The report: two scheduled syncs from two folders, started at once, used
    to share dlt's staging tables and double hundreds of profiles."""
    running = start_sandbox(profiles=3000, latency=0.05)
    chunks = {"KLAVIYO_PROFILE_CHUNK_ROWS": "300", "KLAVIYO_PROFILE_READERS": "3"}
    both = [
        _command(running, pg_dataset, tmp_path / folder, **chunks)
        for folder in ("one", "two")
    ]
    outputs = [process.communicate(timeout=SECONDS * 2) for process in both]

    assert [process.returncode for process in both] == [0, 0], outputs
    _assert_each_record_once(_config(running, tmp_path, pg_dataset), 3000)

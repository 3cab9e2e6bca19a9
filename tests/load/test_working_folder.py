"""dlt's working folder keeps its bookkeeping, not a second copy of the data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.errors import ConfigError
from klaviyo_connector.load.destination import make_pipeline
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

pytestmark = pytest.mark.slow


def test_loaded_job_files_are_deleted_after_the_load(
    running_sandbox: RunningSandbox, sync_config: SyncConfig
) -> None:
    result = run_sync(sync_config, RunRequest(tables=("profile", "list")))

    assert result.status == RunStatus.SUCCEEDED
    packages = list(sync_config.data_dir.rglob("loaded/*/package_completed.json"))
    assert packages, "dlt recorded the finished loads"
    leftovers = [p for p in sync_config.data_dir.rglob("*") if p.is_file()]
    job_files = [p for p in leftovers if "completed_jobs" in p.parts]
    assert job_files == []
    emails = [
        str(p["attributes"]["email"]).encode()
        for p in running_sandbox.sandbox.ground_truth("profile")
        if p["attributes"].get("email")
    ]
    for path in leftovers:
        content = path.read_bytes()
        assert not any(email in content for email in emails[:50]), path


def test_the_working_folder_is_readable_by_its_owner_only(
    sync_config: SyncConfig, tmp_path: Path
) -> None:
    old = os.umask(0o022)
    try:
        made = sync_config.model_copy(update={"data_dir": tmp_path / "a" / "work"})
        make_pipeline(made)
        shared = tmp_path / "shared"
        (shared / "pipelines").mkdir(parents=True, mode=0o755)
        shared.chmod(0o755)
        make_pipeline(sync_config.model_copy(update={"data_dir": shared}))
    finally:
        os.umask(old)
    mode = {p: p.stat().st_mode & 0o777 for p in tmp_path.rglob("*") if p.is_dir()}
    assert mode[tmp_path / "a" / "work"] == 0o700
    assert mode[tmp_path / "a" / "work" / "pipelines"] == 0o700
    # A folder the user gave keeps its mode; the connector's own inside it is
    # tightened, as earlier versions made it 0755.
    assert mode[shared] == 0o755
    assert mode[shared / "pipelines"] == 0o700


def test_a_working_folder_that_cannot_be_made_is_a_config_error(
    sync_config: SyncConfig, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("")
    blocked = sync_config.model_copy(update={"data_dir": tmp_path / "notes.txt"})
    with pytest.raises(ConfigError) as caught:
        make_pipeline(blocked)
    assert str(caught.value) == (
        f"dlt's working folder {tmp_path}/notes.txt cannot be created: file exists. "
        "Choose another place in --data-dir or the config file."
    )

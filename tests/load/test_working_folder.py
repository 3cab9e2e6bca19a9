"""dlt's working folder keeps its bookkeeping, not a second copy of the data."""

from __future__ import annotations

import pytest

from klaviyo_connector.config import SyncConfig
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

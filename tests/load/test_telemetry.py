"""dlt's usage telemetry stays off during a sync."""

from __future__ import annotations

import os
from typing import Any

import pytest
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.common.runtime import anon_tracker, telemetry

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import Progress, RunRequest, RunStatus

pytestmark = pytest.mark.slow


def test_a_sync_sends_dlt_no_telemetry(
    running_sandbox: RunningSandbox,
    sync_config: SyncConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RUNTIME__DLTHUB_TELEMETRY", raising=False)
    # Let dlt decide again in this process whether to start its tracker.
    monkeypatch.setattr(telemetry, "_TELEMETRY_STARTED", False)
    calls: list[str] = []

    def record(name: str) -> Any:
        return lambda *args, **kwargs: calls.append(name)

    monkeypatch.setattr(telemetry, "init_anon_tracker", record("init"))
    monkeypatch.setattr(anon_tracker, "init_anon_tracker", record("init"))
    monkeypatch.setattr(anon_tracker, "_ANON_TRACKER_ENDPOINT", None)
    # What would carry an event out; dlt skips it while no endpoint is set.
    monkeypatch.setattr(
        anon_tracker, "requests", type("Net", (), {"post": record("post")})
    )
    during: list[tuple[str | None, bool]] = []

    def progress(event: Progress) -> None:
        # What dlt resolves whenever it decides whether to start its tracker.
        runtime = resolve_configuration(RuntimeConfiguration())
        variable = os.environ.get("RUNTIME__DLTHUB_TELEMETRY")
        during.append((variable, runtime.dlthub_telemetry))

    result = run_sync(sync_config, RunRequest(tables=("list",)), progress)

    assert result.status == RunStatus.SUCCEEDED, result.tables
    assert calls == []
    assert anon_tracker._ANON_TRACKER_ENDPOINT is None
    assert during
    assert set(during) == {("false", False)}

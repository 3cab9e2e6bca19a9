"""The pacing setting reaches the client: on by default, off only when asked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import engine_config

from klaviyo_connector.client import KlaviyoClient
from klaviyo_connector.config import load_settings
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync import engine
from klaviyo_connector.sync.models import RunRequest, RunStatus

KEY = "pk_" + "a" * 30 + "wxyz"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("KLAVIYO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("clean_env")
def test_pacing_is_on_unless_the_environment_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, _ = load_settings(None, api_key=KEY)
    assert settings.sync_config().pacing is True
    monkeypatch.setenv("KLAVIYO_PACING", "false")
    settings, _ = load_settings(None, api_key=KEY)
    assert settings.sync_config().pacing is False


@pytest.mark.parametrize("pacing", [True, False])
def test_engine_hands_the_setting_to_its_client(
    running_sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pacing: bool,
) -> None:
    seen: list[bool] = []

    def client(*args: Any, **kwargs: Any) -> KlaviyoClient:
        seen.append(kwargs["pacing"])
        return KlaviyoClient(*args, **kwargs)

    monkeypatch.setattr(engine, "KlaviyoClient", client)
    cfg = engine_config(running_sandbox, tmp_path, pacing=pacing)
    result = engine.run_sync(cfg, RunRequest(tables=("list",)))
    assert result.status == RunStatus.SUCCEEDED
    assert seen == [pacing]

"""The parts that face people: the sandbox and the dashboard listen on the
loopback interface unless told otherwise, and a config file holding a key
must be owner-only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from tests.faults.support import serve, small
from typer.testing import CliRunner

from klaviyo_connector.cli import app
from klaviyo_connector.sandbox import Sandbox

pytestmark = pytest.mark.slow


def _listening(pid: int, timeout: float = 60) -> list[str]:
    """The addresses a process listens on, once it listens at all."""
    process = psutil.Process(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        addresses = [
            c.laddr.ip
            for c in process.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN
        ]
        if addresses:
            return addresses
        if not process.is_running():
            break
        time.sleep(0.1)
    raise AssertionError("the command never started listening")


@pytest.mark.parametrize(
    "command",
    [
        ["sandbox", "--port", "0", "--profiles", "10"],
        ["serve", "--port", "0", "--data-dir", "service-data"],
    ],
)
def test_commands_listen_on_loopback_by_default(
    command: list[str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVIYO_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "klaviyo_connector", *command],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert set(_listening(process.pid)) == {"127.0.0.1"}
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o640, True)])
def test_a_config_file_with_a_key_must_be_owner_only(
    mode: int, warned: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox(small())
    with serve(sandbox) as running:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("COLUMNS", "200")
        for name in ("KLAVIYO_API_KEY", "KLAVIYO_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        config = tmp_path / "klaviyo-connector.toml"
        config.write_text(
            f'api_key = "{running.api_key}"\nbase_url = "{running.base_url}"\n'
        )
        config.chmod(mode)
        result = CliRunner().invoke(app, ["check"])

    assert result.exit_code == 0, result.output
    warning = f"other users can read it (mode {mode:o}); run: chmod 600"
    assert (warning in result.output) is warned
    assert running.api_key not in result.output
    # Reading settings never rewrites the file or loosens it.
    assert config.stat().st_mode & 0o777 == mode

"""`sync` and `backfill` of a second Klaviyo account into a dataset that
holds another: one line saying so and how to fix it, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import StartSandbox
from typer.testing import CliRunner

from klaviyo_connector.cli import app
from klaviyo_connector.sandbox import RunningSandbox

pytestmark = pytest.mark.slow


def test_a_second_account_is_a_configuration_error(
    start_sandbox: StartSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    first, second = start_sandbox(), start_sandbox(seed=7)
    runner = CliRunner()

    def run(running: RunningSandbox, *args: str) -> tuple[int, str]:
        env = {"KLAVIYO_API_KEY": running.api_key, "KLAVIYO_BASE_URL": running.base_url}
        result = runner.invoke(app, [*args, "--tables", "list"], env=env)
        return result.exit_code, result.output

    assert run(first, "sync")[0] == 0
    held = first.sandbox.store.account()["id"]
    current = second.sandbox.store.account()["id"]
    path = tmp_path / "klaviyo-warehouse.duckdb"
    for command in (["sync"], ["backfill", "--from", "2024-01-01"]):
        code, output = run(second, *command)
        assert code == 2, output
        assert output.strip() == (
            f"Error: The dataset klaviyo in the DuckDB file {path} holds Klaviyo "
            f"account Aurora Outfitters Ltd. ({held}), but the key belongs to "
            f"account Aurora Outfitters Ltd. ({current}); a dataset holds one "
            "account, so nothing was read. Sync Aurora Outfitters Ltd. "
            f"({current}) into another dataset (--dataset) or another DuckDB file "
            "(--duckdb-path)."
        )
    other_file = ["--duckdb-path", str(tmp_path / "second.duckdb")]
    assert run(second, "sync", *other_file)[0] == 0

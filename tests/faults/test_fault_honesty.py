"""A run that raised no error but may have missed data says so: the table
carries a warning, the summary shows it, the verdict is not a plain success,
and `sync --strict` exits 1 on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.faults.support import assert_converged, config, serve, small, sync
from typer.testing import CliRunner

from klaviyo_connector.cli import app
from klaviyo_connector.load.warehouse import Warehouse
from klaviyo_connector.sandbox import Sandbox, SandboxConfig
from klaviyo_connector.sync.models import RunStatus

pytestmark = pytest.mark.slow

FIRST_SYNC_EMPTY = (
    "This first sync loaded no segment rows although Klaviyo lists segment "
    "records; check that the key belongs to the right account and report it if "
    "it does."
)


class StaleEmptyPage:
    """ASGI middleware playing a broken cache in front of Klaviyo: full pages
    of segments come back empty, single-record probes do not."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.stale = True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        query = (
            scope.get("query_string", b"").replace(b"%5B", b"[").replace(b"%5D", b"]")
        )
        full_page = b"page[size]=10" in query
        if self.stale and scope.get("path") == "/api/segments" and full_page:
            body = orjson.dumps({"data": [], "links": {"self": "", "next": None}})
            headers = [(b"content-type", b"application/vnd.api+json")]
            await send(
                {"type": "http.response.start", "status": 200, "headers": headers}
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.inner(scope, receive, send)


class CachedSandbox(Sandbox):
    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self.cache = StaleEmptyPage(super().app)

    @property
    def app(self) -> Any:  # type: ignore[override]
        return self.cache


def _cli_env(running: Any, tmp_path: Path) -> dict[str, str]:
    return {
        "KLAVIYO_API_KEY": running.api_key,
        "KLAVIYO_BASE_URL": running.base_url,
        "KLAVIYO_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "KLAVIYO_DATA_DIR": str(tmp_path / "connector-data"),
        "COLUMNS": "250",
    }


def test_a_first_sync_that_loads_nothing_while_klaviyo_lists_records_warns(
    tmp_path: Path,
) -> None:
    sandbox = CachedSandbox(small())
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        result = sync(cfg, "segment", "list")

        assert result.status == RunStatus.SUCCEEDED
        assert result.tables["segment"].rows == 0
        assert result.tables["segment"].warnings == [FIRST_SYNC_EMPTY]
        assert result.tables["list"].warnings == []

        cli = CliRunner()
        env = _cli_env(running, tmp_path / "cli")
        shown = cli.invoke(app, ["sync", "--tables", "segment,list"], env=env)
        assert shown.exit_code == 0, shown.output
        assert f"segment: {FIRST_SYNC_EMPTY}" in shown.output
        assert (
            "Sync succeeded with warnings: 2 tables loaded; check segment "
            "(warnings above)."
        ) in shown.output
        assert "Sync succeeded: " not in shown.output

        strict_env = _cli_env(running, tmp_path / "strict")
        strict = cli.invoke(
            app, ["sync", "--tables", "segment", "--strict", "-q"], env=strict_env
        )
        assert strict.exit_code == 1
        assert FIRST_SYNC_EMPTY in strict.output

        # The cache mended, the next sync loads what the empty one missed.
        sandbox.cache.stale = False
        assert_converged(cfg, sandbox, ("segment", "list"))


def test_an_empty_account_is_not_a_warning(tmp_path: Path) -> None:
    sandbox = Sandbox(small(profiles=0, segments=0))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        result = sync(cfg, "segment", "profile")

        assert result.status == RunStatus.SUCCEEDED
        assert result.tables["segment"].rows == result.tables["profile"].rows == 0
        assert result.tables["segment"].warnings == []
        assert result.tables["profile"].warnings == []

        assert_converged(cfg, sandbox, ("segment", "profile"))


def test_records_read_but_none_loaded_is_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load step that reports nothing written although Klaviyo sent
    records (here: one that drops the rows) cannot pass as a success."""
    original = Warehouse.load

    def losing_load(self: Warehouse, spec: Any, rows: Any, **kw: Any) -> int:
        original(self, spec, [], **kw)
        return 0

    sandbox = Sandbox(small())
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        assert sync(cfg, "list").status == RunStatus.SUCCEEDED
        monkeypatch.setattr(Warehouse, "load", losing_load)
        result = sync(cfg, "list", lookback_days=3650)

        assert result.status == RunStatus.SUCCEEDED
        assert result.tables["list"].warnings == [
            "Klaviyo returned 14 list record(s) but none were loaded; this is a "
            "connector bug, please report it."
        ]

        monkeypatch.setattr(Warehouse, "load", original)
        sandbox.mutate(share=0.5)
        assert_converged(cfg, sandbox, ("list",))

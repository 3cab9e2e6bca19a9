"""A base URL that points at a server other than Klaviyo is found by the key
check (GET /api/accounts), said once with the fix, and leaves nothing behind;
a proxy's page on that request still leaves the tables to speak for
themselves (docs/reliability.md)."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import StartSandbox, engine_config
from typer.testing import CliRunner

from klaviyo_connector.cli import app
from klaviyo_connector.config import SyncConfig
from klaviyo_connector.errors import NotKlaviyoError
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.sync.check import check_connection
from klaviyo_connector.sync.engine import NOT_FINISHED, run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

pytestmark = pytest.mark.slow

KEY = "pk_sandbox000000000000000000000000000"
FIX = (
    "Check the base URL (--base-url or KLAVIYO_BASE_URL): Klaviyo's is "
    "https://a.klaviyo.com."
)
NOT_FOUND = (
    "GET /api/accounts answered 404 with an HTML page instead of Klaviyo's JSON."
)


class WebSite:
    """`python -m http.server` over a folder, on a free loopback port."""

    def __init__(self, root: Path) -> None:
        self.paths: list[str] = []
        site = self

        class Handler(SimpleHTTPRequestHandler):
            def log_request(self, code: Any = "-", size: Any = "-") -> None:
                site.paths.append(self.path.split("?", 1)[0])

            def log_message(self, format: str, *args: Any) -> None:
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[WebSite]:
    root = tmp_path / "site"
    root.mkdir()
    web = WebSite(root)
    thread = threading.Thread(target=web.server.serve_forever, daemon=True)
    thread.start()
    yield web
    web.server.shutdown()
    web.server.server_close()


def _page_at_the_account_path(site: WebSite, tmp_path: Path) -> None:
    (tmp_path / "site" / "api").mkdir()
    page = "<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>"
    (tmp_path / "site" / "api" / "accounts").write_text(page)


@pytest.mark.parametrize(
    ("page", "says"),
    [
        (False, NOT_FOUND),
        (
            True,
            "GET /api/accounts answered 200 with a body that is not valid JSON (cut "
            "short or malformed).",
        ),
    ],
    ids=["404 page", "200 page"],
)
def test_a_sync_against_another_server_stops_at_the_key_check(
    site: WebSite, tmp_path: Path, page: bool, says: str
) -> None:
    if page:
        _page_at_the_account_path(site, tmp_path)
    cfg = SyncConfig(
        api_key=ApiKey(KEY),
        base_url=site.base_url,
        duckdb_path=tmp_path / "warehouse.duckdb",
        data_dir=tmp_path / "connector-data",
        max_attempts=2,
    )
    result = run_sync(cfg, RunRequest())

    assert result.status == RunStatus.FAILED
    assert result.error is not None
    assert result.error.startswith(
        f"The base URL {site.base_url} does not answer like Klaviyo: {says}"
    )
    assert result.error.endswith(FIX)
    assert {t.error for t in result.tables.values()} == {NOT_FINISHED}
    assert set(site.paths) == {"/api/accounts"}
    assert not cfg.duckdb_path.exists()
    assert not cfg.data_dir.exists()


def test_check_names_the_base_url_that_is_not_klaviyo(site: WebSite) -> None:
    with pytest.raises(NotKlaviyoError) as caught:
        check_connection(ApiKey(KEY), site.base_url)
    assert str(caught.value) == (
        f"The base URL {site.base_url} does not answer like Klaviyo: {NOT_FOUND} {FIX}"
    )
    assert site.paths == ["/api/accounts"]


def test_the_command_line_says_it_once_and_leaves_nothing_behind(
    site: WebSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in [n for n in os.environ if n.startswith("KLAVIYO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "200")
    env = {"KLAVIYO_API_KEY": KEY, "KLAVIYO_BASE_URL": site.base_url}
    said = (
        f"The base URL {site.base_url} does not answer like Klaviyo: {NOT_FOUND} {FIX}"
    )

    synced = CliRunner().invoke(app, ["sync"], env=env)
    checked = CliRunner().invoke(app, ["check"], env=env)

    assert synced.exit_code == 1
    assert synced.output.strip().splitlines() == [f"Sync failed: {said}"]
    assert checked.exit_code == 1
    assert checked.output.strip().splitlines() == [f"Error: {said}"]
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("status", [403, 400])
def test_a_proxy_page_on_the_key_check_leaves_the_run_to_its_tables(
    start_sandbox: StartSandbox, tmp_path: Path, status: int
) -> None:
    running = start_sandbox()
    running.sandbox.faults.add("html", status=status, count=None, path="/api/accounts")
    result = run_sync(
        engine_config(running, tmp_path), RunRequest(tables=("list", "segment"))
    )

    assert result.error is None
    assert all(t.ok for t in result.tables.values()), result.tables

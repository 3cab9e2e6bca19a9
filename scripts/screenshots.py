"""Takes the documentation screenshots of the dashboard, against the sandbox.

    python scripts/screenshots.py            # writes docs/screenshots/*.png

It starts the sandbox and the service on free ports in a temporary folder (the
service keeps its state in ./klaviyo-data there, as a user's would), connects
"Main store" syncing every 6 hours with auto-sync on, runs Sync now and a
historical recovery, then saves the connection page and the dashboard. Needs
Chromium at /usr/bin/chromium (or CHROMIUM) and the dev extras (Playwright).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from klaviyo_connector.sandbox import SandboxConfig, serve_in_thread
from klaviyo_connector.service.app import create_app
from klaviyo_connector.service.settings import ServiceSettings

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WIDTH = 1200
RUN_TIMEOUT_MS = 180_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _service(base_url: str) -> Iterator[tuple[str, str]]:
    """The dashboard on a free port; yields its URL and a sign-in link."""
    settings = ServiceSettings(data_dir=Path("klaviyo-data"), klaviyo_base_url=base_url)
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, f"{url}/signin?token={app.state.service.auth.issue_link()}"
    finally:
        server.should_exit = True
        thread.join(10)


def _set_up(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/connect")
    page.fill("input[name=name]", "Main store")
    page.fill("input[name=api_key]", key)
    page.click("button:has-text('Connect')")
    page.click("text=Continue")
    page.click("button:has-text('Continue')")
    page.select_option("select[name=sync_period]", "6h")
    page.check("input[name=auto_sync]")
    page.click("button:has-text('Save')")
    expect(page.locator("h1")).to_have_text("Main store")


def _settle(page: Page, run_id: int) -> None:
    expect(page.locator(f"#run-{run_id} .status")).to_have_text(
        "succeeded", timeout=RUN_TIMEOUT_MS
    )
    expect(page.locator("tr.live")).to_have_count(0, timeout=RUN_TIMEOUT_MS)


def _sync_and_recover(page: Page) -> None:
    page.click("#sync-now")
    _settle(page, 1)
    page.click("nav.tabs >> text=Historical data")
    page.click("#launch-historical")
    _settle(page, 2)


def _shoot(page: Page, url: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.goto(f"{url}/connections/1")
    page.screenshot(path=str(OUT / "connection.png"), full_page=True)
    page.goto(url)
    expect(page.locator(".connection-card svg")).to_have_count(2)
    page.screenshot(path=str(OUT / "dashboard.png"), full_page=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="klaviyo-shots-") as folder:
        os.chdir(folder)
        config = SandboxConfig(profiles=1500, rate_limits=False)
        with (
            serve_in_thread(config, port=0) as sandbox,
            _service(sandbox.base_url) as (url, link),
            sync_playwright() as p,
        ):
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.goto(link)
            _set_up(page, url, sandbox.api_key)
            _sync_and_recover(page)
            _shoot(page, url)
            browser.close()
    for shot in sorted(OUT.glob("*.png")):
        print(f"{shot.relative_to(OUT.parents[1])}: {shot.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

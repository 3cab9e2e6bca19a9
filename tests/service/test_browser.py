"""The dashboard in headless Chromium, against the real engine and the sandbox.

Screenshots of every page land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from tests.service.support import (
    NO_SEGMENTS_KEY,
    WRONG_KEY,
    make_app,
    sandbox_config,
)

from klaviyo_connector.sandbox import serve_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dashboard:
    """The service on a free port, served by uvicorn on a thread."""

    def __init__(self, data_dir: Path, base_url: str, **settings: object) -> None:
        self.app = make_app(
            data_dir, base_url=base_url, allow_seconds_period=True, **settings
        )
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Dashboard:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started, "the dashboard did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def signin_link(self) -> str:
        return f"{self.url}/signin?token={self.app.state.service.auth.issue_link()}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def dashboard(tmp_path) -> Iterator[Dashboard]:
    with (
        serve_in_thread(sandbox_config(), port=0) as sandbox,
        Dashboard(tmp_path / "data", sandbox.base_url) as served,
    ):
        served.sandbox = sandbox  # type: ignore[attr-defined]
        yield served


@pytest.fixture
def page(browser, dashboard):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    opened.goto(dashboard.signin_link())
    expect(opened.locator("h1")).to_have_text("Connections")
    yield opened
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def connect(page, name: str, key: str) -> None:
    page.goto("/".join(page.url.split("/")[:3]) + "/connect")
    page.fill("input[name=name]", name)
    page.fill("input[name=api_key]", key)
    page.click("button:has-text('Connect')")


def run_row(page, kind: str):
    """The newest run of this kind, pinned by its id: with a short sync period
    newer runs keep arriving above it, and the test follows this one."""
    newest = page.locator("table.runs tbody tr", has_text=kind).first
    expect(newest).to_have_attribute("data-run", re.compile(r"^\d+$"))
    return page.locator(f"#run-{newest.get_attribute('data-run')}")


def settled(page) -> None:
    """The page reloaded itself after the run ended: no live rows are left."""
    expect(page.locator("tr.live")).to_have_count(0, timeout=30_000)
    page.wait_for_load_state()


def test_setup_sync_recover_and_schedule(page, dashboard):
    shot(page, "home-empty")
    connect(page, "Main store", dashboard.sandbox.api_key)
    expect(page.locator("p.success")).to_contain_text("Connected to Aurora Outfitters")
    expect(page.locator("ul.permissions li.ok")).to_have_count(5)
    shot(page, "connect")
    page.click("text=Continue")
    expect(page.locator("h1")).to_have_text("Select prebuilt reports")
    boxes = page.locator("input[name=tables]")
    expect(boxes).to_have_count(5)
    for n in range(5):
        expect(boxes.nth(n)).to_be_checked()
    page.uncheck("input[name=tables][value=segment]")
    shot(page, "select-reports")
    page.click("button:has-text('Continue')")
    expect(page.locator("h1")).to_have_text("Finish setup")
    expect(page.locator("main form")).to_contain_text("Detected: Placed Order (Shopify")
    page.select_option("select[name=sync_period]", "6h")
    page.fill("input[name=lookback_days]", "30")
    shot(page, "finish-setup")
    page.click("button:has-text('Save')")
    expect(page.locator("h1")).to_have_text("Main store")

    page.click("#sync-now")
    first = run_row(page, "manual")
    expect(first.locator(".status")).to_have_text("succeeded", timeout=90_000)
    settled(page)
    for table in ("campaign", "list", "profile", "campaign_performance_stats"):
        expect(first.locator(f"[data-table={table}]")).to_contain_text(
            re.compile(r"\d+")
        )
    expect(first.locator("[data-table=profile]")).to_have_text("profile: 300")
    expect(first.locator("[data-table=segment]")).to_have_count(0)
    expect(page.locator(".chart svg")).to_have_count(1)
    shot(page, "connection")

    page.click("nav.tabs >> text=Historical data")
    today = dt.datetime.now(dt.UTC).date()
    page.fill("input[name=start]", (today - dt.timedelta(days=120)).isoformat())
    page.fill("input[name=end]", today.isoformat())
    shot(page, "historical")
    page.click("#launch-historical")
    recovery = run_row(page, "historical")
    expect(recovery.locator(".status")).to_have_text("succeeded", timeout=90_000)
    settled(page)

    page.click("nav.tabs >> text=Settings")
    page.select_option("select[name=sync_period]", "seconds")
    page.fill("input[name=sync_seconds]", "3")
    shot(page, "settings")
    page.click("button:has-text('Save settings')")
    expect(page.locator(".flash")).to_have_text("Settings saved.")
    page.click("nav.tabs >> text=Overview")
    page.click("#auto-sync-switch")
    expect(page.locator("#auto-sync-switch")).to_contain_text("Auto-sync on")
    expect(page.locator("#next-sync")).to_contain_text("UTC")
    scheduled = run_row(page, "scheduled")
    expect(scheduled.locator(".status")).to_have_text("succeeded", timeout=60_000)
    page.click("#auto-sync-switch")
    expect(page.locator("#auto-sync-switch")).to_contain_text("Auto-sync off")
    assert dashboard.app.state.service.queue.wait_idle(60)
    page.reload()
    expect(page.locator("table.runs tbody tr")).not_to_have_count(0)
    shot(page, "connection-history")

    page.click("header >> text=Dashboard")
    card = page.locator(".connection-card").first
    expect(card.locator(".health")).to_have_text("auto-sync off")
    expect(card.locator(".health")).to_have_attribute("data-health", "paused")
    expect(card.locator("svg")).to_have_count(2)
    expect(card).to_contain_text("Recent campaigns: open and click rate")
    shot(page, "dashboard")


def test_strangers_land_on_sign_in(browser, dashboard):
    context = browser.new_context()
    stranger = context.new_page()
    stranger.goto(dashboard.url + "/connections/1")
    expect(stranger.locator("h1")).to_have_text("Sign in")
    assert stranger.url == dashboard.url + "/signin"
    shot(stranger, "signin")
    stranger.goto(dashboard.signin_link())
    expect(stranger.locator("h1")).to_have_text("Connections")
    context.close()


def test_wrong_key_and_missing_scope_are_explained(page, dashboard):
    connect(page, "Typo", WRONG_KEY)
    expect(page.locator("p.error")).to_contain_text("Check the private API key")
    expect(page.locator("input[name=api_key]")).to_have_value("")
    shot(page, "connect-wrong-key")
    connect(page, "No segments", NO_SEGMENTS_KEY)
    missing = page.locator("ul.permissions li.missing")
    expect(missing).to_have_count(1)
    expect(missing).to_contain_text("segment")
    expect(missing).to_contain_text("segments:read")
    shot(page, "connect-missing-scope")
    page.click("text=Continue")
    expect(page.locator("input[name=tables][value=segment]")).not_to_be_checked()
    expect(page.locator(".badge.missing")).to_contain_text("segments:read")


def test_api_page_renders_offline_with_nothing_from_outside(browser, dashboard):
    context = browser.new_context()
    outside: list[str] = []
    failed: list[str] = []

    def only_ours(route) -> None:
        if route.request.url.startswith(dashboard.url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_ours)
    page = context.new_page()
    page.on("response", lambda r: r.status >= 400 and failed.append(r.url))
    page.goto(dashboard.signin_link())
    expect(page.locator("h1")).to_have_text("Connections")
    page.click("header >> text=API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.locator("#swagger-ui")).to_contain_text(
        "/api/connections/{connection_id}"
    )
    shot(page, "api-docs")
    assert outside == []
    assert failed == []
    context.close()


def _set_up(page, dashboard) -> None:
    connect(page, "Main store", dashboard.sandbox.api_key)
    page.click("text=Continue")
    page.click("button:has-text('Continue')")
    page.click("button:has-text('Save')")
    expect(page.locator("h1")).to_have_text("Main store")


def test_a_finished_run_updates_the_page_in_place(page, dashboard):
    _set_up(page, dashboard)
    badge = page.locator(".title-row .health")
    expect(badge).to_have_text("never run")
    expect(page.locator("[data-section=chart] svg")).to_have_count(0)
    page.click("#sync-now")
    expect(page.locator(".flash")).to_have_text("Sync started (run #1).")
    page.evaluate("window.sameDocument = true")
    row = page.locator("#run-1")
    expect(row.locator(".status")).to_have_text("succeeded", timeout=90_000)
    expect(row.locator("[data-field=duration]")).to_have_text(
        re.compile(r"^(\d+\.\d s|\d+ min \d+ s)$")
    )
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    # The first sync has no cursor yet and reads every table from the beginning.
    expect(row.locator("[data-field=window]")).to_have_text(
        re.compile(rf"^full history\s*→ {stamp}\s*campaign stats: last 730 days$")
    )
    expect(row.locator("[data-table=profile]")).to_have_text("profile: 300")
    expect(badge).to_have_text("auto-sync off")
    expect(page.locator(".flash")).to_have_count(0)
    expect(page.locator("[data-section=chart] svg")).to_have_count(1)
    assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
    shot(page, "connection-live")


def test_a_run_that_stopped_as_a_whole_fits_its_card(page, dashboard):
    _set_up(page, dashboard)
    dashboard.sandbox.sandbox.revoke_key(dashboard.sandbox.api_key)
    page.click("#sync-now")
    row = page.locator("#run-1")
    expect(row.locator(".status")).to_have_text("failed", timeout=60_000)
    settled(page)
    expect(row.locator("[data-field=problem] p.error")).to_have_count(1)
    expect(row.locator("[data-field=problem]")).to_contain_text(
        "Klaviyo rejected the API key"
    )
    expect(row.locator("[data-table=campaign_performance_stats]")).to_have_text(
        "campaign_performance_stats: not run"
    )
    expect(row.locator("[data-field=duration]")).to_have_css("white-space", "nowrap")
    # A long word (a path, a table name) breaks rather than widen the table.
    expect(row.locator("[data-field=problem]")).to_have_css("overflow-wrap", "anywhere")
    card = page.locator("[data-section=runs]").bounding_box()
    table = page.locator("table.runs").bounding_box()
    assert table["x"] + table["width"] <= card["x"] + card["width"], (table, card)
    shot(page, "connection-failed")


def test_a_run_ending_leaves_a_form_being_edited_alone(page, dashboard):
    _set_up(page, dashboard)
    dashboard.sandbox.sandbox.faults.add(
        "slow", delay=1.0, count=3, path="/api/profiles*"
    )
    page.click("#sync-now")
    page.click("nav.tabs >> text=Settings")
    expect(page.locator("#run-1")).to_have_class(re.compile("live"))
    page.fill("input[name=name]", "Typed, not saved")
    page.fill("input[name=lookback_days]", "21")
    expect(page.locator("#run-1 .status")).to_have_text("succeeded", timeout=90_000)
    expect(page.locator(".title-row .health")).to_have_text("auto-sync off")
    expect(page.locator("input[name=name]")).to_have_value("Typed, not saved")
    expect(page.locator("input[name=lookback_days]")).to_have_value("21")


def test_every_page_keeps_to_its_content_security_policy(page, dashboard):
    refused: list[str] = []
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and refused.append(m.text),
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('Content Security Policy violation: ' + e.violatedDirective))"
    )
    _set_up(page, dashboard)
    page.click("#sync-now")
    expect(page.locator("#run-1 .status")).to_have_text("succeeded", timeout=90_000)
    expect(page.locator("[data-section=chart] svg")).to_have_count(1)
    title = page.locator("[data-section=chart] svg .title").first
    expect(title).to_have_css("fill", "rgb(15, 23, 42)")
    base = dashboard.url
    for path in ("/", "/connect", "/connections/1?tab=historical", "/docs"):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    page.goto(base + "/")
    expect(page.locator(".connection-card svg")).to_have_count(2)
    page.goto(base + "/connections/1?tab=settings")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button:has-text('Delete connection')")
    expect(page.locator("h1")).to_have_text("Main store")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete connection')")
    expect(page.locator(".flash")).to_contain_text("Connection deleted.")
    assert refused == []
    headers = page.request.get(base + "/").headers
    assert headers["content-security-policy"].startswith("default-src 'self';")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (headers["x-frame-options"], headers["x-content-type-options"]) == (
        "DENY",
        "nosniff",
    )
    assert headers["referrer-policy"] == "same-origin"


LIVE_PROFILES = 500  # five pages, each committed on its own


def _counting(counts: range) -> re.Pattern[str]:
    """A running row's profile cell showing one of `counts`, the table not done."""
    return re.compile("|".join(rf"^profile: {n} …$" for n in counts))


def test_a_running_sync_shows_growing_counts_per_table(browser, tmp_path):
    config = sandbox_config(profiles=LIVE_PROFILES)
    with (
        serve_in_thread(config, port=0) as sandbox,
        Dashboard(tmp_path / "data", sandbox.base_url, profile_chunk_rows=100) as d,
    ):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(d.signin_link())
        d.sandbox = sandbox  # type: ignore[attr-defined]
        _set_up(page, d)
        sandbox.sandbox.faults.add("slow", delay=1.5, count=None, path="/api/profiles*")
        page.click("#sync-now")
        page.evaluate("window.sameDocument = true")
        row = page.locator("#run-1")
        cell = row.locator("[data-table=profile]")
        soon = {"timeout": 60_000}
        expect(cell).to_have_text(
            _counting(range(100, LIVE_PROFILES - 100, 100)), **soon
        )
        expect(row.locator(".status")).to_have_text("running")
        first = int(cell.inner_text().split()[1])
        assert first < LIVE_PROFILES - 100, "the profile read ran ahead of the page"
        expect(row.locator("[data-table=list]")).to_have_text(
            re.compile(r"^list: [1-9]\d*$")
        )
        shot(page, "connection-running")
        expect(cell).to_have_text(
            _counting(range(first + 100, LIVE_PROFILES, 100)), **soon
        )
        expect(row.locator(".status")).to_have_text("succeeded", timeout=90_000)
        expect(row.locator("[data-table=profile]")).to_have_text("profile: 500")
        assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
        context.close()

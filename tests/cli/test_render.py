"""The progress line per table: rows, requests, and why it waits while it does."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress as Bar

from klaviyo_connector.cli.render import LiveProgress
from klaviyo_connector.sync.models import Progress

WAITING = "waiting 41 s for Klaviyo's rate limit on /api/profiles"


def test_a_table_line_says_why_it_waits_until_the_next_page():
    bar = Bar(console=Console(file=io.StringIO()))
    live = LiveProgress(bar)
    live(Progress("profile", 1200, 13, note=WAITING))
    assert bar.tasks[0].description.endswith(f"13 requests  {WAITING}")
    live(Progress("profile", 1300, 14))
    assert bar.tasks[0].description.endswith("14 requests  ")
    live(Progress("profile", 1300, 14, note="[retry] on /api/profiles"))
    assert bar.tasks[0].description.endswith(r"\[retry] on /api/profiles")

"""A table whose request waits says why in its progress, until the next page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from tests.client.client_support import BASE, KEY, FakeTime, Script, doc, resources

from klaviyo_connector.client import KlaviyoClient
from klaviyo_connector.config import SyncConfig
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.sync.context import RunContext, TableRun
from klaviyo_connector.sync.models import Progress, RunRequest

PROFILES = "/api/profiles"
NEXT = f"{BASE}/api/profiles?page[cursor]=2"


class Table:
    """One profile table over a scripted Klaviyo with a fake clock, keeping
    its progress events."""

    def __init__(self, script: Script, **client_options: Any) -> None:
        self.time = FakeTime()
        self.events: list[Progress] = []
        self.client = KlaviyoClient(
            ApiKey(KEY),
            base_url=BASE,
            transport=httpx.MockTransport(script),
            clock=self.time.clock,
            sleep=self.sleep,
            **client_options,
        )
        cfg = SyncConfig(api_key=ApiKey(KEY), base_url=BASE)
        started = dt.datetime.now(dt.UTC)
        ctx = RunContext(cfg, RunRequest(), self.client, None, started)
        ctx.progress = self.events.append
        self.client.on_wait = ctx.on_wait
        self.run = TableRun(ctx, "profile", (PROFILES,))

    def sleep(self, seconds: float) -> None:
        # The page read before the wait is still being turned into rows.
        self.run.step()
        self.time.sleep(seconds)

    @property
    def notes(self) -> list[str | None]:
        return [event.note for event in self.events]


def _limited(page: httpx.Response) -> httpx.Response:
    """The page with Klaviyo saying the minute's 750 requests are used up."""
    page.headers["RateLimit-Limit"] = "750, 75;w=1, 750;w=60"
    page.headers["RateLimit-Remaining"] = "0"
    page.headers["RateLimit-Reset"] = "40"
    return page


def test_a_rate_limit_wait_is_told_until_the_next_page_arrives():
    first = _limited(doc(resources("profile", "p1"), NEXT))
    table = Table(Script(first, doc(resources("profile", "p2"))))
    pages = table.client.paginate(PROFILES)
    next(pages)
    table.run.step()
    next(pages)
    table.run.step()
    waiting = "waiting 41 s for Klaviyo's rate limit on /api/profiles"
    first_page, *during, second_page = table.events
    assert (first_page.note, second_page.note) == (None, None)
    assert during[0].note == waiting
    # The first page's rows, built during the wait, do not end it.
    assert len(during) > 1
    assert {(e.note, e.requests) for e in during} == {(waiting, 1)}
    assert second_page.requests == 2


def test_a_retry_wait_names_the_status_the_seconds_and_the_attempt():
    unavailable = httpx.Response(
        503,
        content=b'{"errors": [{"status": 503, "code": "error", "detail": "busy"}]}',
        headers={"content-type": "application/vnd.api+json", "retry-after": "8"},
    )
    script = Script(doc(resources("profile", "p1"), NEXT), unavailable, doc([]))
    table = Table(script, max_attempts=5)
    pages = table.client.paginate(PROFILES)
    next(pages)
    table.run.step()
    assert next(pages).data == []
    table.run.step()
    retrying = "Klaviyo answered 503 on /api/profiles; retrying in 8 s (attempt 2 of 5)"
    assert table.notes == [None, retrying, retrying, None]
    assert all(KEY not in (note or "") for note in table.notes)


def test_short_waits_and_finished_tables_carry_no_note():
    first = doc(resources("profile", "p1"), NEXT)
    throttled = httpx.Response(
        429,
        content=b'{"errors": [{"status": 429, "code": "throttled", "detail": "x"}]}',
        headers={"content-type": "application/vnd.api+json", "retry-after": "1"},
    )
    table = Table(Script(first, throttled, doc([])))
    for _ in table.client.paginate(PROFILES):
        table.run.step()
    table.run.finish()
    assert table.time.sleeps, "the 429 was waited for"
    assert set(table.notes) == {None}
    assert table.events[-1].done


def test_a_wait_told_after_the_table_finished_is_not_reported():
    table = Table(Script(doc([])))
    table.run.finish()
    table.run.waiting("waiting 41 s for Klaviyo's rate limit on /api/profiles")
    assert len(table.events) == 1
    assert table.events[0].done
    assert table.events[0].note is None


def test_a_reader_on_its_last_page_after_the_table_finished_reports_nothing():
    table = Table(Script(doc([])))
    table.run.finish("The warehouse refused the load.")
    table.run.step()
    assert [(event.done, event.error) for event in table.events] == [
        (True, "The warehouse refused the load.")
    ]


def test_a_listener_that_fails_costs_the_display_not_the_table():
    table = Table(Script(doc(resources("profile", "p1"))))

    def broken(event: Progress) -> None:
        raise RuntimeError("the terminal is gone")

    table.run.ctx.progress = broken
    for _ in table.client.paginate(PROFILES):
        table.run.step(rows_loaded=1)
    table.run.waiting("waiting 41 s for Klaviyo's rate limit on /api/profiles")
    result = table.run.finish()
    assert (result.rows, result.requests, result.error) == (1, 1, None)

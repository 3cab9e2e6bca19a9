"""What a progress display says while a request waits, for each kind of wait."""

from __future__ import annotations

import pytest
from tests.client.client_support import Script, doc, error, resources

from klaviyo_connector.client import WaitInfo


@pytest.mark.parametrize(
    ("wait", "note"),
    [
        (
            WaitInfo("/api/profiles", 41.2),
            "waiting 41 s for Klaviyo's rate limit on /api/profiles",
        ),
        (
            WaitInfo("/api/lists", 12.6, "throttled", 429),
            "Klaviyo answered 429 (rate limit) on /api/lists; retrying in 13 s",
        ),
        (
            WaitInfo("/api/lists", 8, "server", 503, "503", 2, 5),
            "Klaviyo answered 503 on /api/lists; retrying in 8 s (attempt 2 of 5)",
        ),
        (
            WaitInfo("/api/lists", 3, "html", 403, "403 HTML page", 2, 3),
            "Klaviyo answered 403 with a web page on /api/lists; retrying in 3 s"
            " (attempt 2 of 3)",
        ),
        (
            WaitInfo("/api/lists", 4, "body", 200, "truncated or invalid JSON", 3, 8),
            "Klaviyo's answer on /api/lists was cut short or malformed; retrying in 4 s"
            " (attempt 3 of 8)",
        ),
        (
            WaitInfo("/api/lists", 5, "transport", None, "the answer timed out", 4, 8),
            "no answer from Klaviyo on /api/lists (the answer timed out); retrying"
            " in 5 s (attempt 4 of 8)",
        ),
    ],
)
def test_each_wait_reads_as_one_plain_line(wait, note):
    assert wait.note == note


def test_the_client_tells_only_waits_of_two_seconds_or_more(make_client):
    throttled = [
        error(429, "throttled", "Slow down.", headers={"retry-after": str(s)})
        for s in (1, 3)
    ]
    script = Script(*throttled, doc(resources("list", "l1")))
    heard: list[WaitInfo] = []
    client = make_client(script, on_wait=heard.append)
    client.get("/api/lists")
    assert [(w.endpoint, w.cause, w.status) for w in heard] == [
        ("/api/lists", "throttled", 429)
    ]
    assert 3 <= heard[0].seconds < 4.5


def test_a_listener_that_fails_does_not_stop_the_request(make_client):
    def broken(wait: WaitInfo) -> None:
        raise RuntimeError("the dashboard's database is gone")

    throttled = error(429, "throttled", "Slow down.", headers={"retry-after": "3"})
    client = make_client(
        Script(throttled, doc(resources("list", "l1"))), on_wait=broken
    )
    assert client.get("/api/lists")["data"][0]["id"] == "l1"

"""Pacing can be switched off for a server without limits, and only then."""

from __future__ import annotations

from tests.client.client_support import FakeTime, Script, doc, error, resources


def test_paced_client_waits_at_the_burst_limit(make_client, fake_time: FakeTime):
    client = make_client(Script(doc(resources("list", "a"))))
    for _ in range(76):  # lists allow 75 a second
        client.get("/api/lists")
    assert fake_time.sleeps
    assert sum(fake_time.sleeps) >= 1.0


def test_unpaced_client_never_waits(make_client, fake_time: FakeTime):
    client = make_client(Script(doc(resources("list", "a"))), pacing=False)
    for _ in range(800):  # beyond both the burst and the steady limit
        client.get("/api/lists")
    assert fake_time.sleeps == []
    assert client.stats.requests == 800


def test_unpaced_client_still_waits_out_a_429(make_client, fake_time: FakeTime):
    throttled = error(429, "throttled", "Slow down.", headers={"Retry-After": "3"})
    client = make_client(Script(throttled, doc(resources("list", "a"))), pacing=False)
    client.get("/api/lists")
    assert client.stats.throttled == 1
    assert sum(fake_time.sleeps) >= 3.0

"""A sandbox answering as slowly as a real Klaviyo, without serving one
request at a time."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from tests.sandbox.support import config, headers

from klaviyo_connector.sandbox import serve_in_thread

LATENCY = 0.3


def _timed_get(client: httpx.Client, path: str) -> tuple[int, float]:
    started = time.monotonic()
    status = client.get(path).status_code
    return status, time.monotonic() - started


def test_every_answer_waits_the_latency_and_answers_overlap() -> None:
    with (
        serve_in_thread(config(latency=LATENCY)) as running,
        httpx.Client(
            base_url=running.base_url,
            headers=headers(running.api_key),
            limits=httpx.Limits(max_connections=8),
        ) as client,
    ):
        alone = [_timed_get(client, "/api/profiles") for _ in range(2)]
        errors = _timed_get(client, "/api/nowhere")
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            together = list(
                pool.map(lambda _: _timed_get(client, "/api/lists"), range(8))
            )
        eight = time.monotonic() - started
    assert [status for status, _ in alone] == [200, 200]
    assert min(seconds for _, seconds in alone) >= LATENCY
    assert errors[0] == 404
    assert errors[1] >= LATENCY  # errors take as long
    assert all(status == 200 and s >= LATENCY for status, s in together)
    # Served side by side: eight answers in far less than eight latencies.
    assert eight < 4 * LATENCY


def test_a_connection_reset_still_resets_with_latency() -> None:
    with (
        serve_in_thread(config(latency=0.05)) as running,
        httpx.Client(base_url=running.base_url, headers=headers(running.api_key)) as c,
    ):
        running.sandbox.faults.add("reset")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            c.get("/api/metrics")
        assert c.get("/api/metrics").status_code == 200


def test_latency_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="latency"):
        config(latency=-0.1)

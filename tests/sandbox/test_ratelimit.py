"""Rate limits: fixed burst and steady windows per endpoint tier, headers, 429s."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import httpx
from tests.sandbox.support import config, headers

from klaviyo_connector.sandbox import RunningSandbox, SandboxConfig, serve_in_thread
from klaviyo_connector.sandbox.ratelimit import RateLimiter
from klaviyo_connector.sandbox.spec import Tier

M_TIER = Tier(burst=10, steady=150)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_window_allows_its_limit_then_throttles_until_it_rolls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    decisions = [
        limiter.check(("GET /api/metrics", "default"), M_TIER) for _ in range(11)
    ]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert decisions[-1].retry_after == 1
    assert decisions[0].headers == {
        "RateLimit-Limit": "10, 10;w=1, 150;w=60",
        "RateLimit-Remaining": "9",
        "RateLimit-Reset": "1",
    }
    clock.now += 1.0
    assert limiter.check(("GET /api/metrics", "default"), M_TIER).allowed


def test_steady_window_throttles_after_its_minute_quota() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    allowed = 0
    for _ in range(20):  # 20 seconds of 10 requests each: 200 tries
        for _ in range(10):
            allowed += limiter.check(("b",), M_TIER).allowed
        clock.now += 1.0
    assert allowed == 150
    blocked = limiter.check(("b",), M_TIER)
    assert not blocked.allowed
    assert blocked.retry_after == 40  # the minute window opened 20 s ago
    clock.now += 40
    allowed_again = limiter.check(("b",), M_TIER)
    assert allowed_again.allowed
    # Headers describe the window closest to running out.
    assert allowed_again.headers["RateLimit-Remaining"] == "9"


def test_when_two_windows_are_spent_the_headers_name_the_longer_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    report = Tier(burst=1, steady=2)
    assert limiter.check(("report",), report).headers["RateLimit-Reset"] == "1"
    clock.now += 1.0
    second = limiter.check(("report",), report).headers
    # Both the second and the minute are spent; only the minute's reset is
    # safe to wait for.
    assert second["RateLimit-Remaining"] == "0"
    assert second["RateLimit-Reset"] == "59"
    clock.now += 59.0
    assert limiter.check(("report",), report).allowed


def test_daily_cap_and_time_scale() -> None:
    clock = FakeClock()
    limiter = RateLimiter(time_scale=60, clock=clock)
    tier = Tier(burst=1, steady=2, daily=3)
    results = []
    for _ in range(4):
        results.append(limiter.check(("r",), tier))
        clock.now += 1.0  # a scaled minute
    assert [r.allowed for r in results] == [True, True, True, False]
    assert results[0].headers[
        "RateLimit-Limit"
    ] == "1, 1;w=1, 2;w=60, 225;w=86400".replace("225", "3")
    # A day lasts 1440 s at time_scale 60; about 1437 s of it remain.
    assert 1436 <= results[-1].retry_after <= 1440


def test_buckets_are_separate_per_endpoint_and_tier() -> None:
    limiter = RateLimiter(clock=FakeClock())
    tier = Tier(burst=1, steady=15)
    assert limiter.check(("GET /api/lists/{id}", "profile_count"), tier).allowed
    assert not limiter.check(("GET /api/lists/{id}", "profile_count"), tier).allowed
    assert limiter.check(("GET /api/lists/{id}", "default"), tier).allowed


def test_a_burst_over_http_gets_429s_with_retry_after() -> None:
    clock = FakeClock()  # frozen: every request lands in the same windows
    with serve_in_thread(config(rate_limits=True)) as running:
        running.sandbox.limiter = RateLimiter(clock=clock)
        with httpx.Client(
            base_url=running.base_url, headers=headers(running.api_key)
        ) as client:
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                responses = list(
                    pool.map(lambda _: client.get("/api/metrics"), range(16))
                )
            clock.now += 1.0
            after_window = client.get("/api/metrics")
            other_endpoint = client.get("/api/profiles")
        stats = running.sandbox.requests
    ok = [r for r in responses if r.status_code == 200]
    throttled = [r for r in responses if r.status_code == 429]
    assert (len(ok), len(throttled)) == (10, 6)  # M tier: 10 per second
    remaining = sorted(int(r.headers["RateLimit-Remaining"]) for r in ok)
    assert remaining == list(range(10))
    for response in ok:
        assert response.headers["RateLimit-Limit"] == "10, 10;w=1, 150;w=60"
        assert response.headers["RateLimit-Reset"] == "1"
    for response in throttled:
        assert response.headers["Retry-After"] == "1"
        assert response.headers["content-type"] == "application/vnd.api+json"
        error = response.json()["errors"][0]
        assert (error["status"], error["code"]) == (429, "throttled")
        assert error["detail"] == (
            "Request was throttled. Expected available in 1 second(s)."
        )
        assert "RateLimit-Limit" not in response.headers
    assert after_window.status_code == 200
    assert other_endpoint.headers["RateLimit-Limit"] == "75, 75;w=1, 750;w=60"
    assert stats.throttled == 6


def test_time_scale_shortens_the_windows() -> None:
    # XS tier (1/s) with time running 10x faster: the burst window lasts 0.1 s.
    with (
        serve_in_thread(config(rate_limits=True, time_scale=10.0)) as running,
        httpx.Client(
            base_url=running.base_url, headers=headers(running.api_key)
        ) as client,
    ):
        first = client.get("/api/accounts")
        second = client.get("/api/accounts")
        time.sleep(0.15)
        third = client.get("/api/accounts")
    assert [first.status_code, second.status_code, third.status_code] == [200, 429, 200]
    assert second.headers["Retry-After"] == "1"  # at least 1 whole second


def test_additional_fields_move_a_request_to_a_lower_tier() -> None:
    with (
        serve_in_thread(config(rate_limits=True)) as running,
        httpx.Client(
            base_url=running.base_url, headers=headers(running.api_key)
        ) as client,
    ):
        plain = client.get("/api/profiles")
        predictive = client.get(
            "/api/profiles",
            params={"additional-fields[profile]": "predictive_analytics"},
        )
        subscriptions = client.get(
            "/api/profiles", params={"additional-fields[profile]": "subscriptions"}
        )
    assert plain.headers["RateLimit-Limit"] == "75, 75;w=1, 750;w=60"
    assert predictive.headers["RateLimit-Limit"] == "10, 10;w=1, 150;w=60"
    assert predictive.headers["RateLimit-Remaining"] == "9"
    assert subscriptions.headers["RateLimit-Remaining"] == "73"


def test_limits_can_be_switched_off(api: httpx.Client) -> None:
    responses = [api.get("/api/accounts") for _ in range(5)]
    assert {r.status_code for r in responses} == {200}
    assert all("RateLimit-Limit" not in r.headers for r in responses)


SCOPED_KEY = "pk_" + "reports" + "5" * 27
REPORTS = "/api/campaign-values-reports"


def values_report_sandbox(time_scale: float) -> SandboxConfig:
    """A sandbox with limits on and a second key that may only read campaigns."""
    scoped = {SCOPED_KEY: frozenset({"campaigns:read"})}
    return config(
        profiles=30, rate_limits=True, time_scale=time_scale, scoped_keys=scoped
    )


def report_body(running: RunningSandbox) -> dict[str, Any]:
    store = running.sandbox.store
    metric = next(
        m["id"]
        for m in running.sandbox.ground_truth("metric")
        if store.metric_supports_values(m["id"])
    )
    attributes = {
        "statistics": ["opens"],
        "timeframe": {"key": "last_30_days"},
        "conversion_metric_id": metric,
    }
    return {"data": {"type": "campaign-values-report", "attributes": attributes}}


def test_values_reports_allow_one_a_second_and_two_a_minute_for_all_keys() -> None:
    with serve_in_thread(values_report_sandbox(time_scale=1.0)) as running:
        body = report_body(running)
        full = headers(running.api_key)
        scoped = headers(SCOPED_KEY)
        first = httpx.post(running.base_url + REPORTS, json=body, headers=full)
        burst = httpx.post(running.base_url + REPORTS, json=body, headers=scoped)
        time.sleep(1.1)
        second = httpx.post(running.base_url + REPORTS, json=body, headers=scoped)
        time.sleep(1.1)
        steady = httpx.post(running.base_url + REPORTS, json=body, headers=full)
    assert [r.status_code for r in (first, burst, second, steady)] == [
        200,
        429,
        200,
        429,
    ]
    assert first.headers["RateLimit-Limit"] == "1, 1;w=1, 2;w=60, 225;w=86400"
    assert burst.headers["Retry-After"] == "1"
    assert second.headers["RateLimit-Remaining"] == "0"  # the minute's two used
    assert 55 <= int(steady.headers["Retry-After"]) <= 58


def test_values_reports_stop_after_225_a_day_for_all_keys() -> None:
    # At 3,600x a "day" lasts 24 s and a "minute" 17 ms: the daily cap is
    # reached in about two seconds of paced requests.
    with (
        serve_in_thread(values_report_sandbox(time_scale=3600.0)) as running,
        httpx.Client(base_url=running.base_url) as client,
    ):
        body = report_body(running)
        keys = [headers(running.api_key), headers(SCOPED_KEY)]
        served = [0, 0]
        deadline = time.monotonic() + 20
        while sum(served) < 225 and time.monotonic() < deadline:
            turn = sum(served) % 2  # the keys take turns
            answer = client.post(REPORTS, json=body, headers=keys[turn])
            if answer.status_code == 200:
                served[turn] += 1
            else:
                assert answer.status_code == 429
                time.sleep(0.004)
        over: list[httpx.Response] = []
        for key in keys * 5:  # ten tries across more than ten "minutes"
            over.append(client.post(REPORTS, json=body, headers=key))
            time.sleep(0.02)
    assert served == [113, 112]
    assert {r.status_code for r in over} == {429}
    # The day, not the minute, is what holds them back.
    assert all(int(r.headers["Retry-After"]) > 5 for r in over)

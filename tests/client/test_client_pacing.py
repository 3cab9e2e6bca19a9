"""The pacer against fake clocks and fake fixed-window servers: no 429s, near the
ceiling, corrected by headers, never waiting real minutes."""

from __future__ import annotations

import random
import threading
from collections import deque

import pytest
from tests.client.client_support import FakeTime

from klaviyo_connector.client.endpoints import ENDPOINTS
from klaviyo_connector.client.pacing import Pacer, RateLimitInfo, parse_rate_limit
from klaviyo_connector.errors import RateLimitError

PROFILES = "GET /api/profiles"
PROFILE_WINDOWS = ENDPOINTS["/api/profiles"].windows


class WindowServer:
    """Klaviyo-like fixed windows per account and endpoint.

    `aligned=True`: windows sit on multiples of their length plus `offset`.
    Otherwise a window opens at the first request after the previous closed.
    `speedup` makes windows run faster than the `w=` the headers state."""

    def __init__(
        self,
        windows: tuple[tuple[int, float], ...],
        *,
        speedup: float = 1.0,
        aligned: bool = False,
        offset: float = 0.0,
    ) -> None:
        self.windows = windows
        self.speedup, self.aligned, self.offset = speedup, aligned, offset
        self.starts = [float("-inf")] * len(windows)
        self.used = [0] * len(windows)
        self.rejected = 0
        self.accepted = 0

    def _roll(self, i: int, now: float) -> None:
        length = self.windows[i][1] / self.speedup
        if self.aligned:
            start = (now - self.offset) // length * length + self.offset
        elif now - self.starts[i] >= length:
            start = now
        else:
            return
        if start != self.starts[i]:
            self.starts[i], self.used[i] = start, 0

    def hit(self, now: float) -> dict[str, str]:
        for i in range(len(self.windows)):
            self._roll(i, now)
        if any(u >= w[0] for u, w in zip(self.used, self.windows, strict=True)):
            self.rejected += 1
            return {}
        self.accepted += 1
        self.used = [u + 1 for u in self.used]
        left = [w[0] - u for u, w in zip(self.used, self.windows, strict=True)]
        tight = min(range(len(left)), key=left.__getitem__)
        length = self.windows[tight][1] / self.speedup
        policies = ", ".join(f"{lim};w={w:g}" for lim, w in self.windows)
        return {
            "RateLimit-Limit": f"{self.windows[tight][0]}, {policies}",
            "RateLimit-Remaining": str(left[tight]),
            "RateLimit-Reset": str(int(self.starts[tight] + length - now)),
        }


def test_parse_klaviyo_example():
    info = parse_rate_limit(
        {
            "ratelimit-limit": "10, 10;w=1, 150;w=60",
            "ratelimit-remaining": "9",
            "ratelimit-reset": "0",
        }
    )
    assert info == RateLimitInfo(
        policies=((10, 1.0), (150, 60.0)), current=(10, 1.0), remaining=9, reset=0.0
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"ratelimit-limit": ""}, None),
        (
            {"ratelimit-limit": "150, 10;w=1, 150;w=60", "ratelimit-remaining": "3"},
            RateLimitInfo(((10, 1.0), (150, 60.0)), (150, 60.0), 3, None),
        ),
        (
            {"ratelimit-limit": "75;w=0.0167,750; w=1", "ratelimit-reset": "0.25"},
            RateLimitInfo(((75, 0.0167), (750, 1.0)), None, None, 0.25),
        ),
        (
            {"ratelimit-limit": "garbage, x;w=y, 5;q=1", "ratelimit-remaining": "-4"},
            RateLimitInfo((), None, None, None),
        ),
        (
            {"ratelimit-limit": "7;w=60", "ratelimit-remaining": "2, 5"},
            RateLimitInfo(((7, 60.0),), (7, 60.0), 2, None),
        ),
        (
            {"ratelimit-limit": "nan, inf;w=1", "ratelimit-reset": "soon"},
            RateLimitInfo((), None, None, None),
        ),
    ],
)
def test_parse_is_defensive(headers, expected):
    assert parse_rate_limit(headers) == expected


def _acquire_many(pacer: Pacer, clock: FakeTime, n: int, key: str = PROFILES):
    times = []
    for _ in range(n):
        pacer.acquire(key, PROFILE_WINDOWS)
        times.append(clock.now)
    return times


def test_never_exceeds_burst_or_steady_and_runs_near_the_ceiling():
    clock = FakeTime()
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    times = _acquire_many(pacer, clock, 2400)
    for limit, length in PROFILE_WINDOWS:
        gaps = [b - a for a, b in zip(times, times[limit:], strict=False)]
        assert min(gaps) >= length  # any `length` seconds hold at most `limit`
    # 750 per minute: the 1500th request starts the third steady window, which
    # must open within a few percent of two minutes (not far below the ceiling).
    assert 120.0 <= times[1500] - times[0] <= 120.0 * 1.03


@pytest.mark.parametrize("seed", range(4))
def test_fixed_window_server_never_throttles_whatever_its_alignment(seed):
    rng = random.Random(seed)
    clock = FakeTime(start=rng.uniform(0, 100))
    server = WindowServer(PROFILE_WINDOWS, aligned=True, offset=rng.uniform(0, 60))
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    for _ in range(2000):
        pacer.acquire(PROFILES, PROFILE_WINDOWS)
        clock.now += rng.uniform(0, 0.004)  # the request travels
        pacer.observe(PROFILES, server.hit(clock.now), PROFILE_WINDOWS)
    assert server.rejected == 0
    assert server.accepted == 2000


def test_a_slow_first_arrival_cannot_make_the_next_window_start_early():
    """A request that took long to arrive (a new connection) opened the
    server's window late; the next window's first send waits for it, even
    when no header says so (Klaviyo's Reset is whole seconds, often 0)."""
    accounts = ((1, 1.0), (15, 60.0))
    clock = FakeTime()
    server = WindowServer(accounts)
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    for travel in (0.3, 0.001, 0.3, 0.001):
        pacer.acquire("GET /api/accounts", accounts)
        sent_at = clock.now
        clock.now += travel  # reaching the server; the answer comes back now
        server.hit(clock.now)
        pacer.answered("GET /api/accounts", sent_at)
    assert (server.accepted, server.rejected) == (4, 0)


def test_windows_are_learned_from_headers():
    pacer = Pacer(clock=FakeTime().clock)
    pacer.acquire(PROFILES, PROFILE_WINDOWS)
    pacer.observe(PROFILES, {"RateLimit-Limit": "10, 10;w=1, 150;w=60"})
    assert pacer.windows(PROFILES) == ((10, 1.0), (150, 60.0))


def test_daily_cap_survives_learning_burst_and_steady():
    clock = FakeTime()
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    key, windows = (
        "POST /api/campaign-values-reports",
        ((1, 1.0), (2, 60.0), (225, 86400.0)),
    )
    pacer.acquire(key, windows)
    pacer.observe(key, {"RateLimit-Limit": "1, 1;w=1, 2;w=60"}, windows)
    assert pacer.windows(key) == windows


def test_remaining_zero_waits_for_the_reset():
    clock = FakeTime()
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    pacer.acquire(PROFILES, PROFILE_WINDOWS)
    pacer.observe(
        PROFILES,
        {
            "RateLimit-Limit": "750, 75;w=1, 750;w=60",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": "5",
        },
    )
    waited = pacer.acquire(PROFILES, PROFILE_WINDOWS)
    # Reset is whole seconds rounded down: the window restarts within 5 to 6 s.
    assert 6.0 <= waited <= 6.1


def test_usage_by_someone_else_on_the_account_is_respected():
    clock = FakeTime()
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    pacer.acquire(PROFILES, PROFILE_WINDOWS)
    # The server counts 700 of 750 in this minute; we sent one of them.
    pacer.observe(
        PROFILES,
        {
            "RateLimit-Limit": "750, 75;w=1, 750;w=60",
            "RateLimit-Remaining": "50",
            "RateLimit-Reset": "30",
        },
    )
    assert sum(pacer.acquire(PROFILES, PROFILE_WINDOWS) for _ in range(50)) == 0
    waited = pacer.acquire(PROFILES, PROFILE_WINDOWS)
    assert 30.0 <= waited <= 31.1  # until the server's minute resets


def test_a_request_made_just_before_the_sync_is_counted_with_many_in_flight():
    """`check` read a page a moment before the sync: the server's minute
    holds one request the sync never sent, while twenty of its own are on
    their way at every answer (so counting sends cannot reveal it) and every
    Reset is rounded down to whole seconds."""
    clock = FakeTime()
    server = WindowServer(PROFILE_WINDOWS)
    server.hit(clock.now)
    clock.now += 0.5
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    in_flight: deque[tuple[float, dict[str, str]]] = deque()
    for _ in range(1600):
        pacer.acquire(PROFILES, PROFILE_WINDOWS)
        in_flight.append((clock.now, server.hit(clock.now)))
        clock.now += 0.013
        if len(in_flight) == 20:
            sent, headers = in_flight.popleft()
            pacer.answered(PROFILES, sent)
            pacer.observe(PROFILES, headers, PROFILE_WINDOWS, sent_at=sent)
            if not headers:
                pacer.block(PROFILES, 1.0, PROFILE_WINDOWS)
    assert server.rejected == 0
    assert server.accepted == 1601


def test_block_holds_every_sender_back():
    clock = FakeTime()
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    pacer.block(PROFILES, 60.0, PROFILE_WINDOWS)
    assert pacer.acquire(PROFILES, PROFILE_WINDOWS) == pytest.approx(60.0)
    assert pacer.acquire("GET /api/lists", PROFILE_WINDOWS) == 0


def test_time_scale_shortens_windows():
    pacer = Pacer(clock=FakeTime().clock, time_scale=60)
    pacer.acquire(PROFILES, PROFILE_WINDOWS)
    assert pacer.windows(PROFILES) == ((75, 1 / 60), (750, 1.0))
    pacer.observe(PROFILES, {"RateLimit-Limit": "10, 10;w=1, 150;w=60"})
    assert pacer.windows(PROFILES) == ((10, 1 / 60), (150, 1.0))


def _run_against(server: WindowServer, pacer: Pacer, clock: FakeTime, n: int) -> float:
    started = clock.now
    for _ in range(n):
        pacer.acquire(PROFILES, PROFILE_WINDOWS)
        sent = clock.now
        clock.now += 0.002  # each request takes 2 ms
        headers = server.hit(sent)
        if headers:
            pacer.observe(PROFILES, headers, PROFILE_WINDOWS, sent_at=sent)
        else:
            pacer.block(PROFILES, 1.0, PROFILE_WINDOWS)
    return clock.now - started


def test_speedup_of_a_time_scaled_server_is_measured_from_headers():
    clock = FakeTime()
    server = WindowServer(PROFILE_WINDOWS, speedup=60)
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    elapsed = _run_against(server, pacer, clock, 3000)
    assert server.rejected == 0
    assert 20 <= pacer.scale <= 60
    # At the stated windows 3000 requests need four minutes; measured, seconds.
    assert elapsed < 15


def test_answers_that_cross_are_not_mistaken_for_a_fast_server():
    # Ten requests in flight at once against a real-speed Klaviyo: each comes
    # back a quarter second later and its thread reads it a little later
    # still, in any order, so near each window's restart low counts and high
    # ones interleave. One restart must not look like several.
    clock = FakeTime()
    server = WindowServer(PROFILE_WINDOWS, aligned=True, offset=0.37)
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    shuffle = random.Random(7)
    sent = [n * 0.025 for n in range(700)]  # 40 a second, under every limit
    answers = sorted(
        (t + 0.25 + shuffle.uniform(0, 0.1), t, server.hit(t)) for t in sent
    )
    assert server.rejected == 0
    for read_at, t, headers in answers:
        clock.now = read_at
        pacer.observe(PROFILES, headers, PROFILE_WINDOWS, sent_at=t)
    assert pacer.scale == 1.0


def test_a_told_time_scale_is_kept_whatever_the_headers_suggest():
    # Measured speed-ups err (restarts seen late, answers that cross); a scale
    # the caller knows is exact, so a faster-looking server changes nothing.
    clock = FakeTime()
    server = WindowServer(PROFILE_WINDOWS, speedup=240)
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep, time_scale=60)
    _run_against(server, pacer, clock, 3000)
    assert server.rejected == 0
    assert pacer.scale == 60
    assert pacer.windows(PROFILES) == ((75, 1 / 60), (750, 1.0))


def test_real_speed_server_is_not_mistaken_for_a_fast_one():
    clock = FakeTime()
    server = WindowServer(PROFILE_WINDOWS)
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep)
    elapsed = _run_against(server, pacer, clock, 1600)
    assert pacer.scale == 1.0
    assert server.rejected == 0
    assert elapsed >= 120


def test_a_wait_beyond_max_wait_is_a_rate_limit_error_not_a_long_sleep():
    clock = FakeTime()
    pacer = Pacer(clock=clock.clock, sleep=clock.sleep, max_wait=300)
    windows = ENDPOINTS["/api/campaign-values-reports"].windows
    key = "POST /api/campaign-values-reports"
    for _ in range(225):
        pacer.acquire(key, windows)
    with pytest.raises(RateLimitError) as caught:
        pacer.acquire(key, windows)
    assert str(caught.value).startswith(
        "The 225 requests per 86400 s allowed on POST /api/campaign-values-reports"
        " is used up for the next"
    )
    assert max(clock.sleeps) < 300


def test_threads_share_one_quota():
    lock = threading.Lock()
    clock = FakeTime()

    def sleep(seconds: float) -> None:
        with lock:
            clock.now += seconds

    pacer = Pacer(clock=clock.clock, sleep=sleep)
    counts = [0] * 4

    def worker(i: int) -> None:
        for _ in range(200):
            pacer.acquire(PROFILES, PROFILE_WINDOWS)
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == [200] * 4
    # 800 requests through a 75-per-second window need at least ten seconds
    # between the first and the last: four threads did not get four quotas.
    assert clock.now - 1000.0 >= 10.0

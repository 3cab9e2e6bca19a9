"""Client-side pacing so a normal sync never meets a 429.

Klaviyo counts requests per account and endpoint in fixed windows (burst = 1 s,
steady = 60 s, some endpoints also per day) that start wherever its clock says.
A sliding log of our own send times keeps every interval of a window's length
under its limit, which keeps every one of Klaviyo's fixed windows under it too,
whatever their alignment, while still averaging the full limit. The `RateLimit-*`
headers then correct the picture: `;w=` teaches the real window lengths (a
time-scaled sandbox reports short ones), and a `Remaining` lower than our own
count means someone else shares the quota.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from klaviyo_connector.client.endpoints import DEFAULT_WINDOWS
from klaviyo_connector.errors import RateLimitError

log = logging.getLogger("klaviyo_connector.client")

Window = tuple[int, float]  # (requests allowed, window length in seconds)

# Requests reach Klaviyo a little after we log them, and not all equally late:
# stretch each window by this much so two sends a window apart never land in one.
RELATIVE_MARGIN = 0.01
ABSOLUTE_MARGIN = 0.02


@dataclass(frozen=True)
class RateLimitInfo:
    """What one response's `RateLimit-*` headers say; any part may be missing."""

    policies: tuple[Window, ...] = ()
    current: Window | None = None
    remaining: int | None = None
    reset: float | None = None


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _policy(token: str) -> Window | None:
    head, *params = token.split(";")
    limit = _number(head)
    for param in params:
        name, _, value = param.partition("=")
        length = _number(value) if name.strip().lower() == "w" else None
        if limit and length:
            return int(limit), length
    return None


def _first(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    return _number(raw.split(",")[0]) if raw else None


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """Read `RateLimit-Limit: 10, 10;w=1, 150;w=60`, `-Remaining`, `-Reset`.

    The bare first value of `Limit` names the policy `Remaining` and `Reset`
    describe. Anything unreadable is ignored rather than trusted."""
    headers = {name.lower(): value for name, value in headers.items()}
    raw = headers.get("ratelimit-limit")
    if not raw:
        return None
    policies: list[Window] = []
    current_limit: float | None = None
    for token in raw.split(","):
        if ";" in token:
            policy = _policy(token)
            if policy:
                policies.append(policy)
        elif current_limit is None:
            current_limit = _number(token)
    current = next((p for p in policies if p[0] == current_limit), None)
    if current is None and len(policies) == 1:
        current = policies[0]
    remaining = _first(headers, "ratelimit-remaining")
    return RateLimitInfo(
        policies=tuple(sorted(policies, key=lambda p: p[1])),
        current=current,
        remaining=None if remaining is None else int(remaining),
        reset=_first(headers, "ratelimit-reset"),
    )


def _span(length: float) -> float:
    return length * (1 + RELATIVE_MARGIN) + ABSOLUTE_MARGIN


@dataclass
class _Bucket:
    """One endpoint's windows (as Klaviyo states them) and its recent sends."""

    defaults: tuple[Window, ...]
    nominal: tuple[Window, ...]
    sends: list[float] = field(default_factory=list)
    # When each send left, never moved by `answered`: what went out after a
    # given request, whose answer cannot count it yet.
    dispatched: list[float] = field(default_factory=list)
    blocked_until: float = 0.0

    def windows(self, scale: float) -> tuple[Window, ...]:
        return tuple((limit, length / scale) for limit, length in self.nominal)

    def count_since(self, moment: float) -> int:
        return len(self.sends) - bisect.bisect_right(self.sends, moment)

    def wait_needed(self, now: float, scale: float) -> tuple[float, Window | None]:
        wait, binding = self.blocked_until - now, None
        for limit, length in self.windows(scale):
            start = bisect.bisect_right(self.sends, now - _span(length))
            inside = len(self.sends) - start
            if inside >= limit:
                frees_at = self.sends[start + inside - limit] + _span(length)
                if frees_at - now > wait:
                    wait, binding = frees_at - now, (limit, length)
        return wait, binding

    def record(self, moment: float) -> None:
        bisect.insort(self.sends, moment)

    def dispatch(self, moment: float) -> None:
        self.record(moment)
        bisect.insort(self.dispatched, moment)

    def dispatched_after(self, moment: float) -> int:
        return len(self.dispatched) - bisect.bisect_right(self.dispatched, moment)

    def prune(self, now: float, scale: float) -> None:
        oldest = now - _span(max(length for _, length in self.windows(scale)))
        del self.sends[: bisect.bisect_right(self.sends, oldest)]
        del self.dispatched[: bisect.bisect_right(self.dispatched, oldest)]

    def learn(self, policies: Sequence[Window]) -> None:
        longest = max(length for _, length in policies)
        # Klaviyo's headers describe burst and steady; a daily cap stays as known.
        kept = tuple(w for w in self.defaults if w[1] > longest * 10)
        self.nominal = tuple(sorted({*policies, *kept}, key=lambda w: w[1]))


# Trust a measured speed-up only partly: restarts are seen a request or two late.
SPEEDUP_SAFETY = 0.8
MAX_SPEEDUP = 10_000.0


@dataclass
class _Restarts:
    """When one server window restarts, judged from the usage it reports.

    A time-scaled server (the sandbox) states Klaviyo's window lengths in `w=`
    but runs them faster; the spacing of its restarts reveals by how much."""

    last_used: int = 0
    last_sent: float | None = None
    # A restart happened after the previous answer was sent and by the time
    # the answer showing it was sent; keep the earliest moment it could have been.
    earliest_restart: float | None = None
    noticed_at: float | None = None  # when the last restart was seen
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=15))
    trips: deque[float] = field(default_factory=lambda: deque(maxlen=32))

    def observe(self, used: int, sent_at: float, answered_at: float) -> None:
        self.trips.append(max(answered_at - sent_at, 0.0))
        if self.last_sent is not None and sent_at < self.last_sent:
            return  # sent before one already seen: its count is older news
        # Halving (not just any drop) tells a restart from answers that crossed.
        if self.last_used >= 4 and used * 2 <= self.last_used:
            # Requests in flight together reach Klaviyo in any order, so one
            # restart can look like several within a round trip: the same one.
            again = self.noticed_at is not None and (
                sent_at - self.noticed_at <= max(self.trips)
            )
            if not again:
                if (
                    self.earliest_restart is not None
                    and sent_at > self.earliest_restart
                ):
                    # The longest the two restarts can be apart: never shorter
                    # than the window, however late the first one was noticed.
                    self.gaps.append(sent_at - self.earliest_restart)
                self.earliest_restart = self.last_sent
                self.noticed_at = sent_at
        self.last_used, self.last_sent = used, sent_at

    def speedup(self, nominal: float) -> float | None:
        # Every gap is at least one window (idle spells only lengthen it), so
        # the shortest are the best measure; the second shortest ignores one
        # restart spotted by mistake.
        if len(self.gaps) < 3:
            return None
        return nominal / max(sorted(self.gaps)[1], 1e-6)


class Pacer:
    """Spaces requests per endpoint so they stay inside Klaviyo's windows.

    One pacer per Klaviyo account: share it between clients of the same account.
    `clock` and `sleep` are injectable so tests never wait. `time_scale` > 1 says
    the server's windows run that many times faster than the lengths it states
    (a sandbox started with that time scale); without it the pacer measures the
    speed-up from the `RateLimit-*` headers."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        time_scale: float = 1.0,
        max_wait: float | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.clock = clock
        self.sleep = sleep
        self.time_scale = time_scale
        self.max_wait = max_wait
        self._buckets: dict[str, _Bucket] = {}
        self._restarts: dict[tuple[str, float], _Restarts] = {}
        self._measured: float | None = None
        self._lock = threading.Lock()

    @property
    def scale(self) -> float:
        """How many times faster than stated the server's windows run. A scale
        we were told is exact; a measured one can only err (restarts seen late,
        answers that crossed), and erring fast means 429s."""
        if self.time_scale != 1.0:
            return self.time_scale
        measured = self._measured or 1.0
        if measured < 1.5:  # real Klaviyo: restarts a window or more apart
            return 1.0
        return max(1.0, min(measured * SPEEDUP_SAFETY, MAX_SPEEDUP))

    def _bucket(self, key: str, defaults: Sequence[Window]) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tuple(defaults), tuple(defaults))
        return bucket

    def windows(self, key: str) -> tuple[Window, ...]:
        """`key`'s windows in real seconds, as the pacer currently applies them."""
        with self._lock:
            bucket = self._buckets.get(key)
            return bucket.windows(self.scale) if bucket else ()

    def acquire(
        self,
        key: str,
        defaults: Sequence[Window],
        on_wait: Callable[[float], None] | None = None,
    ) -> float:
        """Block until `key` may send one request; returns the seconds waited.
        `on_wait` hears of each wait, in seconds, before it begins."""
        waited = 0.0
        while True:
            with self._lock:
                bucket = self._bucket(key, defaults)
                now, scale = self.clock(), self.scale
                wait, binding = bucket.wait_needed(now, scale)
                if wait <= 0:
                    bucket.prune(now, scale)
                    bucket.dispatch(now)
                    return waited
            self._check_budget(key, wait, binding)
            if on_wait is not None:
                on_wait(wait)
            self.sleep(wait)
            waited += wait

    def answered(self, key: str, sent_at: float) -> None:
        """Move `key`'s send logged at or before `sent_at` to now, when its
        answer came back. Klaviyo's window opened when the request arrived,
        somewhere in between (a new connection makes that late); counting from
        the answer never lets the next window's first send arrive too soon."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return
            at = bisect.bisect_right(bucket.sends, sent_at) - 1
            if at >= 0:
                del bucket.sends[at]
                bucket.record(self.clock())

    def _check_budget(self, key: str, wait: float, binding: Window | None) -> None:
        if self.max_wait is None or wait <= self.max_wait:
            return
        what = f"{binding[0]} requests per {binding[1]:g} s" if binding else "quota"
        raise RateLimitError(
            f"The {what} allowed on {key} is used up for the next {wait:.0f} s,"
            f" longer than the {self.max_wait:.0f} s the connector waits.",
            endpoint=key.split(" ", 1)[-1],
            retry_after=wait,
        )

    def block(self, key: str, seconds: float, defaults: Sequence[Window] = ()) -> None:
        """Hold every sender on `key` back for `seconds` (a 429's Retry-After).

        A 429 also means the measured speed-up was wrong: measure it again."""
        with self._lock:
            bucket = self._bucket(key, defaults or DEFAULT_WINDOWS)
            bucket.blocked_until = max(bucket.blocked_until, self.clock() + seconds)
            self._measured = None
            self._restarts.clear()

    def observe(
        self,
        key: str,
        headers: Mapping[str, str],
        defaults: Sequence[Window] = (),
        *,
        sent_at: float | None = None,
    ) -> RateLimitInfo | None:
        """Correct `key`'s windows and usage from a response's headers."""
        info = parse_rate_limit(headers)
        if info is None:
            return None
        with self._lock:
            now = self.clock()
            bucket = self._bucket(key, defaults or DEFAULT_WINDOWS)
            if info.policies:
                bucket.learn(info.policies)
            if info.current is not None and info.remaining is not None:
                self._measure(key, info, now if sent_at is None else sent_at, now)
                _apply_remaining(bucket, info, now, self.scale)
                if sent_at is not None:
                    _apply_room(bucket, info, now, self.scale, sent_at)
        return info

    def _measure(
        self, key: str, info: RateLimitInfo, sent_at: float, answered_at: float
    ) -> None:
        assert info.current is not None
        assert info.remaining is not None
        limit, nominal = info.current
        restarts = self._restarts.setdefault((key, nominal), _Restarts())
        restarts.observe(limit - info.remaining, sent_at, answered_at)
        speedup = restarts.speedup(nominal)
        if speedup is not None:
            self._measured = max(self._measured or 0.0, speedup)


def _reset_in(info: RateLimitInfo, length: float) -> float:
    """Seconds until the window `info` describes restarts. Klaviyo states whole
    seconds rounded down (a burst window half gone says 0), so the restart can
    come up to a second after the stated number."""
    reset = info.reset or 0.0
    if reset.is_integer():
        reset += 1.0
    return min(reset, length)


def _apply_remaining(
    bucket: _Bucket, info: RateLimitInfo, now: float, scale: float
) -> None:
    assert info.current is not None
    assert info.remaining is not None
    limit, length = info.current[0], info.current[1] / scale
    reset = _reset_in(info, length)
    ours = bucket.count_since(now - _span(length))
    used = limit - info.remaining
    if used > ours:
        # Requests we did not send (another key on the account) count until the
        # server's window resets: log them so they expire exactly then.
        moment = now + reset - _span(length)
        for _ in range(min(used - ours, limit)):
            bucket.record(moment)
    if info.remaining <= 0:
        bucket.blocked_until = max(bucket.blocked_until, now + reset)


def _apply_room(
    bucket: _Bucket, info: RateLimitInfo, now: float, scale: float, sent_at: float
) -> None:
    """Requests sent after this one are still on their way: once they land the
    server has `remaining` minus them left. With many in flight, a few
    requests someone else made earlier in the window (a `check` just before
    the sync) hide behind them, so compare rooms instead of counts; what the
    server lacks counts as sends until its window resets. A window in its
    last second (Reset 0) is left to the other checks."""
    assert info.current is not None
    assert info.remaining is not None
    if not info.reset:
        return
    limit, length = info.current[0], info.current[1] / scale
    server_room = info.remaining - bucket.dispatched_after(sent_at)
    our_room = limit - bucket.count_since(now - _span(length))
    moment = now + _reset_in(info, length) - _span(length)
    for _ in range(min(our_room - server_room, limit)):
        bucket.record(moment)

"""Klaviyo's rate limits: fixed burst (1 s), steady (60 s) and daily windows per
account, endpoint and tier, with time optionally running faster (`time_scale`)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from klaviyo_connector.sandbox.spec import Tier

BURST_WINDOW = 1.0
STEADY_WINDOW = 60.0
DAILY_WINDOW = 86_400.0


@dataclass(frozen=True)
class Decision:
    """The outcome for one request: allowed (with headers) or throttled."""

    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


@dataclass
class _Window:
    limit: int
    nominal: float  # seconds as Klaviyo states them, for the `w=` parameter
    length: float  # real seconds, after time_scale
    started: float = -math.inf
    used: int = 0

    def roll(self, now: float) -> None:
        # A window opens with the first request after the previous one closed.
        if now - self.started >= self.length:
            self.started = now
            self.used = 0

    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def resets_in(self, now: float) -> float:
        return max(self.started + self.length - now, 0.0)


def _windows(tier: Tier, time_scale: float) -> list[_Window]:
    spans = [(tier.burst, BURST_WINDOW), (tier.steady, STEADY_WINDOW)]
    if tier.daily:
        spans.append((tier.daily, DAILY_WINDOW))
    return [_Window(limit, span, span / time_scale) for limit, span in spans]


def _limit_header(windows: list[_Window], tightest: _Window) -> str:
    parts = [str(tightest.limit)]
    parts += [f"{w.limit};w={int(w.nominal)}" for w in windows]
    return ", ".join(parts)


class RateLimiter:
    """Counts requests per bucket (account, operation, tier); thread-safe."""

    def __init__(
        self, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], list[_Window]] = {}

    def check(self, bucket: tuple[str, ...], tier: Tier) -> Decision:
        with self._lock:
            windows = self._buckets.get(bucket)
            if windows is None:
                windows = self._buckets[bucket] = _windows(tier, self.time_scale)
            now = self._clock()
            for window in windows:
                window.roll(now)
            full = [w for w in windows if w.remaining() == 0]
            if full:
                wait = max(w.resets_in(now) for w in full)
                return Decision(False, {}, retry_after=max(1, math.ceil(wait)))
            for window in windows:
                window.used += 1
            # On a tie the longer wait is the one a client must honour: a
            # spent minute outlasts a spent second.
            tightest = min(windows, key=lambda w: (w.remaining(), -w.resets_in(now)))
            headers = {
                "RateLimit-Limit": _limit_header(windows, tightest),
                "RateLimit-Remaining": str(tightest.remaining()),
                "RateLimit-Reset": str(int(tightest.resets_in(now))),
            }
            return Decision(True, headers)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

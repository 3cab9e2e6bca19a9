"""The least time and the fewest requests a sync of one account could take.

Both come from Klaviyo's published limits and page sizes alone, never from the
connector, so the benchmark's ratios say how close the connector gets to what
the API allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Window = tuple[int, float]  # (requests allowed, window length in seconds)


def min_seconds(requests: int, windows: Sequence[Window]) -> float:
    """Seconds from the first to the last of `requests` sends, as early as
    fixed windows allow (each window opens with the first request after the
    previous one closed, as Klaviyo and the sandbox count them).

    Greedy is optimal: sending any request later never lets a later one go
    earlier. E.g. 2,000 profile pages at 75/s and 750/min: 75 a second from
    0 to 9 s, again from 60 to 69 s, and the last 500 from 120 to 126 s."""
    if requests <= 1:
        return 0.0
    started = [-math.inf] * len(windows)
    used = [0] * len(windows)
    now = 0.0
    for _ in range(requests):
        while True:
            for i, (_limit, length) in enumerate(windows):
                if now - started[i] >= length:
                    started[i], used[i] = now, 0
            full = [i for i, (limit, _) in enumerate(windows) if used[i] >= limit]
            if not full:
                break
            now = max(started[i] + windows[i][1] for i in full)
        for i in range(len(windows)):
            used[i] += 1
    return now


def scaled(windows: Sequence[Window], time_scale: float) -> tuple[Window, ...]:
    """Windows as a sandbox with `--time-scale` runs them."""
    return tuple((limit, length / time_scale) for limit, length in windows)


def pages(records: int, page_size: int) -> int:
    """Requests to list `records` at `page_size`: an empty listing still
    costs one request."""
    return max(1, math.ceil(records / page_size))


def sync_lower_bound(
    requests: Mapping[str, int],
    windows: Mapping[str, Sequence[Window]],
    chains: Sequence[Sequence[str]],
) -> tuple[float, str]:
    """The least time for a sync and the chain that sets it.

    Each chain is a table's endpoints, read one after the other (the stats
    table lists metrics, then asks for reports); chains run in parallel (the
    engine reads tables concurrently and every endpoint has its own quota), so
    the sync takes at least as long as its slowest chain."""
    best, slowest = 0.0, ""
    for chain in chains:
        total = sum(
            min_seconds(requests.get(endpoint, 0), windows[endpoint])
            for endpoint in chain
        )
        if total >= best:
            best, slowest = total, " + ".join(chain)
    return best, slowest

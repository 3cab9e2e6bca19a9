"""Counters a run reports: requests per endpoint, 429s seen, retries made."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestInfo:
    """One HTTP attempt, as handed to an `on_request` callback."""

    method: str
    path: str  # without the query string
    endpoint: str  # the registry template, e.g. /api/campaigns/{id}
    status: int | None  # None when no answer came back
    ms: float


class RequestStats:
    """Thread-safe totals for one client; every attempt counts as a request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._by_endpoint: dict[str, int] = {}
        self._throttled = 0
        self._retries = 0
        self._waited = 0.0

    def record(self, endpoint: str, status: int | None) -> None:
        with self._lock:
            self._requests += 1
            self._by_endpoint[endpoint] = self._by_endpoint.get(endpoint, 0) + 1
            if status == 429:
                self._throttled += 1

    def record_retry(self, wait: float) -> None:
        with self._lock:
            self._retries += 1
            self._waited += wait

    def record_pacing(self, wait: float) -> None:
        with self._lock:
            self._waited += wait

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def by_endpoint(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_endpoint)

    @property
    def throttled(self) -> int:
        return self._throttled

    @property
    def retries(self) -> int:
        return self._retries

    @property
    def waited(self) -> float:
        """Seconds spent pacing and backing off, summed over threads."""
        return self._waited

    def __repr__(self) -> str:
        return (
            f"RequestStats(requests={self._requests}, throttled={self._throttled},"
            f" retries={self._retries}, by_endpoint={self.by_endpoint})"
        )

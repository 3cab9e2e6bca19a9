"""The Klaviyo endpoints the connector reads, with their scopes, page sizes and
rate limits (revision 2026-07-15, `x-klaviyo-scopes` and `x-klaviyo-ratelimit`
in Klaviyo's OpenAPI description)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

SECOND = 1.0
MINUTE = 60.0
DAY = 86_400.0


@dataclass(frozen=True)
class Endpoint:
    """One path template and what Klaviyo allows on it, per account."""

    path: str
    method: str
    scope: str
    max_page_size: int | None
    burst: int
    steady: int
    daily: int | None = None

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """(limit, window seconds) pairs, shortest window first."""
        pairs = [(self.burst, SECOND), (self.steady, MINUTE)]
        if self.daily is not None:
            pairs.append((self.daily, DAY))
        return tuple(pairs)


def _get(path: str, scope: str, page: int | None, burst: int, steady: int) -> Endpoint:
    return Endpoint(path, "GET", scope, page, burst, steady)


# Tiers: XS 1/s 15/m, M 10/s 150/m, L 75/s 750/m. The values report has its own
# 1/s, 2/m, 225/day budget, so one call should cover many campaigns.
ENDPOINTS: dict[str, Endpoint] = {
    e.path: e
    for e in (
        _get("/api/accounts", "accounts:read", None, 1, 15),
        _get("/api/campaigns", "campaigns:read", 100, 10, 150),
        _get("/api/campaigns/{id}", "campaigns:read", None, 10, 150),
        _get("/api/campaigns/{id}/campaign-messages", "campaigns:read", None, 10, 150),
        _get("/api/lists", "lists:read", 10, 75, 750),
        _get("/api/lists/{id}", "lists:read", None, 75, 750),
        _get("/api/segments", "segments:read", 10, 75, 750),
        _get("/api/segments/{id}", "segments:read", None, 75, 750),
        _get("/api/profiles", "profiles:read", 100, 75, 750),
        _get("/api/metrics", "metrics:read", None, 10, 150),
        Endpoint(
            "/api/campaign-values-reports",
            "POST",
            "campaigns:read",
            None,
            burst=1,
            steady=2,
            daily=225,
        ),
    )
}

# Limits for a path outside the registry until Klaviyo's headers say otherwise.
DEFAULT_WINDOWS: tuple[tuple[int, float], ...] = ((10, SECOND), (150, MINUTE))


def _pattern(template: str) -> re.Pattern[str]:
    parts = (re.escape(p) if p != "{id}" else "[^/]+" for p in template.split("/"))
    return re.compile("/".join(parts) + "/?")


_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (_pattern(t), t) for t in sorted(ENDPOINTS, key=len, reverse=True)
)


def path_of(url_or_path: str) -> str:
    """The path of a URL or path, without scheme, host or query string."""
    return urlsplit(url_or_path).path or "/"


def template_for(url_or_path: str) -> str:
    """`/api/campaigns/01ABC/campaign-messages?x=1` -> its registry template.

    A path outside the registry comes back as its own path (query removed)."""
    path = path_of(url_or_path)
    for pattern, template in _PATTERNS:
        if pattern.fullmatch(path):
            return template
    return path.rstrip("/") or "/"


def endpoint_for(url_or_path: str) -> Endpoint | None:
    return ENDPOINTS.get(template_for(url_or_path))

"""Settings of the bundled fake Klaviyo API: data size, seed, clock, keys, quirks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

DEFAULT_SANDBOX_KEY = "pk_sandbox" + "0" * 27  # pk_ + 34 alphanumerics, like a real key

ALL_SCOPES: frozenset[str] = frozenset(
    {
        "accounts:read",
        "campaigns:read",
        "lists:read",
        "segments:read",
        "profiles:read",
        "metrics:read",
    }
)

QUIRKS: frozenset[str] = frozenset(
    {"future_record", "boundary_repeat", "archived_out_of_order"}
)


# Where Klaviyo's behaviour is unconfirmed the sandbox invents one; these
# settings pick the other plausible answer (docs/sandbox.md lists them).
RevisionChoice = Literal["error", "serve"]
ZeroRate = Literal["zero", "null"]
_CHOICES: dict[str, tuple[str, ...]] = {
    "missing_revision": ("error", "serve"),
    "later_revision": ("error", "serve"),
    "zero_denominator_rates": ("zero", "null"),
    "channel_gaps": ("zero", "null"),
}


def _empty_keys() -> Mapping[str, frozenset[str]]:
    return MappingProxyType({})


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that shapes one sandbox account; equal configs give equal data."""

    seed: int = 42
    profiles: int = 1000
    campaigns: int | None = None
    lists: int | None = None
    segments: int | None = None
    now: datetime | None = None
    api_key: str = DEFAULT_SANDBOX_KEY
    scoped_keys: Mapping[str, frozenset[str]] = field(default_factory=_empty_keys)
    rate_limits: bool = True
    time_scale: float = 1.0
    # Seconds every answer waits before it is sent, as a real Klaviyo takes a
    # few hundred milliseconds: a reader that waits for each page in turn is
    # then measured as slow as it would be. Rate limits count on arrival.
    latency: float = 0.0
    # Build every profile at start and serve pages from their JSON text: a
    # start that takes about two minutes per million profiles (and about 2 KB
    # of memory each) for pages served several times faster, as a benchmark
    # at Klaviyo's burst rate needs.
    prebuild: bool = False
    quirks: frozenset[str] = frozenset()
    no_placed_order: bool = False
    strict_params: bool = True
    # No revision header: 400 `invalid` on `revision`, or serve the pinned one.
    missing_revision: RevisionChoice = "error"
    # A date after the pinned revision: 404 "No valid revisions found for
    # method", or serve it with the pinned revision's behaviour.
    later_revision: RevisionChoice = "error"
    # A values-report rate whose denominator is 0: 0.0, or null.
    zero_denominator_rates: ZeroRate = "zero"
    # A statistic the send channel does not have (SMS opens, push clicks):
    # 0.0, or null.
    channel_gaps: ZeroRate = "zero"

    def __post_init__(self) -> None:
        if not self.latency >= 0:  # also refuses NaN
            raise ValueError("latency must be 0 or more seconds")
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")

    @property
    def campaign_count(self) -> int:
        if self.campaigns is not None:
            return self.campaigns
        return min(40 + self.profiles // 2000, 600)

    @property
    def list_count(self) -> int:
        if self.lists is not None:
            return self.lists
        return min(max(14, 12 + self.profiles // 20000), 200)

    @property
    def segment_count(self) -> int:
        if self.segments is not None:
            return self.segments
        return min(max(13, 12 + self.profiles // 25000), 200)

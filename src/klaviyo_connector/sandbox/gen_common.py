"""Deterministic building blocks for generated data: random draws, ids, timestamps.

Everything here is a pure function of its inputs so that the same seed and the
same anchor time always produce byte-identical records, on any Python version
(we avoid `random.Random`, whose algorithms are not promised to stay put).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

MASK64 = (1 << 64) - 1
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
DAY = 86_400


def mix64(value: int) -> int:
    """splitmix64 finaliser: a fast, well-spread hash of one 64-bit integer."""
    z = (value + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def hash_key(*parts: object) -> int:
    """A stable 64-bit hash of any printable parts (unlike `hash()`, not salted)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def hash_ints(seed: int, index: int, salt: int = 0) -> int:
    """Cheaper than `hash_key` for the hot path: integers only."""
    return mix64(mix64(seed * 0x100000001B3 + salt) ^ (index & MASK64))


class Draw:
    """A tiny deterministic random stream (splitmix64) with the helpers we need."""

    __slots__ = ("_state",)

    def __init__(self, key: int) -> None:
        self._state = key & MASK64

    @classmethod
    def of(cls, *parts: object) -> Draw:
        return cls(hash_key(*parts))

    def bits(self) -> int:
        self._state = (self._state + 0x9E3779B97F4A7C15) & MASK64
        return mix64(self._state)

    def random(self) -> float:
        return (self.bits() >> 11) / float(1 << 53)

    def below(self, n: int) -> int:
        return self.bits() % n if n > 0 else 0

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high], both ends included."""
        return low + self.below(high - low + 1)

    def chance(self, p: float) -> bool:
        return self.random() < p

    def choice(self, items: Sequence[T]) -> T:
        return items[self.below(len(items))]

    def weighted(self, items: Sequence[tuple[T, float]]) -> T:
        total = sum(w for _, w in items)
        point = self.random() * total
        for item, weight in items:
            point -= weight
            if point < 0:
                return item
        return items[-1][0]

    def sample(self, items: Sequence[T], k: int) -> list[T]:
        pool = list(items)
        picked: list[T] = []
        while pool and len(picked) < k:
            picked.append(pool.pop(self.below(len(pool))))
        return picked

    def short_id(self) -> str:
        return "".join(ALNUM[self.below(len(ALNUM))] for _ in range(6))


def ulid(ms: int, randomness: int) -> str:
    """A 26-character ULID: 48 bits of milliseconds, 80 bits of randomness."""
    value = ((ms & ((1 << 48) - 1)) << 80) | (randomness & ((1 << 80) - 1))
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def ulid_parts(text: str) -> tuple[int, int] | None:
    """(milliseconds, randomness) of a ULID, or None if `text` is not one."""
    if len(text) != 26:
        return None
    value = 0
    for char in text:
        digit = CROCKFORD.find(char)
        if digit < 0:
            return None
        value = (value << 5) | digit
    if value >> 128:
        return None
    return value >> 80, value & ((1 << 80) - 1)


def ulid_at(moment: datetime, draw: Draw) -> str:
    ms = int(moment.timestamp() * 1000)
    return ulid(ms, (draw.bits() << 16) ^ draw.bits())


def iso(moment: datetime | None) -> str | None:
    """Klaviyo's response format: ISO-8601 with an explicit +00:00 offset."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def with_micros(moment: datetime, draw: Draw) -> datetime:
    """Campaign timestamps sometimes carry microseconds, sometimes not."""
    if draw.chance(0.5):
        return moment.replace(microsecond=0)
    return moment.replace(microsecond=draw.between(1, 999_999))


def ago(anchor: datetime, days: float) -> datetime:
    return (anchor - timedelta(days=days)).replace(microsecond=0)


def share_count(share: float, total: int) -> int:
    """How many of `total` records a share touches: rounded, at least one."""
    if share <= 0 or total <= 0:
        return 0
    return min(total, max(1, round(share * total)))

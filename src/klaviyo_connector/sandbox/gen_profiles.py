"""Profiles generated on demand from (seed, index), never held in memory.

Base profile `i` has `created`, `updated` and its id all increasing with `i`,
so the default order, `sort=id|created|updated` and range filters on `created`
or `updated` map to index ranges found by binary search. Email, phone number
and external id embed an invertible token of the index, so lookups by them
cost O(1) instead of a scan of a million records.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson

from klaviyo_connector.sandbox import gen_profile_attrs as attrs
from klaviyo_connector.sandbox.gen_common import (
    DAY,
    Draw,
    from_epoch,
    hash_ints,
    iso,
    ulid,
    ulid_parts,
)
from klaviyo_connector.sandbox.gen_pools import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    PLACES,
)

UPDATED_SPAN = 3 * 365 * DAY  # base `updated` spreads over the past three years
CREATED_SPAN = 8 * 365 * DAY
TOKEN_MOD = 36**6  # email token: six base-36 characters
TOKEN_MUL = 1_640_531_527  # coprime with 36, so the token is a bijection
PHONE_MOD = 10**7
PHONE_MUL = 3_162_277
EXTERNAL_MOD = 10**12
EXTERNAL_MUL = 7_919_000_003
DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
PHONE_DIGITS = {"+1": 11, "+61": 11, "+44": 12, "+49": 13, "+33": 11, "+55": 13}
PHONE_DIGITS |= {"+81": 12, "+234": 13}

SALT_UPDATED, SALT_CREATED, SALT_ID, SALT_IDENTITY, SALT_BODY = 1, 2, 3, 4, 5


def _base36(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        chars.append(DIGITS36[digit])
    return "".join(reversed(chars))


class ProfileGenerator:
    """Deterministic profile `i` of `count`, anchored at `anchor` (epoch seconds)."""

    def __init__(self, seed: int, count: int, anchor: datetime, lists: Sequence[str]):
        self.seed = seed
        self.count = count
        self.anchor = int(anchor.timestamp())
        self.lists = tuple(lists)
        self.built = 0  # full records generated: lets tests prove O(page) paging
        # Every profile's JSON text end to end, and where each one ends.
        self._prebuilt: tuple[bytearray, array[int]] | None = None
        self._mask = hash_ints(seed, 0, 99) & 0xFFFFFFFF
        self._offset = hash_ints(seed, 0, 98)

    # -- ordering keys (cheap: no record is built) -------------------------------

    def updated_ts(self, i: int) -> int:
        step = UPDATED_SPAN // max(self.count, 1)
        jitter = hash_ints(self.seed, i, SALT_UPDATED) % step if step > 1 else 0
        return self.anchor - UPDATED_SPAN + i * UPDATED_SPAN // self.count + jitter

    def created_ts(self, i: int) -> int:
        step = CREATED_SPAN // max(self.count, 1)
        jitter = hash_ints(self.seed, i, SALT_CREATED) % step if step > 1 else 0
        natural = self.anchor - CREATED_SPAN + i * CREATED_SPAN // self.count + jitter
        return min(natural, self.updated_ts(i))

    def profile_id(self, i: int) -> str:
        noise = hash_ints(self.seed, i, SALT_ID) & ((1 << 48) - 1)
        return ulid(self.created_ts(i) * 1000, ((i ^ self._mask) << 48) | noise)

    def index_of_id(self, profile_id: str) -> int | None:
        parts = ulid_parts(profile_id)
        if parts is None:
            return None
        index = (parts[1] >> 48) ^ self._mask
        if index < self.count and self.profile_id(index) == profile_id:
            return index
        return None

    def first_index(self, key: Callable[[int], Any], value: Any) -> int:
        """Smallest index whose key is > value (keys increase with the index)."""
        low, high = 0, self.count
        while low < high:
            mid = (low + high) // 2
            if key(mid) > value:
                high = mid
            else:
                low = mid + 1
        return low

    # -- identity: cheap to compute, invertible -----------------------------------

    def _identity(self, i: int) -> Draw:
        return Draw(hash_ints(self.seed, i, SALT_IDENTITY))

    def _names(self, draw: Draw) -> tuple[tuple[str, str], tuple[str, str]]:
        return draw.choice(FIRST_NAMES), draw.choice(LAST_NAMES)

    def email(self, i: int) -> str | None:
        draw = self._identity(i)
        (_, first), (_, last) = self._names(draw)
        if draw.chance(0.08):
            return None
        token = _base36((i * TOKEN_MUL + self._offset) % TOKEN_MOD, 6)
        style = draw.below(4)
        local = (
            f"{first}.{last}",
            f"{first}_{last}",
            f"{first}+promo",
            f"{first[0]}{last}",
        )[style]
        return f"{local}.{token}@{draw.choice(EMAIL_DOMAINS)}"

    def index_of_email(self, email: str) -> int | None:
        local = email.partition("@")[0]
        token = local.rpartition(".")[2]
        if len(token) != 6 or any(c not in DIGITS36 for c in token):
            return None
        inverse = pow(TOKEN_MUL, -1, TOKEN_MOD)
        index = ((int(token, 36) - self._offset) * inverse) % TOKEN_MOD
        return index if index < self.count and self.email(index) == email else None

    def phone(self, i: int) -> str | None:
        draw = self._identity(i)
        self._names(draw)
        draw.random()
        if not draw.chance(0.6):
            return None
        place = PLACES[hash_ints(self.seed, i, 7) % len(PLACES)]
        prefix = place[7]
        code = next(c for c in PHONE_DIGITS if prefix.startswith(c))
        filler = PHONE_DIGITS[code] - (len(prefix) - 1) - 7
        middle = "".join(str(draw.below(10)) for _ in range(filler))
        token = (i * PHONE_MUL + self._offset) % PHONE_MOD
        return f"{prefix}{middle}{token:07d}"

    def indexes_of_phone(self, phone: str) -> list[int]:
        tail = phone[-7:]
        if not tail.isdigit():
            return []
        inverse = pow(PHONE_MUL, -1, PHONE_MOD)
        first = ((int(tail) - self._offset) * inverse) % PHONE_MOD
        found = range(first, self.count, PHONE_MOD)
        return [i for i in found if self.phone(i) == phone]

    def external_id(self, i: int) -> str | None:
        if hash_ints(self.seed, i, 8) % 100 >= 35:
            return None
        token = (i * EXTERNAL_MUL + self._offset) % EXTERNAL_MOD
        return f"7{token:012d}"

    def index_of_external_id(self, external_id: str) -> int | None:
        if len(external_id) != 13 or not external_id.isdigit():
            return None
        inverse = pow(EXTERNAL_MUL, -1, EXTERNAL_MOD)
        index = ((int(external_id[1:]) - self._offset) * inverse) % EXTERNAL_MOD
        valid = index < self.count and self.external_id(index) == external_id
        return index if valid else None

    # -- the full record ------------------------------------------------------------

    def prebuild(self) -> None:
        """Build every profile now and keep it as JSON text: a page is then
        served at about the speed a real Klaviyo reads its storage, instead of
        the speed one core can generate a hundred profiles."""
        text, ends = bytearray(), array("q")
        for i in range(self.count):
            text += orjson.dumps(self._build(i))
            ends.append(len(text))
        self._prebuilt = text, ends

    @property
    def prebuilt(self) -> bool:
        return self._prebuilt is not None

    def build(self, i: int) -> dict[str, Any]:
        self.built += 1
        if self._prebuilt is not None:
            text, ends = self._prebuilt
            start = ends[i - 1] if i else 0
            record: dict[str, Any] = orjson.loads(memoryview(text)[start : ends[i]])
            return record
        return self._build(i)

    def _build(self, i: int) -> dict[str, Any]:
        names = self._names(self._identity(i))
        created, updated = self.created_ts(i), self.updated_ts(i)
        draw = Draw(hash_ints(self.seed, i, SALT_BODY))
        place = PLACES[hash_ints(self.seed, i, 7) % len(PLACES)]
        return {
            "type": "profile",
            "id": self.profile_id(i),
            "attributes": attrs.profile_attributes(
                draw,
                identity=(self.email(i), self.phone(i), self.external_id(i)),
                names=names,
                place=place,
                created=created,
                updated=updated,
                lists=self.lists,
            ),
            "relationships": profile_relationships(),
        }


def profile_relationships() -> dict[str, Any]:
    """Relationship names only: the server fills in their links."""
    return {"lists": {}, "segments": {}, "push-tokens": {}}


def fresh_profile(
    draw: Draw, profile_id: str, moment: datetime, lists: Sequence[str]
) -> dict[str, Any]:
    """A profile created by a mutation at `moment` (not one of the base indexes)."""
    names = (draw.choice(FIRST_NAMES), draw.choice(LAST_NAMES))
    token = _base36(draw.below(TOKEN_MOD), 6)
    email = f"{names[0][1]}.new.{token}@{draw.choice(EMAIL_DOMAINS)}"
    stamp = int(moment.timestamp())
    attributes = attrs.profile_attributes(
        draw,
        identity=(email, None, None),
        names=names,
        place=draw.choice(PLACES),
        created=stamp,
        updated=stamp,
        lists=lists,
    )
    attributes["last_event_date"] = iso(from_epoch(stamp))
    return {
        "type": "profile",
        "id": profile_id,
        "attributes": attributes,
        "relationships": profile_relationships(),
    }

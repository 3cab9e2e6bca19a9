"""Paging over a million generated profiles plus a small set of overlays.

Two ordered streams are merged: base profiles (an index range found by binary
search, skipping the ones a mutation moved) and overlays (mutated or created
profiles, kept sorted by each sortable key). A page costs O(page + log n) for
the default order, `id`, `created` and `updated`, with or without range
filters on `created`/`updated`; lookups by id, email, phone or external id are
O(1). Any other sort or filter scans, which is fine at demo sizes only.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from klaviyo_connector.sandbox.data import (
    Condition,
    Page,
    Record,
    StoreError,
    cut_page,
    decode_cursor,
    field_key,
    is_datetime_field,
    matches,
    page_of,
    resolve,
    split_sort,
)
from klaviyo_connector.sandbox.gen_common import parse_time
from klaviyo_connector.sandbox.gen_profiles import ProfileGenerator

FAST_SORTS = ("id", "created", "updated")
RANGE_OPS = ("greater-than", "greater-or-equal", "less-than", "less-or-equal")
IDENTITY_FIELDS = ("id", "email", "phone_number", "external_id", "_kx")
Position = tuple[Any, str]


def _ts(record: Record, name: str) -> int:
    return int(parse_time(record["attributes"][name]).timestamp())


class ProfileIndex:
    """Base profiles generated from (seed, index) plus overlays for changed ones."""

    def __init__(self, generator: ProfileGenerator) -> None:
        self.gen = generator
        self.patches: dict[int, dict[str, Any]] = {}  # base index -> changed attrs
        self.created: dict[str, Record] = {}  # id -> profile created by a mutation
        self._sorted: dict[str, list[Position]] = {}
        self._overlay_ids: dict[str, int | None] = {}  # id -> base index or None

    # -- records -------------------------------------------------------------------

    def record(self, index: int) -> Record:
        record = self.gen.build(index)
        patch = self.patches.get(index)
        if patch:
            record["attributes"].update(patch)
        return record

    def get(self, profile_id: str) -> Record | None:
        if profile_id in self.created:
            return self.created[profile_id]
        index = self.gen.index_of_id(profile_id)
        return None if index is None else self.record(index)

    def count(self) -> int:
        return self.gen.count + len(self.created)

    # -- changes --------------------------------------------------------------------

    def patch(self, profile_id: str, changes: dict[str, Any]) -> None:
        if profile_id in self.created:
            old = self.created[profile_id]  # copy on write: pages handed out stay put
            attributes = {**old["attributes"], **changes}
            self.created[profile_id] = {**old, "attributes": attributes}
        else:
            index = self.gen.index_of_id(profile_id)
            if index is None:
                raise StoreError(f"no profile {profile_id}")
            self.patches.setdefault(index, {}).update(changes)
            self._overlay_ids[profile_id] = index
        self._sorted.clear()

    def add(self, record: Record) -> None:
        self.created[record["id"]] = record
        self._overlay_ids[record["id"]] = None
        self._sorted.clear()

    # -- ordering -------------------------------------------------------------------

    def _base_key(self, name: str) -> Callable[[int], Any]:
        if name == "updated":
            return self.gen.updated_ts
        if name == "created":
            return self.gen.created_ts
        return lambda _i: 0

    def _overlay_key(self, profile_id: str, name: str) -> Any:
        """An overlay's sort key, read from the patch: no record is built."""
        if name == "id":
            return 0
        index = self._overlay_ids[profile_id]
        if index is None:
            return _ts(self.created[profile_id], name)
        changed = self.patches[index].get(name)
        if changed is not None:
            return int(parse_time(changed).timestamp())
        return self._base_key(name)(index)

    def _overlays(self, name: str) -> list[Position]:
        if name not in self._sorted:
            positions = [(self._overlay_key(i, name), i) for i in self._overlay_ids]
            self._sorted[name] = sorted(positions)
        return self._sorted[name]

    def _bounds(self, name: str, conditions: Sequence[Condition]) -> tuple[int, int]:
        """Base index range [low, high) satisfying range filters on created/updated."""
        low, high = 0, self.gen.count
        for c in conditions:
            if c.field not in ("created", "updated") or c.op not in RANGE_OPS:
                continue
            key, value = self._base_key(c.field), c.value.timestamp()
            above = self._first(lambda i: key(i) > value)  # noqa: B023
            at_least = self._first(lambda i: key(i) >= value)  # noqa: B023
            if c.op == "greater-than":
                low = max(low, above)
            elif c.op == "greater-or-equal":
                low = max(low, at_least)
            elif c.op == "less-than":
                high = min(high, at_least)
            else:
                high = min(high, above)
        return low, max(low, high)

    def _first(self, predicate: Callable[[int], bool]) -> int:
        low, high = 0, self.gen.count
        while low < high:
            mid = (low + high) // 2
            if predicate(mid):
                high = mid
            else:
                low = mid + 1
        return low

    def _base_stream(
        self, name: str, descending: bool, after: Position | None, span: tuple[int, int]
    ) -> Iterator[tuple[Position, int | None, str]]:
        key, gen = self._base_key(name), self.gen
        low, high = span
        if after is not None:
            cut = self._first(lambda i: (key(i), gen.profile_id(i)) > after)
            if descending:
                high = min(
                    high, self._first(lambda i: (key(i), gen.profile_id(i)) >= after)
                )
            else:
                low = max(low, cut)
        indexes = range(high - 1, low - 1, -1) if descending else range(low, high)
        for i in indexes:
            if i not in self.patches:
                profile_id = gen.profile_id(i)
                yield (key(i), profile_id), i, profile_id

    def _overlay_stream(
        self, name: str, descending: bool, after: Position | None
    ) -> Iterator[tuple[Position, int | None, str]]:
        positions = self._overlays(name)
        if descending:
            end = (
                len(positions)
                if after is None
                else bisect.bisect_left(positions, after)
            )
            chosen: Iterator[Position] = reversed(positions[:end])
        else:
            start = 0 if after is None else bisect.bisect_right(positions, after)
            chosen = iter(positions[start:])
        for position in chosen:
            yield position, self._overlay_ids[position[1]], position[1]

    def stream(
        self,
        name: str,
        descending: bool = False,
        after: Position | None = None,
        span: tuple[int, int] | None = None,
    ) -> Iterator[tuple[Position, Record]]:
        """All profiles in (key, id) order; base profiles outside `span` skipped."""
        span = span if span is not None else (0, self.gen.count)
        base = self._base_stream(name, descending, after, span)
        overlay = self._overlay_stream(name, descending, after)
        merged = heapq.merge(base, overlay, key=lambda e: e[0], reverse=descending)
        for position, index, profile_id in merged:
            record = self.created.get(profile_id) if index is None else None
            yield position, record if record is not None else self.record(index or 0)

    # -- queries --------------------------------------------------------------------

    def query(
        self,
        conditions: Sequence[Condition],
        sort: str | None,
        cursor: str | None,
        page_size: int,
    ) -> Page:
        name, descending = split_sort(sort, "id")
        sort_name = sort or "id"
        identity = any(c.field in IDENTITY_FIELDS for c in conditions)
        if identity or name not in FAST_SORTS:
            return self._page_sorted(conditions, name, descending, sort_name, cursor,
                                     page_size)  # fmt: skip
        at = decode_cursor(cursor, sort_name) if cursor else None
        span = self._bounds(name, conditions)
        # A prev cursor walks the same streams the other way from its position.
        backward = at is not None and at.backward
        after = at.position if at is not None else None
        stream = self.stream(name, descending != backward, after, span)
        rows = ((p, r) for p, r in stream if matches(r, conditions))
        return cut_page(rows, sort_name, at, page_size)

    def _lookup_ids(self, condition: Condition) -> set[str]:
        values = (
            condition.value if isinstance(condition.value, list) else [condition.value]
        )
        found: set[str] = set()
        for value in map(str, values):
            if condition.field == "id":
                found.add(value)
            elif condition.field == "email":
                index = self.gen.index_of_email(value)
                found.update([] if index is None else [self.gen.profile_id(index)])
            elif condition.field == "phone_number":
                found.update(
                    self.gen.profile_id(i) for i in self.gen.indexes_of_phone(value)
                )
            elif condition.field == "external_id":
                index = self.gen.index_of_external_id(value)
                found.update([] if index is None else [self.gen.profile_id(index)])
        for profile_id, record in self.created.items():
            if matches(record, [condition]):
                found.add(profile_id)
        return found

    def _candidates(self, conditions: Sequence[Condition]) -> Iterator[Record]:
        """Identity filters pick a few records directly; anything else scans."""
        identity = [c for c in conditions if c.field in IDENTITY_FIELDS]
        if not identity:
            return (r for _, r in self.stream("id"))
        records = map(self.get, sorted(self._lookup_ids(identity[0])))
        return (r for r in records if r is not None)

    def _page_sorted(
        self,
        conditions: Sequence[Condition],
        name: str,
        descending: bool,
        sort_name: str,
        cursor: str | None,
        page_size: int,
    ) -> Page:
        """The slow path: collect every match, sort, then cut the page."""
        is_time = is_datetime_field(name)
        keyed = []
        for record in self._candidates(conditions):
            if matches(record, conditions):
                value = record["id"] if name == "id" else _sort_value(record, name)
                keyed.append(((field_key(value, is_time), record["id"]), record))
        keyed.sort(key=lambda kr: kr[0], reverse=descending)
        return page_of(keyed, sort_name, descending, cursor, page_size)


def _sort_value(record: Record, name: str) -> Any:
    value = resolve(record, name, {})
    if isinstance(value, list):  # e.g. suppression timestamps: sort by the first
        return min(value) if value else None
    return value

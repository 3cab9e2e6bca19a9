"""Query primitives shared by every resource: conditions, sort keys and cursors.

A cursor is base64 of the sort it belongs to and a record's position (its sort
key and id). A `next` cursor resumes strictly after the last record of a page, so
paging to the end yields every match exactly once even when records before it
changed; a `prev` cursor holds the first record of a page and marks itself as
backward, so its page is the `page_size` matches just before that record.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from klaviyo_connector.sandbox.gen_common import parse_time

Record = dict[str, Any]
Key = tuple[Any, ...]
Resolver = Callable[[Record], Any]

_BACKWARD = "prev"  # the marker a `prev` cursor carries after its position
DATETIME_NAMES = frozenset(
    {"created", "updated", "last_event_date", "send_time", "timestamp", "datetime"}
)


class StoreError(KeyError):
    """A request the store cannot answer: a bad cursor, resource or sort."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "store error"


@dataclass(frozen=True)
class Condition:
    """One parsed filter term, e.g. greater-than(updated, 2024-01-01T00:00:00Z)."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: strictly after `position` in the requested order, or
    (a `prev` link) the matches just before it."""

    position: Key
    backward: bool = False


@dataclass(frozen=True)
class Page:
    """One page of records and the cursors of its neighbours (None: no page)."""

    records: list[Record]
    next: str | None = None
    prev: str | None = None


@dataclass
class MutationSummary:
    """Ids touched by one `mutate` call, keyed by resource type."""

    updated: dict[str, list[str]] = field(default_factory=dict)
    created: dict[str, list[str]] = field(default_factory=dict)
    archived: dict[str, list[str]] = field(default_factory=dict)


def is_datetime_field(name: str) -> bool:
    last = name.rpartition(".")[2]
    return last in DATETIME_NAMES or last.endswith("_at")


def resolve(record: Record, path: str, extra: Mapping[str, Resolver]) -> Any:
    """The value at a dotted attribute path; lists along the way fan out."""
    if path in extra:
        return extra[path](record)
    if path == "id":
        return record["id"]
    values: list[Any] = [record.get("attributes", {})]
    for part in path.split("."):
        nxt: list[Any] = []
        for value in values:
            if isinstance(value, list):
                nxt.extend(v.get(part) for v in value if isinstance(v, dict))
            elif isinstance(value, dict):
                nxt.append(value.get(part))
        values = nxt
    if len(values) == 1:
        return values[0]
    return [v for v in values if v is not None]


def _as_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            return value
    return value


def _scalar_match(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(expected, datetime):
        actual = _as_time(actual)
    if isinstance(actual, dict) and "category" in actual:
        actual = actual["category"]  # integration.category may be an object
    if op in ("equals", "any", "contains-any") and isinstance(expected, list):
        return actual in expected
    if op in ("equals", "any"):
        return bool(actual == expected)
    if actual is None:
        return False
    try:
        if op == "greater-than":
            return bool(actual > expected)
        if op == "greater-or-equal":
            return bool(actual >= expected)
        if op == "less-than":
            return bool(actual < expected)
        if op == "less-or-equal":
            return bool(actual <= expected)
    except TypeError:
        return False
    if op == "contains":
        return isinstance(actual, str) and str(expected) in actual
    if op == "starts-with":
        return isinstance(actual, str) and actual.startswith(str(expected))
    if op == "ends-with":
        return isinstance(actual, str) and actual.endswith(str(expected))
    raise StoreError(f"unsupported filter operator {op!r}")


def condition_matches(actual: Any, condition: Condition) -> bool:
    op, expected = condition.op, condition.value
    if op == "has":
        return actual not in (None, [], {}, "")
    if isinstance(actual, list):
        if op == "contains-all":
            return all(v in actual for v in expected)
        if op in ("contains", "contains-any") and not isinstance(expected, list):
            return expected in actual
        if op == "contains-any":
            return any(v in actual for v in expected)
        return any(_scalar_match(v, op, expected) for v in actual)
    return _scalar_match(actual, op, expected)


def matches(
    record: Record,
    conditions: Iterable[Condition],
    extra: Mapping[str, Resolver] | None = None,
) -> bool:
    extra = extra or {}
    return all(
        condition_matches(resolve(record, c.field, extra), c) for c in conditions
    )


def field_key(value: Any, is_time: bool) -> Key:
    """A JSON-friendly, totally ordered key: nulls first, datetimes as micros."""
    if value is None or isinstance(value, list | dict):
        return (0, "")
    if is_time:
        moment = _as_time(value)
        if isinstance(moment, datetime):
            return (1, int(moment.timestamp() * 1_000_000))
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (1, str(value))


def split_sort(sort: str | None, default: str) -> tuple[str, bool]:
    name = sort or default
    return name.lstrip("-"), name.startswith("-")


def encode_cursor(sort: str, position: Sequence[Any], backward: bool = False) -> str:
    body: list[Any] = [sort, list(position)]
    if backward:
        body.append(_BACKWARD)
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> Cursor:
    """The cursor minted for `sort`, or StoreError."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, position, *marker = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, TypeError, UnicodeDecodeError) as exc:
        raise StoreError("invalid cursor") from exc
    if (
        name != sort
        or not isinstance(position, list)
        or marker not in ([], [_BACKWARD])
    ):
        raise StoreError("invalid cursor")
    return Cursor(_tuplify(position), backward=bool(marker))


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def cut_page(
    travel: Iterator[tuple[Key, Record]],
    sort: str,
    cursor: Cursor | None,
    page_size: int,
) -> Page:
    """A page from records in the order of travel: the requested order after a
    `next` cursor, the reverse order before a `prev` cursor.

    One record past the page tells whether the page ahead exists. The page
    behind a forward page is assumed (it is where the cursor came from), so a
    page never builds records it does not serve beyond that one.
    """
    taken = list(islice(travel, page_size + 1))
    more, rows = len(taken) > page_size, taken[:page_size]
    if cursor is not None and cursor.backward:
        rows.reverse()
        ahead, behind = bool(rows), more
    else:
        ahead, behind = more, cursor is not None
    return Page(
        [r for _, r in rows],
        next=encode_cursor(sort, rows[-1][0]) if ahead and rows else None,
        prev=encode_cursor(sort, rows[0][0], backward=True)
        if behind and rows
        else None,
    )


def _beyond(key: Key, position: Key, descending: bool) -> bool:
    """Whether `key` comes after `position` in the requested order."""
    return bool(key < position if descending else key > position)


def page_of(
    ordered: Sequence[tuple[Key, Record]],
    sort: str,
    descending: bool,
    cursor: str | None,
    page_size: int,
) -> Page:
    """One page of records already sorted by their position keys."""
    at = decode_cursor(cursor, sort) if cursor else None
    travel: Iterator[tuple[Key, Record]]
    if at is None:
        travel = iter(ordered)
    elif at.backward:
        travel = (
            kr for kr in reversed(ordered) if _beyond(at.position, kr[0], descending)
        )
    else:
        travel = (kr for kr in ordered if _beyond(kr[0], at.position, descending))
    return cut_page(travel, sort, at, page_size)

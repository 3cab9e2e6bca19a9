"""Query primitives shared by every resource: conditions, sort keys and cursors.

A cursor is base64 of the sort it belongs to and the last record's position
(its sort key and id), so a page resumes strictly after that record even when
records before it changed: paging to the end yields every match exactly once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from klaviyo_connector.sandbox.gen_common import parse_time

Record = dict[str, Any]
Key = tuple[Any, ...]
Resolver = Callable[[Record], Any]

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


def encode_cursor(sort: str, position: Sequence[Any]) -> str:
    raw = json.dumps([sort, list(position)], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> Key:
    """The position stored in a cursor minted for `sort`, or StoreError."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, TypeError, UnicodeDecodeError) as exc:
        raise StoreError("invalid cursor") from exc
    if name != sort or not isinstance(position, list):
        raise StoreError("invalid cursor")
    return _tuplify(position)


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def page_of(
    ordered: Sequence[tuple[Key, Record]],
    sort: str,
    descending: bool,
    cursor: str | None,
    page_size: int,
) -> tuple[list[Record], str | None]:
    """One page of records already sorted by their position keys."""
    after = decode_cursor(cursor, sort) if cursor else None
    if after is not None:
        ordered = [
            (k, r) for k, r in ordered if (k < after if descending else k > after)
        ]
    page = ordered[:page_size]
    more = len(ordered) > page_size
    next_cursor = encode_cursor(sort, page[-1][0]) if more and page else None
    return [r for _, r in page], next_cursor

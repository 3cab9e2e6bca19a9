"""Query primitives: filter operators, sort keys and opaque cursors."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest

from klaviyo_connector.sandbox.data import (
    Condition,
    Cursor,
    StoreError,
    decode_cursor,
    encode_cursor,
    field_key,
    matches,
    page_of,
)

RECORD = {
    "type": "metric",
    "id": "AbC123",
    "attributes": {
        "name": "Placed Order",
        "updated": "2025-03-01T10:00:00+00:00",
        "integration": {"key": "app", "category": {"id": 15, "category": "Ads"}},
        "tags": ["vip", "beta"],
        "subscriptions": {"suppression": [{"reason": "HARD_BOUNCE"}]},
    },
}
MOMENT = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition("name", "equals", "Placed Order"), True),
        (Condition("name", "equals", ["x", "Placed Order"]), True),
        (Condition("name", "any", ["x"]), False),
        (Condition("name", "contains", "Order"), True),
        (Condition("name", "starts-with", "Placed"), True),
        (Condition("name", "ends-with", "Placed"), False),
        (Condition("id", "equals", "AbC123"), True),
        (Condition("updated", "greater-than", MOMENT), False),
        (Condition("updated", "greater-or-equal", MOMENT), True),
        (Condition("updated", "less-or-equal", MOMENT), True),
        (Condition("updated", "less-than", MOMENT), False),
        (Condition("integration.category", "equals", "Ads"), True),
        (Condition("tags", "contains", "vip"), True),
        (Condition("tags", "contains-any", ["x", "beta"]), True),
        (Condition("tags", "contains-all", ["vip", "x"]), False),
        (Condition("subscriptions.suppression.reason", "equals", "HARD_BOUNCE"), True),
        (Condition("missing", "has", None), False),
        (Condition("name", "has", None), True),
    ],
)
def test_condition_operators(condition: Condition, expected: bool) -> None:
    assert matches(RECORD, [condition]) is expected


def test_conditions_are_anded() -> None:
    both = [Condition("name", "contains", "Order"), Condition("id", "equals", "no")]
    assert not matches(RECORD, both)


def test_unknown_operator_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        matches(RECORD, [Condition("name", "sounds-like", "x")])


def test_cursor_round_trips_and_is_bound_to_its_sort() -> None:
    cursor = encode_cursor("-updated", (0, (1, 1700000000), "01ABC"))
    assert "updated" not in cursor  # opaque
    assert decode_cursor(cursor, "-updated") == Cursor((0, (1, 1700000000), "01ABC"))
    back = encode_cursor("-updated", (0, (1, 1700000000), "01ABC"), backward=True)
    assert decode_cursor(back, "-updated").backward
    with pytest.raises(StoreError, match="invalid cursor"):
        decode_cursor(cursor, "updated")


@pytest.mark.parametrize("junk", ["", "@@@", "bm9wZQ", "WyJ4Il0"])
def test_garbage_cursor_is_rejected(junk: str) -> None:
    with pytest.raises(StoreError, match="invalid cursor"):
        decode_cursor(junk, "id")


def test_sort_keys_put_nulls_first_and_compare_datetimes_by_instant() -> None:
    keys = [
        field_key("2025-01-01T00:00:00.5+00:00", True),
        field_key(None, True),
        field_key("2025-01-01T00:00:00+00:00", True),
    ]
    assert sorted(keys) == [keys[1], keys[2], keys[0]]


def test_page_of_resumes_strictly_after_the_cursor() -> None:
    rows = [((i, f"id{i}"), {"id": f"id{i}"}) for i in range(5)]
    first = page_of(rows, "x", False, None, 2)
    assert [r["id"] for r in first.records] == ["id0", "id1"]
    second = page_of(rows, "x", False, first.next, 2)
    third = page_of(rows, "x", False, second.next, 2)
    assert [r["id"] for r in second.records + third.records] == ["id2", "id3", "id4"]
    assert third.next is None


@pytest.mark.parametrize("descending", [False, True])
def test_page_of_prev_returns_exactly_the_page_before(descending: bool) -> None:
    rows = [((i, f"id{i}"), {"id": f"id{i}"}) for i in range(7)]
    rows.sort(reverse=descending)
    pages = [page_of(rows, "x", descending, None, 3)]
    while pages[-1].next:
        pages.append(page_of(rows, "x", descending, pages[-1].next, 3))
    assert pages[0].prev is None
    for before, page in pairwise(pages):
        assert page.prev is not None
        # the same records and the same neighbours as when walking forward
        assert page_of(rows, "x", descending, page.prev, 3) == before

"""Pages decoded to a table's shape give the same rows as a generic parse, and
a body without the shape is left to the generic parse and its checks."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from klaviyo_connector.client.records import PageShape, decode_page
from klaviyo_connector.errors import UnexpectedResponseError
from klaviyo_connector.load.batch import RowBatch
from klaviyo_connector.reports import profiles

SHAPE = profiles.REPORT.page_shape
assert SHAPE is not None


def _profile(number: int, **attributes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "email": f"p{number}@example.com",
        "phone_number": None,
        "external_id": 12345,  # not text: the row keeps NULL either way
        "first_name": "Zoë",
        "created": "2024-01-02T03:04:05+00:00",
        "updated": "2025-06-07T08:09:10.123456+00:00",
        "last_event_date": None,
        "location": {"city": "Zürich", "latitude": 47.37, "ip": None},
        "properties": {"tags": ["a", "b"], "nested": {"x": [1, 2.5, True]}},
        "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}},
        "predictive_analytics": None,
    }
    base.update(attributes)
    return {
        "type": "profile",
        "id": f"01J{number:023d}",
        "attributes": base,
        "relationships": {"lists": {"links": {"self": "https://a/b"}}},
        "links": {"self": f"https://a.klaviyo.com/api/profiles/{number}/"},
    }


def _document(*resources: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "data": list(resources),
            "links": {"self": "https://x/api/profiles/", "next": "https://x/n"},
        }
    )


def _rows(document: Any) -> list[dict[str, Any]]:
    return [profiles.profile_row(resource, {}) for resource in document["data"]]


def _loaded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The values a warehouse receives, JSON columns parsed back."""
    table = RowBatch.of(profiles.COLUMNS, rows).to_arrow().to_pylist()
    for row in table:
        for name in profiles.JSON_FIELDS:
            if row[name] is not None:
                row[name] = orjson.loads(row[name])
    return table


def test_shaped_page_loads_the_same_values_as_a_generic_parse() -> None:
    body = _document(
        _profile(1),
        _profile(2, location=None, properties={}, subscriptions="not an object"),
        _profile(3, properties={"k\x00ey": "v\x00al"}, email=None),
        {"type": "profile", "id": "01JSPARSE", "attributes": {}},
    )
    shaped = decode_page(body, SHAPE)

    assert shaped is not None
    assert shaped["links"]["next"] == "https://x/n"
    assert _loaded(_rows(shaped)) == _loaded(_rows(orjson.loads(body)))
    # The JSON columns are Klaviyo's own text, not re-serialized objects.
    assert isinstance(shaped["data"][0]["attributes"]["properties"], bytes)
    assert "relationships" not in shaped["data"][0]
    rows = _loaded(_rows(shaped))
    assert rows[1]["location"] is None
    assert rows[1]["properties"] == {}
    assert rows[1]["subscriptions"] is None
    assert rows[2]["properties"] == {"k\ufffdey": "v\ufffdal"}
    assert rows[3]["email"] is None
    assert rows[3]["location"] is None


def test_included_resources_are_kept() -> None:
    body = orjson.dumps(
        {"data": [_profile(1)], "included": [{"type": "list", "id": "L1"}]}
    )
    shaped = decode_page(body, SHAPE)
    assert shaped is not None
    assert shaped["included"] == [{"type": "list", "id": "L1"}]
    assert shaped["links"] is None


@pytest.mark.parametrize(
    "body",
    [
        b"<html>busy</html>",
        b'{"errors": []}',
        b'{"data": {"id": "1", "attributes": {}}}',
        b'{"data": [{"id": "1", "attributes": []}]}',
        b'{"data": [{"type": "profile", "attributes": {}}]}',
        b'{"data": [{"id": "1"}]}',
        b'{"data": [{"id": "1", "attributes": {"location": {"a": }}}]}',
        b'{"data": [{"id": "1", "attributes": {"location": {"city": "\xff"}}}]}',
        b'{"data": [{"id": "1", "attributes": {"properties": '
        b'{"a": "\\u0000", "b": 1e400}}}]}',
        b'{"data": [{"id": "1", "attributes": {"properties": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}]}",
    ],
    ids=[
        "html",
        "no data",
        "data not a list",
        "attributes not an object",
        "no id",
        "no attributes",
        "broken json",
        "kept text not utf-8",
        "kept text with a nul that does not parse",
        "nested too deep",
    ],
)
def test_a_body_without_the_shape_is_left_to_the_generic_parse(body: bytes) -> None:
    assert decode_page(body, SHAPE) is None


def test_only_the_shape_attributes_are_kept() -> None:
    shape = PageShape(("name",), ("definition",))
    body = orjson.dumps(
        {"data": [{"id": "S1", "attributes": {"name": "VIP", "extra": [1]}}]}
    )
    shaped = decode_page(body, shape)
    assert shaped is not None
    assert shaped["data"] == [
        {
            "id": "S1",
            "type": None,
            "attributes": {"name": "VIP", "definition": b"null"},
        }
    ]


def test_values_nested_deeper_than_orjson_writes_load_on_both_paths() -> None:
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    profile = _profile(1, properties={"nul": "a\x00b", "deep": deep})
    body = json.dumps({"data": [profile]}).encode()  # orjson writes 254 levels
    shaped = decode_page(body, SHAPE)
    assert shaped is not None
    loaded = _loaded(_rows(shaped))
    assert loaded == _loaded(_rows(orjson.loads(body)))
    assert loaded[0]["properties"]["nul"] == "a\ufffdb"


def test_a_value_too_deep_to_write_is_a_typed_error() -> None:
    deep: Any = "x"
    for _ in range(1010):
        deep = [deep]
    rows = [profiles.profile_row(_profile(1, properties=deep), {})]
    with pytest.raises(UnexpectedResponseError, match="nested about a thousand"):
        RowBatch.of(profiles.COLUMNS, rows).to_arrow()

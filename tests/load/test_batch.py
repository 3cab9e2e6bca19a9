"""RowBatch: pending rows as columns, one per key, newest wins, Arrow out."""

from __future__ import annotations

import datetime as dt

import orjson
import pyarrow as pa

from klaviyo_connector.load.batch import RowBatch
from klaviyo_connector.reports.base import (
    BIGINT,
    BOOL,
    DOUBLE,
    JSON,
    TEXT,
    TIMESTAMP,
    Column,
)

COLUMNS = (
    Column("id", TEXT, False),
    Column("updated", TIMESTAMP),
    Column("props", JSON),
    Column("n", BIGINT),
    Column("x", DOUBLE),
    Column("ok", BOOL),
)
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def row(ident: str, minutes: int | None, **extra: object) -> dict[str, object]:
    updated = None if minutes is None else T0 + dt.timedelta(minutes=minutes)
    return {"id": ident, "updated": updated, **extra}


def test_keeps_one_row_per_key_and_the_newest_version() -> None:
    batch = RowBatch(COLUMNS, key="id", newer_by="updated")
    batch.extend([row("a", 5, n=1), row("b", 1)])
    batch.extend([row("a", 3, n=2), row("a", 7, n=3)])
    assert len(batch) == 4  # versions are folded when the batch is read
    assert sorted(zip(batch.column("id"), batch.column("n"), strict=True)) == [
        ("a", 3),
        ("b", None),
    ]
    assert batch.newest("updated") == T0 + dt.timedelta(minutes=7)
    assert batch.count_after("updated", T0 + dt.timedelta(minutes=4)) == 2


def test_a_version_without_a_cursor_replaces_the_earlier_one() -> None:
    batch = RowBatch(COLUMNS, key="id", newer_by="updated")
    batch.extend([row("a", 5, n=1), row("a", None, n=2)])
    assert batch.column("n") == [2]


def test_arrow_table_types_json_as_text_and_adds_constant_columns() -> None:
    loaded = Column("_loaded_at", TIMESTAMP, False)
    props = {"Favorite Color": "blue", "nested": [1, {"z": None}]}
    batch = RowBatch.of(
        COLUMNS, [row("a", 0, props=props, x=1.5, ok=True), row("b", None)]
    )
    table = batch.to_arrow(extra=[(loaded, T0)])
    assert table.schema.field("id").nullable is False
    assert table.schema.field("props").type == pa.string()
    assert table.schema.field("updated").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("n").type == pa.int64()
    values = table.to_pylist()
    assert orjson.loads(values[0]["props"]) == props
    assert values[1]["props"] is None
    assert values[1]["updated"] is None
    assert [v["_loaded_at"] for v in values] == [T0, T0]
    assert values[0]["x"] == 1.5
    assert values[0]["ok"] is True


def test_an_empty_batch_has_no_newest_value() -> None:
    batch = RowBatch(COLUMNS, key="id", newer_by="updated")
    assert len(batch) == 0
    assert batch.newest("updated") is None
    assert batch.count_after("updated", T0) == 0
    assert batch.to_arrow().num_rows == 0


def test_nul_characters_leave_text_and_become_replacement_marks_in_json() -> None:
    props = {"k\x00ey": "v\x00al", "key": "plain", "list": ["a\x00", 1]}
    batch = RowBatch.of(COLUMNS, [row("a\x00b", 1, props=props), row("c", 2)])
    table = batch.to_arrow()

    assert table.column("id").to_pylist() == ["ab", "c"]
    assert orjson.loads(table.column("props")[0].as_py()) == {
        "k\ufffdey": "v\ufffdal",
        "key": "plain",
        "list": ["a\ufffd", 1],
    }


def test_a_backslash_before_u0000_is_not_a_nul() -> None:
    props = {"path": "C:\\u0000", "nul": "\x00"}
    batch = RowBatch.of(COLUMNS, [row("a", 1, props=props)])
    loaded = orjson.loads(batch.to_arrow().column("props")[0].as_py())
    assert loaded == {"path": "C:\\u0000", "nul": "\ufffd"}

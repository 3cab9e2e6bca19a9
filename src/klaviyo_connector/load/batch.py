"""Rows in bulk: each page becomes Arrow columns at once, a commit hands dlt
one Arrow table.

Pending rows kept as Python objects cost several times their size, keep the
garbage collector busy, and (worse) pin the allocator's memory of every page
they came from, so a process grows with the account. Copied into Arrow buffers
per page, they take about their serialized size and every page's objects are
freed whole. dlt then writes the table straight to Parquet (or INSERTs)
instead of normalizing row by row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from klaviyo_connector.errors import UnexpectedResponseError
from klaviyo_connector.reports.base import (
    BIGINT,
    BOOL,
    DOUBLE,
    JSON,
    TEXT,
    TIMESTAMP,
    Column,
    Row,
)

if TYPE_CHECKING:
    import pyarrow as pa


def arrow_type(data_type: str) -> pa.DataType:
    """The Arrow type a column travels as; JSON travels as text, and the
    column's dlt hint makes it a JSON column in the warehouse."""
    import pyarrow as pa

    types = {
        TEXT: pa.string(),
        JSON: pa.string(),
        BOOL: pa.bool_(),
        BIGINT: pa.int64(),
        DOUBLE: pa.float64(),
        TIMESTAMP: pa.timestamp("us", tz="UTC"),
    }
    return types[data_type]


# PostgreSQL's text and jsonb cannot hold NUL (U+0000), which Klaviyo passes
# through in names and custom properties. Every destination gets the same
# values: text drops NUL; JSON keys and strings carry U+FFFD instead, so two
# keys that differ only by a NUL stay apart.
NUL = "\x00"
_ESCAPED_NUL = b"\\u0000"  # how orjson writes a NUL inside a JSON string


def _without_nul_json(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, "\ufffd")
    if isinstance(value, dict):
        return {_without_nul_json(k): _without_nul_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul_json(item) for item in value]
    return value


def _json_text(value: Any) -> bytes | None:
    """JSON text of an object, or of text a page shape kept as Klaviyo sent it."""
    if value is None:
        return None
    if isinstance(value, bytes):
        if _ESCAPED_NUL not in value:
            return value
        value = orjson.loads(value)
    try:
        text = _dumps(value)
        if _ESCAPED_NUL in text:  # rare; an escaped backslash may match too
            text = _dumps(_without_nul_json(value))
    except RecursionError:
        raise UnexpectedResponseError(
            "Klaviyo sent a JSON value nested about a thousand levels deep, "
            "deeper than the connector can write to a JSON column",
            fix="Report it with the sync's log (run with -v): a value that deep "
            "cannot be loaded until it is flattened in Klaviyo.",
        ) from None
    return text


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson writes at most 254 levels of nesting
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()


def _without_nul_text(array: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    if not pc.any(pc.match_substring(array, NUL)).as_py():
        return array
    return pc.replace_substring(array, NUL, "")


class RowBatch:
    """Rows of one table as Arrow record batches. With a `key`, one row per
    key comes out: a record re-read later in the same sync may be newer, so the
    later version wins unless its `newer_by` value is older."""

    def __init__(
        self,
        columns: Sequence[Column],
        key: str | None = None,
        newer_by: str | None = None,
    ) -> None:
        import pyarrow as pa

        self.columns = tuple(columns)
        self.schema = pa.schema(
            [
                pa.field(c.name, arrow_type(c.data_type), nullable=c.nullable)
                for c in self.columns
            ]
        )
        self._key, self._newer_by = key, newer_by
        self._batches: list[pa.RecordBatch] = []
        self._size = 0

    @classmethod
    def of(cls, columns: Sequence[Column], rows: Iterable[Row]) -> RowBatch:
        batch = cls(columns)
        batch.extend(rows)
        return batch

    @property
    def folded_by(self) -> str | None:
        """The column whose values `to_arrow` makes unique, if any."""
        return self._key

    def __len__(self) -> int:
        """Rows held, counting versions of one key that a commit folds."""
        return self._size

    def extend(self, rows: Iterable[Row]) -> None:
        """Copy rows (one page, typically) into Arrow columns."""
        self.append(self.convert(rows))

    def convert(self, rows: Iterable[Row]) -> pa.RecordBatch:
        """Rows as one Arrow record batch of this table's columns. Safe on any
        thread: a reader converts each page while its objects are still young,
        so they die before the garbage collector ever promotes them."""
        import pyarrow as pa

        rows = list(rows)
        arrays = []
        for column, field in zip(self.columns, self.schema, strict=True):
            values = [row.get(column.name) for row in rows]
            if column.data_type == JSON:
                values = [_json_text(value) for value in values]
            array = pa.array(values, field.type)
            if column.data_type == TEXT:
                array = _without_nul_text(array)
            arrays.append(array)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def append(self, batch: pa.RecordBatch) -> None:
        """Add rows already converted (by `convert` of a batch like this one)."""
        if batch.num_rows:
            self._batches.append(batch)
            self._size += batch.num_rows

    def _table(self) -> pa.Table:
        import pyarrow as pa

        return pa.Table.from_batches(self._batches, schema=self.schema)

    def newest(self, name: str) -> dt.datetime | None:
        """The latest value of a timestamp column, None when all are null."""
        import pyarrow.compute as pc

        if not self._size:
            return None
        latest: dt.datetime | None = pc.max(self._table().column(name)).as_py()
        return latest

    def count_after(self, name: str, moment: dt.datetime) -> int:
        """Rows whose timestamp column lies after `moment`."""
        import pyarrow.compute as pc

        if not self._size:
            return 0
        after = pc.greater(self._table().column(name), moment)
        return int(pc.sum(after).as_py() or 0)

    def column(self, name: str) -> list[Any]:
        """One column's values after folding (JSON columns as text)."""
        return list(self.to_arrow().column(name).to_pylist())

    def to_arrow(self, extra: Sequence[tuple[Column, Any]] = ()) -> pa.Table:
        """The rows as one Arrow table; `extra` adds constant columns."""
        import pyarrow as pa

        table = self._folded(self._table())
        for column, value in extra:
            kind = arrow_type(column.data_type)
            field = pa.field(column.name, kind, nullable=column.nullable)
            table = table.append_column(field, pa.array([value] * len(table), kind))
        return table

    def _folded(self, table: pa.Table) -> pa.Table:
        """One row per key. Repeats are rare (a boundary record, a record
        edited while the sync read), so they are resolved in Python."""
        import pyarrow.compute as pc

        if self._key is None or not len(table):
            return table
        keys = table.column(self._key)
        if pc.count_distinct(keys).as_py() == len(table):
            return table
        moments = (
            table.column(self._newer_by).to_pylist()
            if self._newer_by is not None
            else [None] * len(table)
        )
        winners: dict[Any, int] = {}
        for at, key in enumerate(keys.to_pylist()):
            current = winners.get(key)
            if current is None or _replaces(moments[current], moments[at]):
                winners[key] = at
        return table.take(sorted(winners.values()))


def _replaces(old: Any, new: Any) -> bool:
    return old is None or new is None or new >= old

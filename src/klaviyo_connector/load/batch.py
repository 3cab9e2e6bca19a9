"""Rows in bulk: kept as columns while they wait, handed to dlt as Arrow.

A pending chunk of 20,000 profiles as Python dicts is millions of small objects
that the garbage collector walks again and again; as columns with JSON already
serialized it is a few long lists of strings. dlt then writes the Arrow table
straight to Parquet (or INSERTs) instead of normalizing row by row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

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


def _json_text(value: Any) -> bytes | None:
    return None if value is None else orjson.dumps(value)


class RowBatch:
    """Rows of one table as columns, optionally one per `key`, the newest by
    `newer_by` winning (a record re-read later in the same sync may be newer)."""

    def __init__(
        self,
        columns: Sequence[Column],
        key: str | None = None,
        newer_by: str | None = None,
    ) -> None:
        self.columns = tuple(columns)
        self._values: dict[str, list[Any]] = {c.name: [] for c in self.columns}
        self._json = frozenset(c.name for c in self.columns if c.data_type == JSON)
        self._key, self._newer_by = key, newer_by
        self._where: dict[Any, int] = {}
        self._size = 0

    @classmethod
    def of(cls, columns: Sequence[Column], rows: Iterable[Row]) -> RowBatch:
        batch = cls(columns)
        batch.extend(rows)
        return batch

    def __len__(self) -> int:
        return self._size

    def extend(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.add(row)

    def add(self, row: Row) -> None:
        if self._key is None:
            self._append(row)
            return
        ident = row[self._key]
        at = self._where.get(ident)
        if at is None:
            self._where[ident] = self._size
            self._append(row)
        elif self._replaces(at, row):
            for name, values in self._values.items():
                values[at] = self._cell(name, row.get(name))

    def _append(self, row: Row) -> None:
        for name, values in self._values.items():
            values.append(self._cell(name, row.get(name)))
        self._size += 1

    def _cell(self, name: str, value: Any) -> Any:
        return _json_text(value) if name in self._json else value

    def _replaces(self, at: int, row: Row) -> bool:
        if self._newer_by is None:
            return True
        old, new = self._values[self._newer_by][at], row.get(self._newer_by)
        return old is None or new is None or new >= old

    def newest(self, name: str) -> dt.datetime | None:
        """The latest non-null value of a timestamp column."""
        return max((v for v in self._values[name] if v is not None), default=None)

    def column(self, name: str) -> list[Any]:
        """One column's values (JSON columns as serialized bytes)."""
        return self._values[name]

    def to_arrow(self, extra: Sequence[tuple[Column, Any]] = ()) -> pa.Table:
        """The rows as an Arrow table; `extra` adds constant columns."""
        import pyarrow as pa

        fields, arrays = [], []
        for column in self.columns:
            kind = arrow_type(column.data_type)
            fields.append(pa.field(column.name, kind, nullable=column.nullable))
            arrays.append(pa.array(self._values[column.name], kind))
        for column, value in extra:
            kind = arrow_type(column.data_type)
            fields.append(pa.field(column.name, kind, nullable=column.nullable))
            arrays.append(pa.array([value] * self._size, kind))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

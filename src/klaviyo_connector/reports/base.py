"""The shared shape of a report: a small declaration the sync machinery runs.

A dimension report names its endpoint, request parameters, page size, key,
cursor and columns, plus a function that turns one Klaviyo resource into a row.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from klaviyo_connector.client.records import PageShape

Row = dict[str, Any]
Resource = Mapping[str, Any]
IncludedIndex = Mapping[tuple[str, str], Resource]
RowMapper = Callable[[Resource, IncludedIndex], Row]

LOADED_AT = "_loaded_at"

# dlt data types used by the five tables; every destination maps these itself.
TEXT, BOOL, BIGINT, DOUBLE, TIMESTAMP, JSON = (
    "text",
    "bool",
    "bigint",
    "double",
    "timestamp",
    "json",
)


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    nullable: bool = True
    doc: str = ""


@dataclass(frozen=True)
class Variant:
    """One slice of an endpoint that must be read separately (e.g. per channel)."""

    conditions: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DimensionReport:
    """A table read from a GET collection, incrementally by an `updated` field."""

    table: str
    endpoint: str
    scope: str
    key: str
    cursor_field: str
    columns: tuple[Column, ...]
    to_row: RowMapper
    page_size: int
    params: Mapping[str, str] = field(default_factory=dict)
    variants: tuple[Variant, ...] = (Variant(),)
    # Lists and segments accept only greater-than on `updated`: the upper end of
    # a historical range is then applied to the rows instead of the filter.
    upper_bound: bool = True
    # Rows per load commit; None loads the whole table in one commit.
    chunk_rows: int | None = None
    # Read in several `updated` ranges at once (sync/ranges.py): needs a sort
    # by the cursor field, an upper bound in the filter and one variant.
    split_reads: bool = False
    # Pages decoded straight into these attributes (client/records.py), for
    # the table whose pages are most of a sync's bytes.
    page_shape: PageShape | None = None
    doc: str = ""

    @property
    def scopes(self) -> tuple[str, ...]:
        return (self.scope,)


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Aware UTC datetime from ISO text, with or without fraction, Z or offset."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:  # Klaviyo's usual form, read directly: the sync parses millions
            parsed = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            text = _FRACTION.sub(r"\1", str(value).strip().replace("z", "Z"))
            try:
                parsed = dt.datetime.fromisoformat(text)
            except ValueError:
                return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def format_filter_time(moment: dt.datetime) -> str:
    """UTC with `Z` and whole seconds: `+00:00` turns into a space in a URL."""
    utc = moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None)
    return utc.isoformat() + "Z"


def text_or_none(value: Any) -> str | None:
    """Klaviyo's blanks are unknowns: store them as NULL, never as ''."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def json_or_none(value: Any) -> Any:
    """An object or array; one decoded by a page shape stays its JSON text."""
    if isinstance(value, bytes):
        return value if value.lstrip()[:1] in (b"{", b"[") else None
    return value if isinstance(value, (dict, list)) else None


def int_or_none(value: Any) -> int | None:
    number = float_or_none(value)
    return None if number is None else round(number)


def float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def attributes(resource: Resource) -> Mapping[str, Any]:
    attrs = resource.get("attributes")
    return attrs if isinstance(attrs, Mapping) else {}


def index_included(included: list[dict[str, Any]]) -> dict[tuple[str, str], Resource]:
    return {(item.get("type", ""), item.get("id", "")): item for item in included}


def column_hints(columns: tuple[Column, ...], key: tuple[str, ...]) -> dict[str, Any]:
    """The dlt column schema: every column typed up front, so an all-NULL
    column still exists with the right type in every destination."""
    hints: dict[str, Any] = {}
    for column in columns:
        hint: dict[str, Any] = {
            "data_type": column.data_type,
            "nullable": column.nullable and column.name not in key,
        }
        if column.name in key:
            hint["primary_key"] = True
        hints[column.name] = hint
    return hints

"""`segment`: one row per segment, its definition kept as JSON."""

from __future__ import annotations

from klaviyo_connector.reports.base import (
    BOOL,
    JSON,
    TEXT,
    TIMESTAMP,
    Column,
    DimensionReport,
    IncludedIndex,
    Resource,
    Row,
    attributes,
    bool_or_none,
    json_or_none,
    parse_timestamp,
    text_or_none,
)

COLUMNS = (
    Column("id", TEXT, False, "Klaviyo segment id"),
    Column("name", TEXT),
    Column("definition", JSON, doc="condition groups, as Klaviyo returns them"),
    Column("is_active", BOOL),
    Column("is_processing", BOOL),
    Column("is_starred", BOOL),
    Column("created", TIMESTAMP),
    Column("updated", TIMESTAMP, doc="cursor"),
)


def segment_row(resource: Resource, included: IncludedIndex) -> Row:
    attrs = attributes(resource)
    return {
        "id": resource["id"],
        "name": text_or_none(attrs.get("name")),
        "definition": json_or_none(attrs.get("definition")),
        "is_active": bool_or_none(attrs.get("is_active")),
        "is_processing": bool_or_none(attrs.get("is_processing")),
        "is_starred": bool_or_none(attrs.get("is_starred")),
        "created": parse_timestamp(attrs.get("created")),
        "updated": parse_timestamp(attrs.get("updated")),
    }


REPORT = DimensionReport(
    table="segment",
    endpoint="/api/segments",
    scope="segments:read",
    key="id",
    cursor_field="updated",
    columns=COLUMNS,
    to_row=segment_row,
    page_size=10,
    # `definition` only comes back when asked for by name.
    params={
        "fields[segment]": (
            "name,definition,is_active,is_processing,is_starred,created,updated"
        )
    },
    upper_bound=False,
    doc="One row per segment; upserted by id on updated.",
)

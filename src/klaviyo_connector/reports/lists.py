"""`list`: one row per list."""

from __future__ import annotations

from klaviyo_connector.reports.base import (
    TEXT,
    TIMESTAMP,
    Column,
    DimensionReport,
    IncludedIndex,
    Resource,
    Row,
    attributes,
    parse_timestamp,
    text_or_none,
)

COLUMNS = (
    Column("id", TEXT, False, "Klaviyo list id"),
    Column("name", TEXT),
    Column("opt_in_process", TEXT, doc="single_opt_in or double_opt_in"),
    Column("created", TIMESTAMP),
    Column("updated", TIMESTAMP, doc="cursor"),
)


def list_row(resource: Resource, included: IncludedIndex) -> Row:
    attrs = attributes(resource)
    return {
        "id": resource["id"],
        "name": text_or_none(attrs.get("name")),
        "opt_in_process": text_or_none(attrs.get("opt_in_process")),
        "created": parse_timestamp(attrs.get("created")),
        "updated": parse_timestamp(attrs.get("updated")),
    }


REPORT = DimensionReport(
    table="list",
    endpoint="/api/lists",
    scope="lists:read",
    key="id",
    cursor_field="updated",
    columns=COLUMNS,
    to_row=list_row,
    page_size=10,
    params={"fields[list]": "name,opt_in_process,created,updated"},
    upper_bound=False,
    doc="One row per list; upserted by id on updated.",
)

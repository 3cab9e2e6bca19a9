"""`profile`: one row per profile; custom properties stay in one JSON column."""

from __future__ import annotations

from klaviyo_connector.client.records import PageShape
from klaviyo_connector.reports.base import (
    JSON,
    TEXT,
    TIMESTAMP,
    Column,
    DimensionReport,
    IncludedIndex,
    Resource,
    Row,
    attributes,
    json_or_none,
    parse_timestamp,
    text_or_none,
)

TEXT_FIELDS = (
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "title",
    "locale",
    "image",
)
TIME_FIELDS = ("created", "updated", "last_event_date")
JSON_FIELDS = ("location", "properties", "subscriptions")

COLUMNS = (
    Column("id", TEXT, False, "Klaviyo profile id"),
    *(Column(name, TEXT) for name in TEXT_FIELDS),
    Column("created", TIMESTAMP),
    Column("updated", TIMESTAMP, doc="cursor"),
    Column("last_event_date", TIMESTAMP),
    Column("location", JSON, doc="address, city, country, timezone, ip, lat/long"),
    Column("properties", JSON, doc="custom properties, never split into columns"),
    Column("subscriptions", JSON, doc="consent per channel"),
)

CHUNK_ROWS = 20_000


def profile_row(resource: Resource, included: IncludedIndex) -> Row:
    attrs = attributes(resource)
    row: Row = {"id": resource["id"]}
    row.update({name: text_or_none(attrs.get(name)) for name in TEXT_FIELDS})
    row.update({name: parse_timestamp(attrs.get(name)) for name in TIME_FIELDS})
    row.update({name: json_or_none(attrs.get(name)) for name in JSON_FIELDS})
    return row


REPORT = DimensionReport(
    table="profile",
    endpoint="/api/profiles",
    scope="profiles:read",
    key="id",
    cursor_field="updated",
    columns=COLUMNS,
    to_row=profile_row,
    page_size=100,
    # Never predictive_analytics: it drops the endpoint to a tenth of the rate.
    # Sorted by updated, so the last committed row is a safe resume point.
    params={"additional-fields[profile]": "subscriptions", "sort": "updated"},
    chunk_rows=CHUNK_ROWS,
    split_reads=True,
    page_shape=PageShape(TEXT_FIELDS + TIME_FIELDS, JSON_FIELDS),
    doc="One row per profile; upserted by id on updated, committed in chunks.",
)

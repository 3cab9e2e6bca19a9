"""`campaign`: one row per campaign, with its messages as a JSON list.

Klaviyo lists campaigns only per channel, and archived campaigns only when
asked for, so the report reads six slices; messages arrive in the same pages
through `include=campaign-messages`, never one request per campaign.
"""

from __future__ import annotations

from typing import Any

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
    Variant,
    attributes,
    bool_or_none,
    json_or_none,
    parse_timestamp,
    text_or_none,
)

CHANNELS = ("email", "sms", "mobile_push")

CAMPAIGN_FIELDS = (
    "name,status,archived,audiences,send_options,tracking_options,send_strategy,"
    "created_at,scheduled_at,updated_at,send_time"
)
MESSAGE_FIELDS = "definition,send_times,created_at,updated_at"

COLUMNS = (
    Column("id", TEXT, False, "Klaviyo campaign id"),
    Column("name", TEXT),
    Column("channel", TEXT, doc="email, sms or mobile_push"),
    Column("status", TEXT, doc="as Klaviyo spells it: Draft, Scheduled, Sent, ..."),
    Column("archived", BOOL),
    Column("created_at", TIMESTAMP),
    Column("updated_at", TIMESTAMP, doc="cursor"),
    Column("scheduled_at", TIMESTAMP),
    Column("send_time", TIMESTAMP),
    Column("audiences", JSON, doc="included / excluded list and segment ids"),
    Column("send_options", JSON),
    Column("tracking_options", JSON),
    Column("send_strategy", JSON),
    Column("messages", JSON, doc="one object per campaign message"),
)


def message_json(message: Resource) -> dict[str, Any]:
    """The parts of a campaign message worth querying, flattened per channel."""
    attrs = attributes(message)
    definition = attrs.get("definition") or {}
    content = definition.get("content") or {}
    return {
        "id": message.get("id"),
        "channel": definition.get("channel"),
        "label": definition.get("label"),
        "subject": content.get("subject"),
        "preview_text": content.get("preview_text"),
        "from_email": content.get("from_email"),
        "from_label": content.get("from_label"),
        "reply_to_email": content.get("reply_to_email"),
        "title": content.get("title"),
        "body": content.get("body"),
        "send_times": attrs.get("send_times") or [],
        "created_at": attrs.get("created_at"),
        "updated_at": attrs.get("updated_at"),
    }


def campaign_messages(campaign: Resource, included: IncludedIndex) -> list[Any]:
    relation = (campaign.get("relationships") or {}).get("campaign-messages") or {}
    messages = []
    for ref in relation.get("data") or []:
        found = included.get(("campaign-message", ref.get("id", "")))
        messages.append(message_json(found) if found else {"id": ref.get("id")})
    return messages


def campaign_row(resource: Resource, included: IncludedIndex) -> Row:
    attrs = attributes(resource)
    return {
        "id": resource["id"],
        "name": text_or_none(attrs.get("name")),
        "status": text_or_none(attrs.get("status")),
        "archived": bool_or_none(attrs.get("archived")),
        "created_at": parse_timestamp(attrs.get("created_at")),
        "updated_at": parse_timestamp(attrs.get("updated_at")),
        "scheduled_at": parse_timestamp(attrs.get("scheduled_at")),
        "send_time": parse_timestamp(attrs.get("send_time")),
        "audiences": json_or_none(attrs.get("audiences")),
        "send_options": json_or_none(attrs.get("send_options")),
        "tracking_options": json_or_none(attrs.get("tracking_options")),
        "send_strategy": json_or_none(attrs.get("send_strategy")),
        "messages": campaign_messages(resource, included),
    }


def _variants() -> tuple[Variant, ...]:
    return tuple(
        Variant(
            conditions=(
                f"equals(messages.channel,'{channel}')",
                f"equals(archived,{archived})",
            ),
            extra={"channel": channel},
        )
        for channel in CHANNELS
        for archived in ("false", "true")
    )


REPORT = DimensionReport(
    table="campaign",
    endpoint="/api/campaigns",
    scope="campaigns:read",
    key="id",
    cursor_field="updated_at",
    columns=COLUMNS,
    to_row=campaign_row,
    page_size=100,
    params={
        "include": "campaign-messages",
        "fields[campaign]": CAMPAIGN_FIELDS,
        "fields[campaign-message]": MESSAGE_FIELDS,
    },
    variants=_variants(),
    doc="One row per campaign; upserted by id on updated_at.",
)

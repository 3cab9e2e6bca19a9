"""Campaigns and their messages, in every channel and every 2026-07-15 status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from klaviyo_connector.sandbox.gen_common import Draw, iso, ulid_at, with_micros
from klaviyo_connector.sandbox.gen_pools import CAMPAIGN_THEMES, SUBJECTS

Record = dict[str, Any]

STATUSES = (
    "Draft", "Scheduled", "Sending", "Sent", "Variations Sent", "Sending Segments",
    "Adding Recipients", "Preparing to send", "Preparing to schedule",
    "Queued without Recipients", "Cancelled", "Cancelled: Smart Sending",
    "Cancelled: Account Disabled", "Cancelled: No Recipients",
    "Cancelled: Internal Error", "Cancelled: Billing Limit",
    "Cancelled: Misconfigured", "Unknown",
)  # fmt: skip
CHANNELS = ("email", "sms", "mobile_push")
# Statuses whose messages went out: only these have rows in the values report.
SENT_LIKE = frozenset({"Sent", "Variations Sent", "Sending", "Sending Segments"})
IN_FLIGHT = frozenset(
    {"Sending", "Sending Segments", "Adding Recipients", "Preparing to send"}
)
# (status, channel, archived) forced first so every shape exists at any size.
COVERAGE = [(s, CHANNELS[i % 3], False) for i, s in enumerate(STATUSES)] + [
    ("Sent", "email", False), ("Sent", "sms", False), ("Sent", "mobile_push", False),
    ("Sent", "email", True), ("Draft", "sms", False), ("Draft", "email", True),
    ("Sent", "email", False), ("Sent", "email", False),
]  # fmt: skip
WEIGHTED_STATUSES = (
    ("Sent", 70.0), ("Draft", 10.0), ("Scheduled", 5.0), ("Variations Sent", 4.0),
    ("Cancelled", 3.0), ("Cancelled: Smart Sending", 2.0), ("Sending", 1.0),
    ("Cancelled: No Recipients", 1.0), ("Preparing to send", 1.0), ("Unknown", 0.5),
)  # fmt: skip
SECOND = timedelta(seconds=1)
THROTTLES = (1, 2, 5, 10, 11, 13, 14, 17, 20, 25, 33, 50)


@dataclass
class Campaigns:
    records: list[Record] = field(default_factory=list)
    messages: dict[str, list[Record]] = field(default_factory=dict)  # by campaign
    # message ids with deliberately odd statistics (see values.py)
    no_delivery: set[str] = field(default_factory=set)
    no_recipients: set[str] = field(default_factory=set)


def _send_time(draw: Draw, status: str, anchor: datetime) -> datetime | None:
    if status in ("Sent", "Variations Sent"):
        days = draw.weighted(((0.0, 0.3), (14.0, 0.2), (90.0, 0.5)))
        span = {0.0: 14.0, 14.0: 76.0, 90.0: 1000.0}[days]
        moment = anchor - timedelta(days=days + 0.02 + draw.random() * (span - 0.04))
        return moment.replace(second=0, microsecond=0)
    if status in IN_FLIGHT:
        return (anchor - timedelta(minutes=draw.between(1, 50))).replace(microsecond=0)
    if status in ("Scheduled", "Preparing to schedule"):
        return (anchor + timedelta(days=1 + draw.random() * 29)).replace(
            minute=0, second=0, microsecond=0
        )
    if status.startswith("Cancelled") and draw.chance(0.5):
        return (anchor - timedelta(days=draw.between(1, 600))).replace(microsecond=0)
    return None


def _strategy(draw: Draw, status: str, send: datetime | None) -> Record:
    if status == "Variations Sent":
        return {"method": "ab_test_campaign"}
    if send is None:
        return draw.choice(({"method": "immediate"}, {"method": "unsupported"}))
    method = draw.weighted(
        (
            ("static", 0.6),
            ("immediate", 0.15),
            ("throttled", 0.1),
            ("smart_send_time", 0.15),
        )
    )
    if method == "static":
        local = draw.chance(0.2)
        options: Record = {"is_local": local}
        if local:
            options["send_past_recipients_immediately"] = draw.chance(0.5)
        return {"method": "static", "datetime": iso(send), "options": options}
    if method == "throttled":
        return {
            "method": "throttled",
            "datetime": iso(send),
            "throttle_percentage": draw.choice(THROTTLES),
        }
    if method == "smart_send_time":
        return {"method": "smart_send_time", "date": send.date().isoformat()}
    return {"method": "immediate"}


def _tracking(draw: Draw, channel: str) -> Record | None:
    params = []
    if draw.chance(0.3):
        params = [
            {"type": "dynamic", "value": "campaign_name", "name": "utm_campaign"},
            {"type": "static", "value": "klaviyo", "name": "utm_source"},
        ]
    if channel == "email":
        return {
            "add_tracking_params": bool(params),
            "custom_tracking_params": params,
            "is_tracking_clicks": True,
            "is_tracking_opens": draw.chance(0.9),
        }
    if channel == "sms":
        return {"add_tracking_params": bool(params), "custom_tracking_params": params}
    return None


def _definition(draw: Draw, channel: str, label: str) -> Record:
    if channel == "email":
        content = {
            "subject": draw.choice(SUBJECTS),
            "preview_text": draw.choice(("Today only", "", "Inside: a gift 🎁")),
            "from_email": "hello@aurora-outfitters.example.com",
            "from_label": "Aurora Outfitters",
            "reply_to_email": draw.choice((None, "support@aurora.example.com")),
            "cc_email": None,
            "bcc_email": None,
        }
        return {"channel": "email", "label": label, "content": content}
    if channel == "sms":
        media = draw.choice((None, "https://cdn.example.com/mms/sale.png"))
        render = {
            "shorten_links": True,
            "add_org_prefix": True,
            "add_info_link": True,
            "add_opt_out_language": draw.chance(0.5),
        }
        body = f"Aurora: {label}! Shop now {{{{ link }}}} Reply STOP to opt out"
        return {
            "channel": "sms",
            "content": {"body": body, "media_url": media},
            "render_options": render,
        }
    push: Record = {
        "title": label,
        "body": draw.choice(SUBJECTS),
        "dynamic_image": None,
        "action_buttons": [],
    }
    options = {
        "on_open": {"type": "open_app"},
        "badge": {"display": False},
        "play_sound": draw.chance(0.5),
    }
    return {
        "channel": "mobile_push",
        "notification_type": "standard",
        "content": push,
        "kv_pairs": None,
        "options": options,
    }


def message(
    draw: Draw, campaign: Record, channel: str, label: str, created: datetime
) -> Record:
    attributes = campaign["attributes"]
    send = attributes["send_time"]
    local = attributes["send_strategy"].get("options", {}).get("is_local", False)
    relationships: Record = {
        "campaign": {"data": {"type": "campaign", "id": campaign["id"]}}
    }
    if channel == "email":
        template = {"type": "template", "id": draw.short_id()}
        relationships["template"] = {"data": template}
    return {
        "type": "campaign-message",
        "id": ulid_at(created, draw),
        "attributes": {
            "definition": _definition(draw, channel, label),
            "send_times": [{"datetime": send, "is_local": local}] if send else [],
            "created_at": iso(created.replace(microsecond=0)),
            "updated_at": attributes["updated_at"][:19] + "+00:00",
        },
        "relationships": relationships,
    }


def campaign(
    draw: Draw,
    anchor: datetime,
    plan: tuple[str, str, bool],
    audiences: list[str],
    created_at: datetime | None = None,
) -> tuple[Record, list[Record]]:
    status, channel, archived = plan
    send = _send_time(draw, status, anchor)
    first = send if send is not None and send < anchor else anchor
    created = first - timedelta(days=0.05 + draw.random() * 20)
    if send is None:
        created = anchor - timedelta(days=draw.random() * 1000)
    created = created_at or created
    scheduled = None
    if send is not None and status != "Draft":
        scheduled = with_micros(
            min(send, anchor) - timedelta(hours=draw.random()), draw
        )
        scheduled = max(scheduled, created)
    went_out = send if send is not None and send < anchor else created
    touched = max(created, scheduled or created, went_out)
    # strictly before the anchor: base data never postdates the sandbox clock
    updated = min(touched + timedelta(minutes=draw.random() * 90), anchor - SECOND)
    theme = draw.choice(CAMPAIGN_THEMES)
    name = f"{theme} {created.year}" if draw.chance(0.5) else theme
    included = draw.sample(audiences, draw.between(1, 3))
    excluded: list[str] | None = draw.sample(audiences, draw.below(3))
    excluded = (
        None if draw.chance(0.05) else [a for a in excluded or [] if a not in included]
    )
    record: Record = {
        "type": "campaign",
        "id": ulid_at(created, draw),
        "attributes": {
            "name": name,
            "status": status,
            "archived": archived,
            "audiences": {"included": included, "excluded": excluded},
            "send_options": {"use_smart_sending": draw.chance(0.7)},
            "tracking_options": _tracking(draw, channel),
            "send_strategy": _strategy(draw, status, send),
            "created_at": iso(with_micros(created, draw)),
            "scheduled_at": iso(scheduled),
            "updated_at": iso(with_micros(updated, draw)),
            "send_time": iso(send),
        },
        "relationships": {},
    }
    count = 2 if status == "Variations Sent" or draw.chance(0.08) else 1
    labels = [name, f"{name} — variant B"][:count]
    messages = [message(draw, record, channel, label, created) for label in labels]
    record["relationships"] = {
        "campaign-messages": {
            "data": [{"type": "campaign-message", "id": m["id"]} for m in messages]
        },
        "tags": {},
    }
    return record, messages


def make_campaigns(
    draw: Draw, anchor: datetime, count: int, audiences: list[str]
) -> Campaigns:
    out = Campaigns()
    for number in range(count):
        if number < len(COVERAGE):
            plan = COVERAGE[number]
        else:
            status = draw.weighted(WEIGHTED_STATUSES)
            channel = draw.weighted(
                (("email", 0.6), ("sms", 0.25), ("mobile_push", 0.15))
            )
            plan = (status, channel, draw.chance(0.12))
        record, messages = campaign(draw, anchor, plan, audiences)
        out.records.append(record)
        out.messages[record["id"]] = messages
        if number == len(STATUSES) + 6:  # a Sent email that nobody received
            out.no_delivery.add(messages[0]["id"])
        if number == len(STATUSES) + 7:  # a Sent email with an empty audience
            out.no_recipients.add(messages[0]["id"])
    return out

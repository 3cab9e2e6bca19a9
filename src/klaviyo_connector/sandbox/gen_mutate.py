"""Change over time: update a share of every resource, create and archive some.

Every touched record gets `updated`/`updated_at` = the store clock, so the
changes surface in `greater-than(updated, ...)` queries exactly as a real
account's edits do. Identity fields (email, phone, external id) never change,
so lookups by them stay O(1).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from klaviyo_connector.sandbox import gen_catalog as catalog
from klaviyo_connector.sandbox.data import MutationSummary, Record
from klaviyo_connector.sandbox.gen_campaigns import campaign
from klaviyo_connector.sandbox.gen_common import Draw, iso, share_count, ulid_at
from klaviyo_connector.sandbox.gen_pools import COLORS, FIRST_NAMES
from klaviyo_connector.sandbox.gen_profiles import fresh_profile

if TYPE_CHECKING:
    from klaviyo_connector.sandbox.store import Store


def new_id(draw: Draw, moment: datetime) -> str:
    return ulid_at(moment, draw)


def _pick(draw: Draw, total: int, count: int) -> list[int]:
    """`count` distinct positions in range(total), without materialising it."""
    if count * 2 > total:
        return draw.sample(range(total), count)
    chosen: dict[int, None] = {}
    while len(chosen) < count:
        chosen.setdefault(draw.below(total), None)
    return list(chosen)


def mutate(store: Store, share: float, seed: int) -> MutationSummary:
    draw = Draw.of(store.config.seed, "mutate", seed, store.mutations)
    now = store.now
    summary = MutationSummary()
    _profiles(store, draw, share, now, summary)
    for resource in ("list", "segment"):
        _groups(store, draw, resource, share, now, summary)
    _campaigns(store, draw, share, now, summary)
    return summary


def _profile_changes(draw: Draw, record: Record, stamp: str) -> dict[str, Any]:
    attributes = record["attributes"]
    changes: dict[str, Any] = {"updated": stamp, "last_event_date": stamp}
    kind = draw.below(3)
    if kind == 0:
        changes["first_name"] = draw.choice(FIRST_NAMES)[0]
    elif kind == 1:
        properties = dict(attributes.get("properties") or {})
        properties["Favorite Color"] = draw.choice(COLORS)
        properties["Loyalty Points"] = draw.between(0, 5000)
        changes["properties"] = properties
    else:
        subscriptions = {**(attributes.get("subscriptions") or {})}
        consent = draw.choice(("SUBSCRIBED", "UNSUBSCRIBED"))
        subscriptions["email"] = {
            "marketing": {
                "can_receive_email_marketing": consent == "SUBSCRIBED",
                "consent": consent,
                "consent_timestamp": stamp,
                "last_updated": stamp,
                "method": "PREFERENCE_PAGE",
                "method_detail": "",
                "custom_method_detail": None,
                "double_optin": False,
                "suppression": [],
                "list_suppressions": [],
            }
        }
        changes["subscriptions"] = subscriptions
    return changes


def _profiles(
    store: Store, draw: Draw, share: float, now: datetime, summary: MutationSummary
) -> None:
    index = store.profiles
    stamp = iso(now.replace(microsecond=0)) or ""
    base, created = index.gen.count, list(index.created)
    updated = []
    for position in _pick(draw, index.count(), share_count(share, index.count())):
        if position < base:
            profile_id = index.gen.profile_id(position)
        else:
            profile_id = created[position - base]
        record = index.get(profile_id)
        if record is not None:
            index.patch(profile_id, _profile_changes(draw, record, stamp))
            updated.append(profile_id)
    made = []
    lists = list(store.records["list"])
    for _ in range(share_count(share / 2, index.count())):
        record = fresh_profile(
            draw, new_id(draw, now), now.replace(microsecond=0), lists
        )
        index.add(record)
        made.append(record["id"])
    summary.updated["profile"], summary.created["profile"] = updated, made


def _groups(
    store: Store,
    draw: Draw,
    resource: str,
    share: float,
    now: datetime,
    summary: MutationSummary,
) -> None:
    records = store.records[resource]
    stamp = iso(now.replace(microsecond=0))
    chosen = draw.sample(list(records), share_count(share, len(records)))
    for record_id in chosen:
        records[record_id] = copy.deepcopy(records[record_id])
        attributes = records[record_id]["attributes"]
        attributes["updated"] = stamp
        if resource == "list":
            flip = {"double_opt_in": "single_opt_in", "single_opt_in": "double_opt_in"}
            attributes["opt_in_process"] = flip.get(attributes["opt_in_process"])
        else:
            attributes["is_starred"] = not attributes["is_starred"]
            attributes["is_processing"] = draw.chance(0.3)
    ids = catalog.ShortIds(draw)
    ids.reserve(store.known_short_ids())
    made = []
    for number in range(share_count(share / 2, len(records))):
        position = len(records) + number
        if resource == "list":
            record = catalog.make_list(ids, draw, store.anchor, position)
        else:
            refs = (list(store.records["list"]), list(store.records["metric"]))
            record = catalog.make_segment(ids, draw, store.anchor, position, refs)
        record["attributes"]["created"] = record["attributes"]["updated"] = stamp
        records[record["id"]] = record
        store.add_audience(record["id"])
        made.append(record["id"])
    summary.updated[resource], summary.created[resource] = chosen, made


def _touch_campaign(store: Store, campaign_id: str, now: datetime) -> None:
    """Edit a campaign as a user would; records are replaced, never changed."""
    record = store.records["campaign"][campaign_id] = copy.deepcopy(
        store.records["campaign"][campaign_id]
    )
    store.messages[campaign_id] = copy.deepcopy(store.messages.get(campaign_id, []))
    attributes = record["attributes"]
    if attributes["status"] == "Draft" and not attributes["archived"]:
        send = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        attributes["status"] = "Scheduled"
        attributes["scheduled_at"] = iso(now)
        attributes["send_time"] = iso(send)
        attributes["send_strategy"] = {"method": "static", "datetime": iso(send),
                                       "options": {"is_local": False}}  # fmt: skip
        for message in store.messages.get(record["id"], []):
            message["attributes"]["send_times"] = [
                {"datetime": iso(send), "is_local": False}
            ]
    else:
        options = attributes["send_options"]
        options["use_smart_sending"] = not options.get("use_smart_sending")
    attributes["updated_at"] = iso(now)
    for message in store.messages.get(record["id"], []):
        message["attributes"]["updated_at"] = iso(now.replace(microsecond=0))


def _campaigns(
    store: Store, draw: Draw, share: float, now: datetime, summary: MutationSummary
) -> None:
    records = store.records["campaign"]
    chosen = draw.sample(list(records), share_count(share, len(records)))
    for campaign_id in chosen:
        _touch_campaign(store, campaign_id, now)
    live = [
        i
        for i in records
        if not records[i]["attributes"]["archived"] and i not in chosen
    ]
    archived = draw.sample(live, share_count(share / 2, len(records)))
    for campaign_id in archived:
        record = records[campaign_id] = copy.deepcopy(records[campaign_id])
        record["attributes"]["archived"] = True
        record["attributes"]["updated_at"] = iso(now)
    audiences = list(store.records["list"]) + list(store.records["segment"])
    made = []
    for _ in range(share_count(share / 2, len(records))):
        channel = draw.choice(("email", "sms", "mobile_push"))
        plan = ("Draft", channel, False)
        record, messages = campaign(draw, now, plan, audiences, created_at=now)
        record["attributes"]["updated_at"] = iso(now)
        records[record["id"]] = record
        store.messages[record["id"]] = messages
        made.append(record["id"])
    summary.updated["campaign"], summary.created["campaign"] = chosen, made
    summary.archived["campaign"] = archived

"""Lists, segments, metrics and the account: small, generated once per store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from klaviyo_connector.sandbox.gen_common import Draw, ago, iso
from klaviyo_connector.sandbox.gen_pools import LIST_NAMES, SEGMENT_NAMES

Record = dict[str, Any]

SHOPIFY = {
    "object": "integration",
    "key": "shopify",
    "name": "Shopify",
    "category": "eCommerce",
}
KLAVIYO = {
    "object": "integration",
    "key": "klaviyo",
    "name": "Klaviyo",
    "category": "Internal",
}
API = {"object": "integration", "key": "api", "name": "API", "category": "API"}
LOYALTY_APP = {
    "object": "application",
    "key": "loyalty-rewards",
    "name": "Loyalty Rewards",
    "category": {"id": 15, "category": "Advertising"},
}
# (name, integration, supports values reporting): two "Placed Order" metrics,
# as accounts with a store integration plus API-sent orders really have.
METRICS: tuple[tuple[str, dict[str, Any] | None, bool], ...] = (
    ("Placed Order", SHOPIFY, True),
    ("Opened Email", KLAVIYO, False),
    ("Clicked Email", KLAVIYO, False),
    ("Received Email", KLAVIYO, False),
    ("Bounced Email", KLAVIYO, False),
    ("Marked Email as Spam", KLAVIYO, False),
    ("Unsubscribed from Email Marketing", KLAVIYO, False),
    ("Received SMS", KLAVIYO, False),
    ("Clicked SMS", KLAVIYO, False),
    ("Received Push", KLAVIYO, False),
    ("Opened Push", KLAVIYO, False),
    ("Ordered Product", SHOPIFY, True),
    ("Started Checkout", SHOPIFY, True),
    ("Fulfilled Order", SHOPIFY, True),
    ("Refunded Order", SHOPIFY, True),
    ("Viewed Product", SHOPIFY, False),
    ("Active on Site", API, False),
    ("Placed Order", API, True),
    ("Subscription Renewed", LOYALTY_APP, True),
    ("Viewed Lookbook", None, False),
)


class ShortIds:
    """Unique six-character ids drawn from one stream."""

    def __init__(self, draw: Draw) -> None:
        self._draw = draw
        self._seen: set[str] = set()

    def reserve(self, taken: set[str]) -> None:
        self._seen.update(taken)

    def next(self) -> str:
        while True:
            candidate = self._draw.short_id()
            if candidate not in self._seen:
                self._seen.add(candidate)
                return candidate


def _dates(draw: Draw, anchor: datetime, recent: float) -> tuple[str, str]:
    created = ago(anchor, draw.between(30, 5 * 365) + draw.random())
    age = (anchor - created).total_seconds() / 86_400
    if draw.chance(recent):
        updated = ago(anchor, draw.random() * min(13.5, age))
    else:
        updated = ago(anchor, draw.random() * age)
    return iso(created) or "", iso(max(created, updated)) or ""


def make_list(ids: ShortIds, draw: Draw, anchor: datetime, number: int) -> Record:
    name = LIST_NAMES[number % len(LIST_NAMES)]
    if number >= len(LIST_NAMES):
        name = f"{name} {number // len(LIST_NAMES) + 1}"
    created, updated = _dates(draw, anchor, 0.2)
    opt_in = draw.weighted((("double_opt_in", 0.4), ("single_opt_in", 0.6)))
    attributes = {
        "name": name,
        "created": created,
        "updated": updated,
        "opt_in_process": opt_in,
    }
    return {
        "type": "list",
        "id": ids.next(),
        "attributes": attributes,
        "relationships": {"profiles": {}, "tags": {}, "flow-triggers": {}},
    }


def _condition(draw: Draw, groups: list[str], metrics: list[str]) -> Record:
    # Numeric filter values are floats: the spec types them oneOf(integer,
    # number), which a JSON integer matches twice and so fails to validate.
    kind = draw.below(6)
    if kind == 0 and metrics:
        return {
            "type": "profile-metric",
            "metric_id": draw.choice(metrics),
            "measurement": draw.choice(("count", "sum")),
            "measurement_filter": {
                "type": "numeric",
                "operator": "greater-than",
                "value": float(draw.between(0, 3)),
            },
            "timeframe_filter": draw.choice(
                (
                    {"type": "date", "operator": "alltime"},
                    {
                        "type": "date",
                        "operator": "in-the-last",
                        "unit": "day",
                        "quantity": 30,
                    },
                )
            ),
            "metric_filters": None,
        }
    if kind == 1 and groups:
        member = draw.chance(0.7)
        condition: Record = {
            "type": "profile-group-membership",
            "is_member": member,
            "group_ids": draw.sample(groups, draw.between(1, 3)),
        }
        if member:
            condition["timeframe_filter"] = None
        return condition
    if kind == 2:
        return {
            "type": "profile-property",
            "property": "properties['Favorite Color']",
            "filter": {"type": "string", "operator": "equals", "value": "red"},
        }
    if kind == 3:
        return {
            "type": "profile-region",
            "in_region": draw.chance(0.8),
            "region": draw.choice(("european_union", "united_states")),
        }
    if kind == 4:
        return {
            "type": "profile-postal-code-distance",
            "country_code": "US",
            "postal_code": "02110",
            "unit": "miles",
            "filter": {"type": "numeric", "operator": "less-than", "value": 25.0},
        }
    return {
        "type": "profile-marketing-consent",
        "consent": {
            "channel": "email",
            "can_receive_marketing": True,
            "consent_status": {"subscription": "any", "filters": None},
        },
    }


def segment_definition(
    draw: Draw, groups: list[str], metrics: list[str], size: int | None = None
) -> Record | None:
    if size is None:
        size = draw.weighted(((0, 0.15), (1, 0.45), (3, 0.3), (12, 0.1)))
    if size == 0:
        return None
    return {
        "condition_groups": [
            {
                "conditions": [
                    _condition(draw, groups, metrics) for _ in range(draw.between(1, 3))
                ]
            }
            for _ in range(size)
        ]
    }


def make_segment(
    ids: ShortIds,
    draw: Draw,
    anchor: datetime,
    number: int,
    refs: tuple[list[str], list[str]],
) -> Record:
    name = SEGMENT_NAMES[number % len(SEGMENT_NAMES)]
    if number >= len(SEGMENT_NAMES):
        name = f"{name} ({number // len(SEGMENT_NAMES) + 1})"
    created, updated = _dates(draw, anchor, 0.25)
    attributes = {
        "name": name,
        "definition": segment_definition(draw, *refs, {0: 0, 4: 12}.get(number)),
        "created": created,
        "updated": updated,
        # the first few segments pin the rare shapes so every size has them
        "is_active": number != 2 and draw.chance(0.9),
        "is_processing": number == 1 or draw.chance(0.1),
        "is_starred": number == 3 or draw.chance(0.2),
    }
    return {
        "type": "segment",
        "id": ids.next(),
        "attributes": attributes,
        "relationships": {"profiles": {}, "tags": {}, "flow-triggers": {}},
    }


def make_metrics(
    ids: ShortIds, draw: Draw, anchor: datetime, no_placed_order: bool
) -> tuple[list[Record], set[str]]:
    integration_ids: dict[str, str] = {}
    records, with_values = [], set()
    for name, integration, values in METRICS:
        if no_placed_order and name == "Placed Order":
            continue
        created = ago(anchor, draw.between(400, 2000))
        if integration is not None:
            key = str(integration["key"])
            integration_ids.setdefault(key, ids.next())
            integration = {
                "object": integration["object"],
                "id": integration_ids[key],
                **{k: v for k, v in integration.items() if k != "object"},
            }
        metric_id = ids.next()
        attributes = {
            "name": name,
            "created": iso(created),
            "updated": iso(ago(anchor, draw.between(1, 399))),
            "integration": integration,
        }
        records.append(
            {
                "type": "metric",
                "id": metric_id,
                "attributes": attributes,
                "relationships": {"flow-triggers": {}},
            }
        )
        if values:
            with_values.add(metric_id)
    return records, with_values


def make_account(ids: ShortIds, draw: Draw) -> Record:
    account_id = ids.next()
    attributes = {
        "test_account": False,
        "contact_information": {
            "default_sender_name": "Aurora Outfitters",
            "default_sender_email": "hello@aurora-outfitters.example.com",
            "website_url": "https://aurora-outfitters.example.com",
            "organization_name": "Aurora Outfitters Ltd.",
            "street_address": {
                "address1": "1 Main St",
                "address2": None,
                "city": "Boston",
                "region": "MA",
                "country": "US",
                "zip": "02110",
            },
        },
        "industry": draw.choice(("Apparel & Accessories", "Retail", "Beauty")),
        "timezone": "America/New_York",
        "preferred_currency": "USD",
        "public_api_key": account_id,
        "locale": "en-US",
    }
    return {
        "type": "account",
        "id": account_id,
        "attributes": attributes,
        "relationships": {},
    }

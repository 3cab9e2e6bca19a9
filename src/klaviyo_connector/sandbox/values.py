"""Campaign values report: deterministic statistics per campaign message.

Each sent message has final numbers drawn from (seed, message id) and, for the
conversion part, (seed, message id, conversion metric id). What a report shows
is those numbers scaled by how long ago the message went out: deliveries land
within hours, opens and clicks approach their final value over about five
days, conversions a little slower. So re-reading a recent campaign later shows
bigger numbers, as it does on Klaviyo.

Choices where Klaviyo's behaviour is not documented (kept in one place):
- a rate whose denominator is 0 is 0.0 (never NaN), or null with
  SandboxConfig(zero_denominator_rates="null");
- rates are exact ratios of the counts in the same row, not rounded;
- SMS has no opens (opens, opens_unique, open_rate = 0.0; click_to_open_rate
  has a zero denominator) and no bounces (undelivered messages count as
  `failed`);
- push has opens but no clicks, bounces, spam complaints, unsubscribes or
  text-message costs;
- email has no `failed` and no text-message costs (0.0);
- those statistics a channel does not have (NOT_APPLICABLE) are 0.0, or null
  with SandboxConfig(channel_gaps="null");
- text_message_roi = conversion_value / text_message_spend;
- only statuses Sent, Variations Sent, Sending and Sending Segments with a
  send time inside [start, end) and not after `now` produce rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from klaviyo_connector.sandbox.data import Condition, condition_matches
from klaviyo_connector.sandbox.gen_campaigns import SENT_LIKE
from klaviyo_connector.sandbox.gen_common import Draw, parse_time

if TYPE_CHECKING:
    from klaviyo_connector.sandbox.store import Store

SEND_CHANNELS = {"email": "email", "sms": "sms", "mobile_push": "push-notification"}
COUNTS = (
    "recipients", "delivered", "bounced", "failed", "bounced_or_failed", "opens",
    "opens_unique", "clicks", "clicks_unique", "unsubscribes", "unsubscribe_uniques",
    "spam_complaints", "conversions", "conversion_uniques", "conversion_value",
    "message_segment_count_sum", "text_message_credit_usage_amount",
    "text_message_spend",
)  # fmt: skip
# rate -> (numerator, denominator)
RATES = {
    "delivery_rate": ("delivered", "recipients"),
    "open_rate": ("opens_unique", "delivered"),
    "click_rate": ("clicks_unique", "delivered"),
    "click_to_open_rate": ("clicks_unique", "opens_unique"),
    "bounce_rate": ("bounced", "recipients"),
    "failed_rate": ("failed", "recipients"),
    "bounced_or_failed_rate": ("bounced_or_failed", "recipients"),
    "unsubscribe_rate": ("unsubscribe_uniques", "delivered"),
    "spam_complaint_rate": ("spam_complaints", "delivered"),
    "conversion_rate": ("conversion_uniques", "delivered"),
    "revenue_per_recipient": ("conversion_value", "delivered"),
    "average_order_value": ("conversion_value", "conversions"),
    "text_message_roi": ("conversion_value", "text_message_spend"),
}
STATISTICS = tuple(sorted((*COUNTS, *RATES)))
_TEXT_ONLY = ("message_segment_count_sum", "text_message_credit_usage_amount",
              "text_message_spend", "text_message_roi")  # fmt: skip
_NO_BOUNCES = ("bounced", "bounce_rate")  # undelivered texts and pushes `failed`
_NO_SPAM = ("spam_complaints", "spam_complaint_rate")
# What the generator never produces for a send channel.
NOT_APPLICABLE: dict[str, frozenset[str]] = {
    "email": frozenset(("failed", "failed_rate", *_TEXT_ONLY)),
    "sms": frozenset(("opens", "opens_unique", "open_rate", "click_to_open_rate",
                      *_NO_BOUNCES, *_NO_SPAM)),
    "push-notification": frozenset(("clicks", "clicks_unique", "click_rate",
                                    "click_to_open_rate", "unsubscribes",
                                    "unsubscribe_uniques", "unsubscribe_rate",
                                    *_NO_BOUNCES, *_NO_SPAM, *_TEXT_ONLY)),
}  # fmt: skip
GROUPINGS = (
    "campaign_id", "campaign_message_id", "campaign_message_name", "group",
    "group_name", "send_channel", "tag_id", "tag_name", "text_message_format",
    "variation", "variation_name",
)  # fmt: skip
SMS_CREDIT_PRICE = 0.0083
DAY = 86_400.0
SETTLED = 30 * DAY


def maturity(seconds: float, days: float) -> float:
    """Share of the final count visible `seconds` after the send.

    Exactly 1.0 after SETTLED, so old campaigns never change again.
    """
    if seconds >= SETTLED:
        return 1.0
    return 1.0 - math.exp(-max(seconds, 0.0) / (days * DAY))


def _part(value: float, share: float) -> float:
    # Rounding is monotonic, so scaling two counts by the same (or a smaller)
    # share never breaks an order between them such as unique <= total.
    return float(math.floor(value * share + 0.5))


def _audience(store: Store, campaign: dict[str, Any], channel: str, parts: int) -> int:
    # Sized from the base profiles only: profiles created later never change
    # what an old send reached.
    base = store.profiles.gen.count
    counts = sum(
        store.audience_size(a, base)
        for a in campaign["attributes"]["audiences"]["included"]
    )
    reach = {"email": 0.85, "sms": 0.45, "mobile_push": 0.3}[channel]
    return int(min(counts, base) * reach) // parts


def final_counts(
    draw: Draw, channel: str, recipients: int, no_delivery: bool
) -> dict[str, float]:
    """Final engagement numbers for one message; every invariant holds here."""
    c = dict.fromkeys(COUNTS, 0.0)
    c["recipients"] = recipients
    lost = recipients if no_delivery else int(recipients * draw.random() * 0.04)
    c["bounced" if channel == "email" else "failed"] = lost
    c["bounced_or_failed"] = lost
    delivered = c["delivered"] = recipients - lost
    if channel != "sms":
        low, high = (0.15, 0.55) if channel == "email" else (0.02, 0.12)
        c["opens_unique"] = int(delivered * (low + draw.random() * (high - low)))
        c["opens"] = c["opens_unique"] + int(c["opens_unique"] * draw.random() * 0.8)
    if channel != "mobile_push":
        base = c["opens_unique"] if channel == "email" else delivered
        c["clicks_unique"] = int(base * (0.02 + draw.random() * 0.18))
        c["clicks"] = c["clicks_unique"] + int(c["clicks_unique"] * draw.random() * 0.6)
        c["unsubscribe_uniques"] = int(delivered * draw.random() * 0.006)
        c["unsubscribes"] = c["unsubscribe_uniques"] + draw.below(2) * min(
            1, c["unsubscribe_uniques"]
        )
    if channel == "email":
        c["spam_complaints"] = int(delivered * draw.random() * 0.0008)
    if channel == "sms":
        segments = draw.between(1, 3)
        c["message_segment_count_sum"] = delivered * segments
        c["text_message_credit_usage_amount"] = delivered * segments
        c["text_message_spend"] = round(delivered * segments * SMS_CREDIT_PRICE, 2)
    return c


def _conversions(draw: Draw, counts: dict[str, float], metric_name: str) -> None:
    engaged = max(counts["clicks_unique"], counts["opens_unique"] * 0.1)
    uniques = int(engaged * (0.02 + draw.random() * 0.25))
    counts["conversion_uniques"] = uniques
    counts["conversions"] = uniques + int(uniques * draw.random() * 0.3)
    order_value = 20 + draw.random() * 130
    if metric_name != "Placed Order":
        order_value *= 0.4
    counts["conversion_value"] = round(counts["conversions"] * order_value, 2)


def _scaled(final: dict[str, float], age: float) -> dict[str, float]:
    fast, engage, convert = maturity(age, 0.02), maturity(age, 1.1), maturity(age, 1.6)
    scale = {"recipients": 1.0, "delivered": fast, "bounced": fast, "failed": fast,
             "bounced_or_failed": fast, "conversions": convert,
             "conversion_uniques": convert}  # fmt: skip
    out = {}
    for name, value in final.items():
        factor = scale.get(name, engage)
        out[name] = _part(value, factor)
    for name in ("message_segment_count_sum", "text_message_credit_usage_amount"):
        segments = final[name] / final["delivered"] if final["delivered"] else 0.0
        out[name] = _part(out["delivered"], segments)
    spend = out["text_message_credit_usage_amount"] * SMS_CREDIT_PRICE
    out["text_message_spend"] = round(spend, 2)
    per_order = (
        final["conversion_value"] / final["conversions"]
        if final["conversions"]
        else 0.0
    )
    out["conversion_value"] = round(out["conversions"] * per_order, 2)
    return out


def with_rates(
    counts: dict[str, float], empty: float | None = 0.0
) -> dict[str, float | None]:
    """Counts plus every rate; a rate over a zero count is `empty`."""
    stats: dict[str, float | None] = {n: float(v) for n, v in counts.items()}
    for rate, (top, bottom) in RATES.items():
        stats[rate] = counts[top] / counts[bottom] if counts[bottom] else empty
    return {name: stats[name] for name in STATISTICS}


def message_counts(
    store: Store,
    campaign: dict[str, Any],
    message: dict[str, Any],
    metric: str,
    now: datetime,
) -> dict[str, float]:
    """Counts of one sent message for one conversion metric, as of `now`."""
    seed, message_id = store.config.seed, message["id"]
    channel = message["attributes"]["definition"]["channel"]
    parts = len(store.messages.get(campaign["id"], [])) or 1
    recipients = _audience(store, campaign, channel, parts)
    if message_id in store.special["no_recipients"]:
        recipients = 0
    draw = Draw.of(seed, "engagement", message_id)
    final = final_counts(
        draw, channel, recipients, message_id in store.special["no_delivery"]
    )
    metric_name = store.records["metric"][metric]["attributes"]["name"]
    _conversions(Draw.of(seed, "conversions", message_id, metric), final, metric_name)
    sent = parse_time(campaign["attributes"]["send_time"])
    return _scaled(final, (now - sent).total_seconds())


def groupings(campaign: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    definition = message["attributes"]["definition"]
    channel = definition["channel"]
    label = definition.get("label") or campaign["attributes"]["name"]
    media = (definition.get("content") or {}).get("media_url")
    return {
        "campaign_id": campaign["id"],
        "campaign_message_id": message["id"],
        "campaign_message_name": label,
        "group": None,
        "group_name": None,
        "send_channel": SEND_CHANNELS[channel],
        "tag_id": None,
        "tag_name": None,
        "text_message_format": ("MMS" if media else "SMS")
        if channel == "sms"
        else None,
        "variation": message["id"],
        "variation_name": label,
    }


def sent_in(
    campaign: dict[str, Any], start: datetime, end: datetime, now: datetime
) -> bool:
    attributes = campaign["attributes"]
    if attributes["status"] not in SENT_LIKE or attributes["send_time"] is None:
        return False
    sent = parse_time(attributes["send_time"])
    return start <= sent < end and sent <= now


def report(
    store: Store,
    metric: str,
    window: tuple[datetime, datetime],
    group_by: Sequence[str],
    filters: Sequence[Condition],
    now: datetime,
) -> list[dict[str, Any]]:
    """Rows of the campaign values report, aggregated by `group_by`."""
    if metric not in store.values_metrics:
        raise ValueError("conversion metric does not support values reporting")
    keys = list(group_by) or ["campaign_id", "campaign_message_id", "send_channel"]
    totals: dict[tuple[Any, ...], dict[str, float]] = {}
    labels: dict[tuple[Any, ...], dict[str, Any]] = {}
    # group_by always holds campaign_message_id: a row is one message's channel
    channels: dict[tuple[Any, ...], str] = {}
    for campaign in store.records["campaign"].values():
        if not sent_in(campaign, *window, now):
            continue
        for message in store.messages.get(campaign["id"], []):
            found = groupings(campaign, message)
            if not all(condition_matches(found.get(c.field), c) for c in filters):
                continue
            key = tuple(found[k] for k in keys)
            counts = message_counts(store, campaign, message, metric, now)
            if key in totals:
                totals[key] = {n: totals[key][n] + counts[n] for n in COUNTS}
            else:
                totals[key], labels[key] = counts, {k: found[k] for k in keys}
                channels[key] = found["send_channel"]
    return [
        {
            "groupings": labels[key],
            "statistics": _statistics(store, totals[key], channels[key]),
        }
        for key in totals
    ]


def _statistics(
    store: Store, counts: dict[str, float], channel: str
) -> dict[str, float | None]:
    config = store.config
    stats = with_rates(counts, None if config.zero_denominator_rates == "null" else 0.0)
    if config.channel_gaps == "null":
        stats.update(dict.fromkeys(NOT_APPLICABLE[channel]))
    return stats

"""The attributes of one generated profile: location, properties, subscriptions.

Deliberately awkward, as real accounts are: missing contact fields, no location
at all, coordinates as strings or numbers, custom property keys that differ
only by case or spacing, every consent channel and state, empty subscriptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from klaviyo_connector.sandbox.gen_common import Draw, from_epoch, iso
from klaviyo_connector.sandbox.gen_pools import (
    COLORS,
    LOCALES,
    ORGANIZATIONS,
    SOURCES,
    STREETS,
    TITLES,
)

CONSENTS = (("SUBSCRIBED", 0.45), ("UNSUBSCRIBED", 0.2), ("NEVER_SUBSCRIBED", 0.35))
EMAIL_METHODS = ("PREFERENCE_PAGE", "API", "SHOPIFY_INTEGRATION", "FORM", "IMPORT")
SUPPRESSIONS = (
    "HARD_BOUNCE",
    "INVALID_EMAIL",
    "SPAM_COMPLAINT",
    "UNSUBSCRIBE",
    "USER_SUPPRESSED",
)
COLOR_KEYS = ("Favorite Color", "favorite color", "Favorite  Color", "FAVORITE COLOR")
Place = tuple[str, str, str, str, float, float, str, str]


def _stamp(draw: Draw, low: int, high: int) -> str | None:
    return iso(from_epoch(draw.between(low, max(low, high))))


def _stamps(draw: Draw, low: int, high: int) -> tuple[str | None, str | None]:
    """(consent given, last changed): the change never precedes the consent."""
    first = draw.between(low, max(low, high))
    return iso(from_epoch(first)), iso(
        from_epoch(draw.between(first, max(first, high)))
    )


def _maybe(draw: Draw, p: float, value: Any) -> Any:
    return value if draw.chance(p) else None


def profile_attributes(
    draw: Draw,
    *,
    identity: tuple[str | None, str | None, str | None],
    names: tuple[tuple[str, str], tuple[str, str]],
    place: Place,
    created: int,
    updated: int,
    lists: Sequence[str],
) -> dict[str, Any]:
    email, phone, external_id = identity
    span = (created, updated)
    return {
        "email": email,
        "phone_number": phone,
        "external_id": external_id,
        "first_name": _maybe(draw, 0.9, names[0][0]),
        "last_name": _maybe(draw, 0.85, names[1][0]),
        "organization": _maybe(draw, 0.15, draw.choice(ORGANIZATIONS)),
        "locale": _maybe(draw, 0.6, draw.choice(LOCALES)),
        "title": _maybe(draw, 0.1, draw.choice(TITLES)),
        "image": _maybe(draw, 0.05, f"https://images.example.com/p/{draw.bits()}.jpg"),
        "created": iso(from_epoch(created)),
        "updated": iso(from_epoch(updated)),
        "last_event_date": _maybe(draw, 0.8, _stamp(draw, *span)),
        "location": location(draw, place),
        "properties": properties(draw),
        "subscriptions": subscriptions(draw, email, phone, span, lists),
        "predictive_analytics": predictive(draw, updated),
    }


def _coordinate(draw: Draw, value: float) -> str | float | None:
    kind = draw.below(10)
    if kind < 7:
        return f"{value:.4f}"  # Klaviyo mostly sends coordinates as strings
    return value if kind < 9 else None


def location(draw: Draw, place: Place) -> dict[str, Any] | None:
    kind = draw.below(100)
    if kind < 8:
        return None
    keys = ("address1", "address2", "city", "country", "region", "zip", "timezone")
    if kind < 15:
        return dict.fromkeys((*keys, "ip", "latitude", "longitude"))
    city, region, country, zone, lat, lon, code, _ = place
    return {
        "address1": _maybe(draw, 0.5, f"{draw.between(1, 999)} {draw.choice(STREETS)}"),
        "address2": _maybe(draw, 0.1, f"Apt {draw.between(1, 40)}"),
        "city": city,
        "country": country,
        "region": region,
        "zip": _maybe(draw, 0.8, code),
        "timezone": zone,
        "ip": _maybe(draw, 0.7, f"203.0.113.{draw.between(1, 254)}"),
        "latitude": _coordinate(draw, lat),
        "longitude": _coordinate(draw, lon),
    }


def properties(draw: Draw) -> dict[str, Any]:
    if draw.chance(0.1):
        return {}
    props: dict[str, Any] = {}
    if draw.chance(0.6):
        props["$consent"] = draw.sample(("email", "sms", "web"), draw.between(1, 3))
    if draw.chance(0.5):
        props["$source"] = draw.choice(SOURCES)
    if draw.chance(0.5):
        props["Accepts Marketing"] = draw.chance(0.7)
    for key in draw.sample(COLOR_KEYS, draw.weighted(((0, 5), (1, 4), (2, 1)))):
        props[key] = draw.choice(COLORS)
    if draw.chance(0.3):
        props["Shoe Size"] = draw.choice((9.5, "9.5", 42, "M"))
    if draw.chance(0.3):
        props["Loyalty"] = {"tier": draw.choice(("Gold", "Silver")), "points": 1200}
    if draw.chance(0.2):
        props["Tags"] = draw.sample(("vip", "wholesale", "beta", "🎁 gifter"), 2)
    if draw.chance(0.1):
        props["Größe"] = draw.choice(("S", "M", "L"))
    if draw.chance(0.05):
        props["Notes 📝"] = None
    return props


def _email_channel(
    draw: Draw, span: tuple[int, int], lists: Sequence[str]
) -> dict[str, Any]:
    consent = draw.weighted(CONSENTS)
    suppression = []
    if draw.chance(0.08):
        suppression.append(
            {"reason": draw.choice(SUPPRESSIONS), "timestamp": _stamp(draw, *span)}
        )
    list_suppressions = []
    if lists and draw.chance(0.05):
        list_suppressions.append(
            {
                "list_id": draw.choice(lists),
                "reason": "USER_SUPPRESSED",
                "timestamp": _stamp(draw, *span),
            }
        )
    never = consent == "NEVER_SUBSCRIBED"
    given, changed = (None, None) if never else _stamps(draw, *span)
    marketing = {
        "can_receive_email_marketing": consent == "SUBSCRIBED" and not suppression,
        "consent": consent,
        "consent_timestamp": given,
        "last_updated": changed,
        "method": None if never else draw.choice(EMAIL_METHODS),
        "method_detail": "" if never else draw.choice(("", "footer", "popup")),
        "custom_method_detail": _maybe(draw, 0.1, "Imported from Mailchimp"),
        "double_optin": None if never else draw.chance(0.4),
        "suppression": suppression,
        "list_suppressions": list_suppressions,
    }
    channel: dict[str, Any] = {"marketing": marketing}
    if draw.chance(0.3):
        channel["open_tracking"] = _consent_object(draw, span)
    return channel


def _consent_object(draw: Draw, span: tuple[int, int]) -> dict[str, Any]:
    consent = draw.weighted(CONSENTS)
    given, changed = _stamps(draw, *span)
    return {
        "consent": consent,
        "can_receive": consent == "SUBSCRIBED",
        "consent_timestamp": given,
        "last_updated": changed,
        "created_timestamp": given,
        "metadata": None,
        "valid_until": None,
    }


def _sms_part(draw: Draw, span: tuple[int, int], kind: str) -> dict[str, Any]:
    consent = draw.weighted(CONSENTS)
    never = consent == "NEVER_SUBSCRIBED"
    given, changed = (None, None) if never else _stamps(draw, *span)
    return {
        f"can_receive_sms_{kind}": consent == "SUBSCRIBED",
        "consent": consent,
        "consent_timestamp": given,
        "method": None if never else draw.choice(("TEXT", "FORM", "CHECKOUT")),
        "method_detail": "" if never else draw.choice(("", "JOIN")),
        "last_updated": changed,
    }


def subscriptions(
    draw: Draw,
    email: str | None,
    phone: str | None,
    span: tuple[int, int],
    lists: Sequence[str],
) -> dict[str, Any]:
    if draw.chance(0.06):
        return {}
    subs: dict[str, Any] = {}
    if email is not None or draw.chance(0.2):
        subs["email"] = _email_channel(draw, span, lists)
    if phone is not None or draw.chance(0.3):
        subs["sms"] = {
            "marketing": _sms_part(draw, span, "marketing"),
            "transactional": _sms_part(draw, span, "transactional"),
        }
    if draw.chance(0.7):
        consent = draw.weighted(CONSENTS)
        subs["mobile_push"] = {
            "marketing": {
                "can_receive_push_marketing": consent == "SUBSCRIBED",
                "consent": consent,
                "consent_timestamp": _stamp(draw, *span),
            }
        }
    if phone is not None and draw.chance(0.15):
        subs["whatsapp"] = {
            kind: {**_consent_object(draw, span), "phone_number": phone}
            for kind in ("marketing", "transactional", "conversational")
        }
    _unreachable(subs, email, phone)
    return subs


def _unreachable(subs: dict[str, Any], email: str | None, phone: str | None) -> None:
    """A consent kept from an address the profile no longer has (the channel
    object stays, with its history) cannot be used to send."""
    if email is None and "email" in subs:
        subs["email"]["marketing"]["can_receive_email_marketing"] = False
    if phone is None and "sms" in subs:
        for kind, part in subs["sms"].items():
            part[f"can_receive_sms_{kind}"] = False


def predictive(draw: Draw, updated: int) -> dict[str, Any]:
    if draw.chance(0.4):
        return dict.fromkeys(
            (
                "historic_clv",
                "predicted_clv",
                "total_clv",
                "historic_number_of_orders",
                "predicted_number_of_orders",
                "average_days_between_orders",
                "average_order_value",
                "churn_probability",
                "expected_date_of_next_order",
                "ranked_channel_affinity",
            )
        )
    historic = round(draw.random() * 900, 2)
    predicted = round(draw.random() * 300, 2)
    orders = float(draw.between(1, 12))
    return {
        "historic_clv": historic,
        "predicted_clv": predicted,
        "total_clv": round(historic + predicted, 2),
        "historic_number_of_orders": orders,
        "predicted_number_of_orders": round(draw.random() * 3, 2),
        "average_days_between_orders": None if orders == 1 else draw.between(7, 300),
        "average_order_value": round(historic / orders, 2),
        "churn_probability": round(draw.random(), 2),
        "expected_date_of_next_order": iso(from_epoch(updated + 86_400 * 30)),
        "ranked_channel_affinity": draw.sample(("email", "sms", "push", "whatsapp"), 2),
    }

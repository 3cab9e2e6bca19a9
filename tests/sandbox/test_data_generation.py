"""The generated account: deterministic, Klaviyo-shaped and awkward on purpose."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from klaviyo_connector.sandbox.config import SandboxConfig
from klaviyo_connector.sandbox.gen_campaigns import STATUSES
from klaviyo_connector.sandbox.gen_common import parse_time
from klaviyo_connector.sandbox.store import Condition, Store

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
SHORT = re.compile(r"^[A-Za-z0-9]{6}$")
RESOURCES = ("campaign", "campaign-message", "list", "segment", "metric", "profile")


def make(**overrides: Any) -> Store:
    options: dict[str, Any] = {"seed": 42, "profiles": 600, "now": NOW}
    return Store(SandboxConfig(**{**options, **overrides}))


def dump(store: Store) -> str:
    everything = {r: list(store.ground_truth(r)) for r in RESOURCES}
    everything["account"] = [store.account()]
    return json.dumps(everything, sort_keys=True, ensure_ascii=False)


@pytest.fixture(scope="module")
def store() -> Store:
    return make()


def test_same_seed_and_now_give_byte_identical_records() -> None:
    assert dump(make()) == dump(make())


def test_another_seed_or_anchor_gives_other_records() -> None:
    base = dump(make())
    assert dump(make(seed=7)) != base
    assert dump(make(now=NOW + timedelta(days=1))) != base


def test_ids_have_klaviyo_shapes(store: Store) -> None:
    for resource in ("campaign", "campaign-message", "profile"):
        assert all(ULID.match(r["id"]) for r in store.ground_truth(resource))
    for resource in ("list", "segment", "metric"):
        assert all(SHORT.match(r["id"]) for r in store.ground_truth(resource))
    account = store.account()
    assert SHORT.match(account["id"])
    assert account["attributes"]["public_api_key"] == account["id"]


def test_default_sizes_let_lists_and_segments_paginate_at_ten(store: Store) -> None:
    assert len(list(store.ground_truth("list"))) >= 12
    assert len(list(store.ground_truth("segment"))) >= 12
    assert len(list(store.ground_truth("campaign"))) == 40


def test_datetimes_carry_an_explicit_utc_offset(store: Store) -> None:
    text = dump(store)
    stamps = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]+)"', text)
    assert stamps
    assert all(s.endswith("+00:00") for s in stamps)
    assert any("." in s for s in stamps)  # campaigns sometimes have microseconds


def test_campaigns_cover_every_status_channel_and_archive_state(store: Store) -> None:
    campaigns = list(store.ground_truth("campaign"))
    statuses = {c["attributes"]["status"] for c in campaigns}
    assert statuses == set(STATUSES)
    pairs = {(store.campaign_channel(c), c["attributes"]["status"]) for c in campaigns}
    for channel in ("email", "sms", "mobile_push"):
        assert (channel, "Sent") in pairs
    assert (True, "Sent") in {
        (c["attributes"]["archived"], c["attributes"]["status"]) for c in campaigns
    }
    drafts = [c for c in campaigns if c["attributes"]["status"] == "Draft"]
    assert all(c["attributes"]["send_time"] is None for c in drafts)


def test_sent_campaigns_spread_inside_and_outside_a_lookback(store: Store) -> None:
    sent = [
        parse_time(c["attributes"]["send_time"])
        for c in store.ground_truth("campaign")
        if c["attributes"]["status"] == "Sent"
    ]
    assert any(NOW - t < timedelta(days=14) for t in sent)
    assert any(NOW - t > timedelta(days=180) for t in sent)


def test_campaign_messages_match_their_campaign(store: Store) -> None:
    audiences = {r["id"] for r in store.ground_truth("list")}
    audiences |= {r["id"] for r in store.ground_truth("segment")}
    counts = Counter()
    for campaign in store.ground_truth("campaign"):
        messages = store.campaign_messages(campaign["id"])
        counts[len(messages)] += 1
        listed = campaign["relationships"]["campaign-messages"]["data"]
        assert [m["id"] for m in messages] == [r["id"] for r in listed]
        channel = store.campaign_channel(campaign)
        for message in messages:
            assert message["attributes"]["definition"]["channel"] == channel
            related = message["relationships"]["campaign"]["data"]["id"]
            assert related == campaign["id"]
            assert store.get("campaign-message", message["id"]) == message
        assert set(campaign["attributes"]["audiences"]["included"]) <= audiences
    assert set(counts) == {1, 2}


def test_profiles_are_awkward_on_purpose(store: Store) -> None:
    profiles = [p["attributes"] for p in store.ground_truth("profile")]
    assert any(p["email"] is None for p in profiles)
    assert any(p["phone_number"] is None for p in profiles)
    assert any(p["location"] is None for p in profiles)
    latitudes = [(p["location"] or {}).get("latitude") for p in profiles]
    assert {type(v) for v in latitudes} >= {str, float, type(None)}
    keys = {k for p in profiles for k in p["properties"]}
    assert {"Favorite Color", "favorite color", "Favorite  Color", "$consent"} <= keys
    assert any(p["subscriptions"] == {} for p in profiles)
    names = " ".join(str(p["first_name"]) + str(p["last_name"]) for p in profiles)
    assert "🌸" in names
    assert "é" in names


def test_profiles_have_every_channel_and_consent_state(store: Store) -> None:
    seen = set()
    for profile in store.ground_truth("profile"):
        for channel, kinds in profile["attributes"]["subscriptions"].items():
            for kind, state in kinds.items():
                seen.add((channel, kind, state["consent"]))
    for channel, kind in (
        ("email", "marketing"),
        ("sms", "marketing"),
        ("sms", "transactional"),
        ("mobile_push", "marketing"),
        ("whatsapp", "marketing"),
    ):
        for consent in ("SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED"):
            assert (channel, kind, consent) in seen


def test_suppressions_reference_real_lists(store: Store) -> None:
    lists = {r["id"] for r in store.ground_truth("list")}
    referenced = [
        s["list_id"]
        for p in store.ground_truth("profile")
        for s in p["attributes"]["subscriptions"]
        .get("email", {})
        .get("marketing", {})
        .get("list_suppressions", [])
    ]
    assert referenced
    assert set(referenced) <= lists


def test_profile_timestamps_are_ordered_and_spread(store: Store) -> None:
    big = make(profiles=20_000)
    window = NOW - timedelta(days=14)
    recent, _ = big.query(
        "profile", [Condition("updated", "greater-than", window)], "updated", None, 100
    )
    assert len(recent) == 100
    for profile in store.ground_truth("profile"):
        attributes = profile["attributes"]
        assert attributes["created"] <= attributes["updated"]
        assert parse_time(attributes["updated"]) < NOW
    share = sum(
        1 for i in range(big.profiles.gen.count) if big.profiles.gen.updated_ts(i)
        > window.timestamp()
    ) / big.profiles.gen.count  # fmt: skip
    assert 0.008 < share < 0.02


def test_lists_segments_and_metrics(store: Store) -> None:
    lists = [r["attributes"] for r in store.ground_truth("list")]
    assert {a["opt_in_process"] for a in lists} == {"single_opt_in", "double_opt_in"}
    segments = [r["attributes"] for r in store.ground_truth("segment")]
    definitions = [s["definition"] for s in segments]
    assert None in definitions
    assert max(len(d["condition_groups"]) for d in definitions if d) >= 3
    for flag in ("is_active", "is_processing", "is_starred"):
        assert {s[flag] for s in segments} == {True, False}
    metrics = list(store.ground_truth("metric"))
    placed = [m for m in metrics if m["attributes"]["name"] == "Placed Order"]
    keys = {m["attributes"]["integration"]["key"] for m in placed}
    assert keys == {"shopify", "api"}
    assert all(store.metric_supports_values(m["id"]) for m in placed)
    opened = next(m for m in metrics if m["attributes"]["name"] == "Opened Email")
    assert not store.metric_supports_values(opened["id"])
    categories = [
        (m["attributes"]["integration"] or {}).get("category") for m in metrics
    ]
    assert any(isinstance(c, dict) for c in categories)


def test_an_account_without_placed_order() -> None:
    store = make(no_placed_order=True)
    names = {m["attributes"]["name"] for m in store.ground_truth("metric")}
    assert "Placed Order" not in names
    assert "Opened Email" in names


def test_profile_count_is_stable_and_bounded(store: Store) -> None:
    for record in store.ground_truth("list"):
        count = store.profile_count("list", record["id"])
        assert 0 < count <= 600
        assert count == store.profile_count("list", record["id"])


def test_lookups_by_identity_find_the_one_profile(store: Store) -> None:
    for profile in list(store.ground_truth("profile"))[::37]:
        attributes = profile["attributes"]
        for name in ("email", "phone_number", "external_id", "id"):
            value = profile["id"] if name == "id" else attributes[name]
            if value is None:
                continue
            found, _ = store.query(
                "profile", [Condition(name, "equals", value)], None, None, 10
            )
            assert [p["id"] for p in found] == [profile["id"]]
    missing, _ = store.query(
        "profile", [Condition("email", "equals", "nobody@example.com")], None, None, 10
    )
    assert missing == []


def test_only_a_profile_with_the_address_can_receive_on_its_channel(
    store: Store,
) -> None:
    unreachable = 0
    for profile in store.ground_truth("profile"):
        attrs = profile["attributes"]
        subs = attrs["subscriptions"]
        if attrs["email"] is None and "email" in subs:
            unreachable += 1
            assert not subs["email"]["marketing"]["can_receive_email_marketing"]
        if attrs["phone_number"] is None and "sms" in subs:
            unreachable += 1
            for kind, part in subs["sms"].items():
                assert not part[f"can_receive_sms_{kind}"]
    assert unreachable  # consent kept from an address the profile lost

"""Change over time: mutations touch exactly their share and surface as updates."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from klaviyo_connector.sandbox.config import SandboxConfig
from klaviyo_connector.sandbox.gen_common import share_count
from klaviyo_connector.sandbox.store import Condition, Store

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
CHANNELS = ("email", "sms", "mobile_push")


def make(profiles: int = 700, *, prebuild: bool = False) -> Store:
    return Store(SandboxConfig(seed=3, profiles=profiles, now=NOW, prebuild=prebuild))


def drain(store: Store, resource: str, conditions: list[Condition]) -> list[str]:
    ids, cursor = [], None
    while True:
        page, cursor = store.query(resource, conditions, "updated", cursor, 100)
        ids += [r["id"] for r in page]
        if cursor is None:
            return ids


def updated_since(store: Store, resource: str, moment: datetime) -> set[str]:
    if resource != "campaign":
        return set(drain_any(store, resource, "updated", moment))
    found: set[str] = set()
    for channel in CHANNELS:
        for archived in (True, False):
            conditions = [
                Condition("messages.channel", "equals", channel),
                Condition("archived", "equals", archived),
                Condition("updated_at", "greater-than", moment),
            ]
            page, _ = store.query("campaign", conditions, None, None, 1000)
            found |= {r["id"] for r in page}
    return found


def drain_any(store: Store, resource: str, field: str, moment: datetime) -> list[str]:
    ids, cursor = [], None
    while True:
        page, cursor = store.query(
            resource, [Condition(field, "greater-than", moment)], None, cursor, 10
        )
        ids += [r["id"] for r in page]
        if cursor is None:
            return ids


def test_mutate_touches_exactly_the_share() -> None:
    store = make()
    sizes = {
        r: len(list(store.ground_truth(r))) for r in ("list", "segment", "campaign")
    }
    sizes["profile"] = 700
    summary = store.mutate(0.05, seed=1)
    for resource, size in sizes.items():
        assert len(summary.updated[resource]) == share_count(0.05, size)
        assert len(set(summary.updated[resource])) == len(summary.updated[resource])
        assert len(summary.created[resource]) == share_count(0.025, size)
    assert len(summary.archived["campaign"]) == share_count(0.025, sizes["campaign"])
    assert len(list(store.ground_truth("profile"))) == 700 + len(
        summary.created["profile"]
    )


@pytest.mark.parametrize("resource", ["profile", "list", "segment", "campaign"])
def test_changed_records_show_up_in_updated_after_queries(resource: str) -> None:
    store = make()
    store.advance(2)  # profile timestamps are whole seconds: step past the anchor
    before = NOW + timedelta(seconds=1)
    assert updated_since(store, resource, before) == set()
    summary = store.mutate(0.05, seed=1)
    touched = set(summary.updated[resource]) | set(summary.created[resource])
    touched |= set(summary.archived.get(resource, []))
    assert updated_since(store, resource, before) == touched


def test_mutated_profiles_move_in_the_updated_order() -> None:
    store = make()
    summary = store.mutate(0.02, seed=4)
    ordered = drain(store, "profile", [])
    assert len(ordered) == len(set(ordered)) == 700 + len(summary.created["profile"])
    tail = set(
        ordered[-len(summary.updated["profile"]) - len(summary.created["profile"]) :]
    )
    assert tail == set(summary.updated["profile"]) | set(summary.created["profile"])


def test_archived_campaigns_are_archived_and_dated_now() -> None:
    store = make()
    before = store.now
    summary = store.mutate(0.1, seed=2)
    for campaign_id in summary.archived["campaign"]:
        attributes = store.get("campaign", campaign_id)["attributes"]  # type: ignore[index]
        assert attributes["archived"] is True
        assert datetime.fromisoformat(attributes["updated_at"]) >= before


def test_created_records_are_complete_and_findable() -> None:
    store = make()
    summary = store.mutate(0.05, seed=1)
    for resource, ids in summary.created.items():
        for record_id in ids:
            record = store.get(resource, record_id)
            assert record is not None
            assert record["id"] == record_id
    for campaign_id in summary.created["campaign"]:
        assert store.campaign_messages(campaign_id)
        assert store.get("campaign", campaign_id)["attributes"]["status"] == "Draft"  # type: ignore[index]
    for list_id in summary.created["list"]:
        assert store.profile_count("list", list_id) > 0


def test_records_handed_out_earlier_do_not_change() -> None:
    store = make()
    pages: dict[str, Any] = {
        r: copy.deepcopy(list(store.ground_truth(r))) for r in ("list", "campaign")
    }
    held = {r: list(store.ground_truth(r)) for r in ("list", "campaign")}
    store.mutate(0.5, seed=1)
    assert held == pages


def test_same_seed_picks_the_same_records() -> None:
    first, second = make(), make()
    one, two = first.mutate(0.05, seed=9), second.mutate(0.05, seed=9)
    assert one.updated == two.updated
    assert one.archived == two.archived
    assert first.mutate(0.05, seed=9).updated != one.updated  # a second call moves on


def test_mutate_scales_to_a_million_profiles_with_small_overlays() -> None:
    store = make(profiles=1_000_000)
    summary = store.mutate(0.001, seed=1)
    assert len(summary.updated["profile"]) == 1000
    assert len(store.profiles.patches) == 1000
    before = store.profiles.gen.built
    recent = NOW - timedelta(seconds=1)
    page, _ = store.query(
        "profile", [Condition("updated", "greater-than", recent)], "updated", None, 100
    )
    assert len(page) == 100
    assert store.profiles.gen.built - before <= 101


def test_zero_share_changes_nothing_and_bad_share_is_refused() -> None:
    store = make()
    summary = store.mutate(0.0, seed=1)
    assert all(not ids for ids in summary.updated.values())
    with pytest.raises(ValueError, match="share"):
        store.mutate(1.5, seed=1)


def test_the_clock_runs_and_can_be_advanced() -> None:
    store = make()
    first = store.now
    assert first >= NOW
    store.advance(3600)
    assert store.now - first >= timedelta(hours=1)


def test_a_prebuilt_account_serves_and_changes_like_a_generated_one() -> None:
    generated, prebuilt = make(), make(prebuild=True)
    assert prebuilt.profiles.gen.prebuilt
    assert not generated.profiles.gen.prebuilt
    recent = [Condition("updated", "greater-than", NOW - timedelta(days=30))]
    for conditions in ([], recent):
        pages = [
            store.query("profile", conditions, "-updated", None, 1000)
            for store in (generated, prebuilt)
        ]
        assert pages[0] == pages[1]
        assert pages[0][0]
    summary = prebuilt.mutate(0.05, seed=4)
    changed = set(summary.updated["profile"])
    assert changed
    page, _ = prebuilt.query("profile", recent, "-updated", None, 1000)
    assert changed <= {record["id"] for record in page}


def test_a_prebuilt_account_starts_its_clock_when_it_is_ready() -> None:
    # Building 5,000 profiles takes about half a second; none of it is
    # counted on the account's clock.
    store = make(5000, prebuild=True)
    assert (store.now - NOW).total_seconds() < 0.1

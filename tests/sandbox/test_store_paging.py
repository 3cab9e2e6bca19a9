"""Paging: every match exactly once, in order, at O(page) cost at 1M profiles."""

from __future__ import annotations

import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from klaviyo_connector.sandbox.config import SandboxConfig
from klaviyo_connector.sandbox.data import field_key, is_datetime_field, matches
from klaviyo_connector.sandbox.store import Condition, Page, Store, StoreError

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
RECENT = NOW - timedelta(days=14)
YEAR_AGO = NOW - timedelta(days=365)


@pytest.fixture(scope="module")
def store() -> Store:
    store = Store(SandboxConfig(seed=5, profiles=700, now=NOW))
    store.mutate(0.05, seed=2)  # overlays must page like everything else
    return store


@pytest.fixture(scope="module")
def million() -> Store:
    return Store(SandboxConfig(seed=11, profiles=1_000_000, now=NOW))


def drain(
    store: Store, resource: str, conditions: Sequence[Condition], sort: str | None,
    size: int,
) -> list[dict[str, Any]]:  # fmt: skip
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page, cursor = store.query(resource, conditions, sort, cursor, size)
        assert len(page) <= size
        out += page
        if cursor is None:
            return out


def expected(
    store: Store, resource: str, conditions: Sequence[Condition], sort: str | None
) -> list[str]:
    name = (sort or "id").lstrip("-")
    extra = {"messages.channel": store.campaign_channel}
    found = [r for r in store.ground_truth(resource) if matches(r, conditions, extra)]
    if resource == "campaign" and not any(c.field == "archived" for c in conditions):
        found = [r for r in found if not r["attributes"]["archived"]]

    def key(record: dict[str, Any]) -> Any:
        value = record["id"] if name == "id" else record["attributes"].get(name)
        return (field_key(value, is_datetime_field(name)), record["id"])

    found.sort(key=key, reverse=(sort or "").startswith("-"))
    return [r["id"] for r in found]


PROFILE_CASES = [
    ([], None),
    ([], "id"),
    ([], "-updated"),
    ([], "created"),
    ([], "-email"),
    ([Condition("updated", "greater-than", RECENT)], "updated"),
    ([Condition("updated", "greater-than", YEAR_AGO)], None),
    ([Condition("updated", "less-than", RECENT)], "-created"),
    ([Condition("created", "greater-than", YEAR_AGO),
      Condition("updated", "less-than", NOW)], "-updated"),
    ([Condition("subscriptions.email.marketing.suppression.reason", "equals",
                "HARD_BOUNCE")], None),
]  # fmt: skip


@pytest.mark.parametrize(("conditions", "sort"), PROFILE_CASES)
def test_profiles_page_to_exhaustion_exactly_once(
    store: Store, conditions: list[Condition], sort: str | None
) -> None:
    size = 23 if (sort or "id").lstrip("-") in ("id", "created", "updated") else 150
    ids = [r["id"] for r in drain(store, "profile", conditions, sort, size)]
    assert ids == expected(store, "profile", conditions, sort)
    assert ids  # every case selects something


SMALL_CASES = [
    ("campaign", [Condition("messages.channel", "equals", "email")], None),
    ("campaign", [Condition("messages.channel", "equals", "email"),
                  Condition("archived", "equals", True)], "-updated_at"),
    ("campaign", [Condition("messages.channel", "equals", "sms")], "scheduled_at"),
    ("campaign", [Condition("messages.channel", "equals", "mobile_push"),
                  Condition("status", "any", ["Sent", "Draft"])], "name"),
    ("campaign", [Condition("messages.channel", "equals", "email"),
                  Condition("updated_at", "greater-or-equal", YEAR_AGO)],
     "-created_at"),
    ("list", [], None),
    ("list", [Condition("updated", "greater-than", YEAR_AGO)], "-name"),
    ("segment", [], "updated"),
    ("segment", [Condition("is_active", "equals", True)], "-created"),
    ("metric", [Condition("integration.name", "equals", "Shopify")], None),
]  # fmt: skip


@pytest.mark.parametrize(("resource", "conditions", "sort"), SMALL_CASES)
def test_small_resources_page_to_exhaustion_exactly_once(
    store: Store, resource: str, conditions: list[Condition], sort: str | None
) -> None:
    ids = [r["id"] for r in drain(store, resource, conditions, sort, 3)]
    assert ids == expected(store, resource, conditions, sort)
    assert ids


def pages_of(
    store: Store, resource: str, conditions: Sequence[Condition], sort: str | None,
    size: int,
) -> list[Page]:  # fmt: skip
    pages = [store.page(resource, conditions, sort, None, size)]
    while pages[-1].next:
        pages.append(store.page(resource, conditions, sort, pages[-1].next, size))
    return pages


PREV_CASES = [("profile", *case) for case in PROFILE_CASES[:9]] + [
    (resource, conditions, sort) for resource, conditions, sort in SMALL_CASES
]


@pytest.mark.parametrize(("resource", "conditions", "sort"), PREV_CASES)
def test_prev_cursor_returns_exactly_the_page_before(
    store: Store, resource: str, conditions: list[Condition], sort: str | None
) -> None:
    size = 3 if resource != "profile" else 97
    pages = pages_of(store, resource, conditions, sort, size)
    assert pages[0].prev is None
    for before, page in pairwise(pages):
        assert page.prev is not None
        assert store.page(resource, conditions, sort, page.prev, size) == before


def test_archived_campaigns_only_when_asked(store: Store) -> None:
    email = Condition("messages.channel", "equals", "email")
    plain = drain(store, "campaign", [email], None, 100)
    archived = drain(
        store, "campaign", [email, Condition("archived", "equals", True)], None, 100
    )
    assert not any(r["attributes"]["archived"] for r in plain)
    assert archived
    assert all(r["attributes"]["archived"] for r in archived)


def test_bad_cursor_and_resource_are_store_errors(store: Store) -> None:
    _, cursor = store.query("profile", [], "updated", None, 5)
    assert cursor is not None
    with pytest.raises(StoreError):
        store.query("profile", [], "created", cursor, 5)
    with pytest.raises(StoreError):
        store.query("list", [], None, "garbage!", 5)
    with pytest.raises(StoreError):
        store.query("flow", [], None, None, 5)


MILLION_CASES = [
    ([], None),
    ([], "-updated"),
    ([Condition("updated", "greater-than", RECENT)], "updated"),
    ([Condition("updated", "greater-than", RECENT)], None),
    ([Condition("updated", "less-than", RECENT)], "-updated"),
    ([Condition("created", "greater-than", YEAR_AGO)], "created"),
]


@pytest.mark.parametrize(("conditions", "sort"), MILLION_CASES)
def test_million_profile_pages_build_only_the_page(
    million: Store, conditions: list[Condition], sort: str | None
) -> None:
    cursor = None
    for _ in range(3):
        before = million.profiles.gen.built
        page, cursor = million.query("profile", conditions, sort, cursor, 100)
        built = million.profiles.gen.built - before
        assert len(page) == 100
        assert built <= 101  # the page plus one look-ahead record
        assert cursor is not None


@pytest.mark.parametrize(("conditions", "sort"), MILLION_CASES)
def test_million_profile_prev_pages_build_only_the_page(
    million: Store, conditions: list[Condition], sort: str | None
) -> None:
    pages = [million.page("profile", conditions, sort, None, 100)]
    for _ in range(2):
        pages.append(million.page("profile", conditions, sort, pages[-1].next, 100))
    before = million.profiles.gen.built
    back = million.page("profile", conditions, sort, pages[2].prev, 100)
    assert million.profiles.gen.built - before <= 101
    assert back == pages[1]


def test_million_profiles_lookup_is_constant_cost(million: Store) -> None:
    target = million.profiles.gen.build(654_321)
    email = target["attributes"]["email"] or "x@example.com"
    before = million.profiles.gen.built
    found, _ = million.query(
        "profile", [Condition("id", "any", [target["id"]])], None, None, 10
    )
    million.query("profile", [Condition("email", "equals", email)], None, None, 10)
    assert [r["id"] for r in found] == [target["id"]]
    assert million.profiles.gen.built - before <= 8


def test_paging_across_a_million_keeps_no_state(million: Store) -> None:
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    for sort in ("updated", "-updated", None):
        page = million.page("profile", [], sort, None, 100)
        for _ in range(4):
            page = million.page("profile", [], sort, page.next, 100)
        for _ in range(3):
            page = million.page("profile", [], sort, page.prev, 100)
    grown = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    assert million.profiles.patches == {}
    assert million.profiles.created == {}
    assert grown < 2_000_000  # bytes: 2,400 profiles paged, none retained

"""Quirks on demand: each one is absent by default and present when asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from klaviyo_connector.sandbox.config import QUIRKS, SandboxConfig
from klaviyo_connector.sandbox.gen_common import parse_time
from klaviyo_connector.sandbox.store import Condition, Store

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
FUTURE = NOW + timedelta(days=29)


def make(*quirks: str) -> Store:
    return Store(
        SandboxConfig(
            seed=8, profiles=300, campaigns=90, now=NOW, quirks=frozenset(quirks)
        )
    )


def test_quirk_names_are_declared() -> None:
    assert (
        frozenset({"future_record", "boundary_repeat", "archived_out_of_order"})
        == QUIRKS
    )


@pytest.mark.parametrize("enabled", [False, True])
def test_future_record(enabled: bool) -> None:
    store = make("future_record") if enabled else make()
    profiles, _ = store.query(
        "profile", [Condition("updated", "greater-than", FUTURE)], "updated", None, 10
    )
    campaigns = [
        c
        for c in store.ground_truth("campaign")
        if parse_time(c["attributes"]["updated_at"]) > FUTURE
    ]
    assert len(profiles) == int(enabled)
    assert len(campaigns) == int(enabled)
    if enabled:
        created = parse_time(profiles[0]["attributes"]["created"])
        assert created == NOW + timedelta(days=30)
        listed, _ = store.query(
            "campaign", [Condition("messages.channel", "equals", "email")],
            "-updated_at", None, 1,
        )  # fmt: skip
        assert listed == campaigns


@pytest.mark.parametrize("resource", ["profile", "list"])
@pytest.mark.parametrize("enabled", [False, True])
def test_boundary_repeat(resource: str, enabled: bool) -> None:
    store = make("boundary_repeat") if enabled else make()
    first, _ = store.query(resource, [], "-updated", None, 1)
    newest = first[0]
    moment = parse_time(newest["attributes"]["updated"])
    again, _ = store.query(
        resource, [Condition("updated", "greater-than", moment)], None, None, 10
    )
    assert [r["id"] for r in again] == ([newest["id"]] if enabled else [])


def _archived_email(store: Store, sort: str) -> list[str]:
    conditions = [
        Condition("messages.channel", "equals", "email"),
        Condition("archived", "equals", True),
    ]
    ids, cursor = [], None
    while True:
        page, cursor = store.query("campaign", conditions, sort, cursor, 2)
        ids += [c["id"] for c in page]
        if cursor is None:
            return ids


@pytest.mark.parametrize("enabled", [False, True])
def test_archived_out_of_order(enabled: bool) -> None:
    store = make("archived_out_of_order") if enabled else make()
    ids = _archived_email(store, "updated_at")
    stamps = [store.get("campaign", i)["attributes"]["updated_at"] for i in ids]  # type: ignore[index]
    in_order = [parse_time(s) for s in stamps] == sorted(parse_time(s) for s in stamps)
    assert len(ids) == len(set(ids)) >= 4  # still paged exactly once
    assert in_order is not enabled
    live, _ = store.query(
        "campaign", [Condition("messages.channel", "equals", "email")], "updated_at",
        None, 100,
    )  # fmt: skip
    times = [parse_time(c["attributes"]["updated_at"]) for c in live]
    assert times == sorted(times)  # unarchived campaigns keep their order

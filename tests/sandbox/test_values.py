"""Campaign values: consistent with the campaigns, self-consistent in every row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from klaviyo_connector.sandbox import values
from klaviyo_connector.sandbox.config import SandboxConfig
from klaviyo_connector.sandbox.gen_campaigns import SENT_LIKE
from klaviyo_connector.sandbox.gen_common import parse_time
from klaviyo_connector.sandbox.store import Condition, Store

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
DEFAULT = ["campaign_id", "campaign_message_id", "send_channel"]
# the statistics enum of POST /api/campaign-values-reports (2026-07-15)
ENUM = set(
    [
        "average_order_value",
        "bounce_rate",
        "bounced",
        "bounced_or_failed",
        "bounced_or_failed_rate",
        "click_rate",
        "click_to_open_rate",
        "clicks",
        "clicks_unique",
        "conversion_rate",
        "conversion_uniques",
        "conversion_value",
        "conversions",
        "delivered",
        "delivery_rate",
        "failed",
        "failed_rate",
        "message_segment_count_sum",
        "open_rate",
        "opens",
        "opens_unique",
        "recipients",
        "revenue_per_recipient",
        "spam_complaint_rate",
        "spam_complaints",
        "text_message_credit_usage_amount",
        "text_message_roi",
        "text_message_spend",
        "unsubscribe_rate",
        "unsubscribe_uniques",
        "unsubscribes",
    ]
)
ORDERED = [
    ("delivered", "recipients"),
    ("bounced", "recipients"),
    ("opens_unique", "opens"),
    ("opens_unique", "delivered"),
    ("clicks_unique", "clicks"),
    ("clicks_unique", "delivered"),
    ("unsubscribe_uniques", "unsubscribes"),
    ("conversion_uniques", "conversions"),
]


def make(**overrides: Any) -> Store:
    options = {"seed": 21, "profiles": 1500, "campaigns": 150, "now": NOW}
    return Store(SandboxConfig(**{**options, **overrides}))


@pytest.fixture(scope="module")
def store() -> Store:
    return make()


def metric_ids(store: Store) -> list[str]:
    return [
        m["id"]
        for m in store.ground_truth("metric")
        if store.metric_supports_values(m["id"])
    ]


def report(store: Store, metric: str, **kw: Any) -> list[dict[str, Any]]:
    start = kw.pop("start", NOW - timedelta(days=365))
    end = kw.pop("end", NOW + timedelta(days=1))
    return store.campaign_values(
        conversion_metric_id=metric, start=start, end=end,
        group_by=kw.pop("group_by", DEFAULT), filters=kw.pop("filters", ()),
    )  # fmt: skip


def check_row(stats: dict[str, float]) -> None:
    assert set(stats) == ENUM
    assert all(isinstance(v, float) for v in stats.values())
    assert all(v >= 0 for v in stats.values())
    for small, big in ORDERED:
        assert stats[small] <= stats[big], (small, big, stats)
    assert stats["clicks_unique"] <= stats["opens_unique"] or stats["opens"] == 0
    assert stats["delivered"] + stats["bounced_or_failed"] <= stats["recipients"]
    for rate, (top, bottom) in values.RATES.items():
        want = stats[top] / stats[bottom] if stats[bottom] else 0.0
        assert stats[rate] == want, rate


def test_every_row_of_every_metric_holds_the_invariants(store: Store) -> None:
    seen = 0
    for metric in metric_ids(store):
        for row in report(store, metric):
            check_row(row["statistics"])
            seen += 1
    assert seen > 50


def test_rows_come_only_from_sent_campaigns_in_the_window(store: Store) -> None:
    metric = metric_ids(store)[0]
    start, end = NOW - timedelta(days=90), NOW - timedelta(days=10)
    rows = report(store, metric, start=start, end=end)
    expected = set()
    for campaign in store.ground_truth("campaign"):
        attributes = campaign["attributes"]
        sent = attributes["send_time"]
        if (
            attributes["status"] in SENT_LIKE
            and sent
            and start <= parse_time(sent) < end
        ):
            expected |= {m["id"] for m in store.campaign_messages(campaign["id"])}
    assert {r["groupings"]["campaign_message_id"] for r in rows} == expected
    assert expected


def test_channel_specific_statistics(store: Store) -> None:
    rows = report(store, metric_ids(store)[0])
    channels = {r["groupings"]["send_channel"] for r in rows}
    assert channels == {"email", "sms", "push-notification"}
    for row in rows:
        stats, channel = row["statistics"], row["groupings"]["send_channel"]
        if channel == "sms":
            assert stats["opens"] == stats["open_rate"] == stats["bounced"] == 0.0
            assert stats["text_message_spend"] > 0 or stats["delivered"] == 0
        elif channel == "push-notification":
            assert stats["clicks"] == stats["click_rate"] == 0.0
        else:
            assert stats["failed"] == stats["text_message_spend"] == 0.0


def test_statistics_a_channel_lacks_are_zero_or_null_as_configured(
    store: Store,
) -> None:
    nulls = make(channel_gaps="null")
    zero_rows = report(store, metric_ids(store)[0])
    null_rows = report(nulls, metric_ids(nulls)[0])
    assert [r["groupings"] for r in zero_rows] == [r["groupings"] for r in null_rows]
    for zero, null in zip(zero_rows, null_rows, strict=True):
        lacks = values.NOT_APPLICABLE[zero["groupings"]["send_channel"]]
        assert all(zero["statistics"][name] == 0.0 for name in lacks)
        assert all(null["statistics"][name] is None for name in lacks)
        kept = set(values.STATISTICS) - lacks
        assert {n: null["statistics"][n] for n in kept} == {
            n: zero["statistics"][n] for n in kept
        }


def unreached_rows(store: Store) -> dict[str, dict[str, Any]]:
    """Statistics of the messages nobody received and nobody was sent."""
    metric = metric_ids(store)[0]
    rows = []
    for message_id in store.special["no_delivery"] | store.special["no_recipients"]:
        campaign = next(
            c
            for c in store.ground_truth("campaign")
            if message_id in [m["id"] for m in store.campaign_messages(c["id"])]
        )
        sent = parse_time(campaign["attributes"]["send_time"])
        rows += report(
            store, metric, start=sent - timedelta(days=1), end=sent + timedelta(days=1)
        )
    return {r["groupings"]["campaign_message_id"]: r["statistics"] for r in rows}


@pytest.mark.parametrize(("setting", "empty"), [("zero", 0.0), ("null", None)])
def test_zero_denominators_give_the_configured_rate(
    setting: str, empty: float | None
) -> None:
    store = make(zero_denominator_rates=setting)
    by_message = unreached_rows(store)
    (lost,) = store.special["no_delivery"]
    assert by_message[lost]["recipients"] > 0
    assert by_message[lost]["delivered"] == 0.0
    assert by_message[lost]["delivery_rate"] == 0.0  # a real ratio: 0 / n
    assert by_message[lost]["open_rate"] == empty
    (empty_send,) = store.special["no_recipients"]
    assert by_message[empty_send]["recipients"] == 0.0
    assert by_message[empty_send]["delivery_rate"] == empty
    assert by_message[empty_send]["opens"] == 0.0  # counts are never null


def test_an_unknown_zero_rate_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="zero_denominator_rates must be one of"):
        SandboxConfig(zero_denominator_rates="nan")  # type: ignore[arg-type]


def test_engagement_grows_after_a_send_then_settles() -> None:
    store = make()
    metric = metric_ids(store)[0]
    before = {
        r["groupings"]["campaign_message_id"]: r["statistics"]
        for r in report(store, metric)
    }
    store.advance(6 * 86_400)
    after = {
        r["groupings"]["campaign_message_id"]: r["statistics"]
        for r in report(store, metric, end=store.now)
    }
    grew = 0
    for message_id, old in before.items():
        new = after[message_id]
        for name in ("opens", "clicks", "conversions", "delivered"):
            assert new[name] >= old[name]
        grew += new["opens_unique"] > old["opens_unique"]
        check_row(new)
    assert grew > 0
    old_sends = report(store, metric, end=NOW - timedelta(days=40))
    store.advance(30 * 86_400)
    assert report(store, metric, end=NOW - timedelta(days=40)) == old_sends


def test_numbers_depend_on_message_and_metric(store: Store) -> None:
    shopify, *others = metric_ids(store)
    first = {
        r["groupings"]["campaign_message_id"]: r["statistics"]
        for r in report(store, shopify)
    }
    second = {
        r["groupings"]["campaign_message_id"]: r["statistics"]
        for r in report(store, others[0])
    }
    assert all(first[m]["opens"] == second[m]["opens"] for m in first)
    assert any(
        first[m]["conversion_value"] != second[m]["conversion_value"] for m in first
    )
    window = (NOW - timedelta(days=365), NOW)
    rows = [
        values.report(s, shopify, window, DEFAULT, (), NOW) for s in (make(), store)
    ]
    assert rows[0] == rows[1]  # same seed, same clock: identical report


def test_group_by_aggregates_and_recomputes_rates(store: Store) -> None:
    metric = metric_ids(store)[0]
    rows = report(store, metric)
    by_channel = report(store, metric, group_by=["send_channel"])
    assert len(by_channel) == 3
    for row in by_channel:
        channel = row["groupings"]["send_channel"]
        assert set(row["groupings"]) == {"send_channel"}
        parts = [
            r["statistics"] for r in rows if r["groupings"]["send_channel"] == channel
        ]
        assert row["statistics"]["opens"] == sum(p["opens"] for p in parts)
        assert row["statistics"]["recipients"] == sum(p["recipients"] for p in parts)
        check_row(row["statistics"])
    wide = report(
        store,
        metric,
        group_by=[*DEFAULT, "campaign_message_name", "text_message_format"],
    )
    assert len(wide) == len(rows)
    assert {r["groupings"]["text_message_format"] for r in wide} >= {"SMS", None}


def test_filters_on_groupings(store: Store) -> None:
    metric = metric_ids(store)[0]
    rows = report(store, metric)
    sms = report(store, metric, filters=[Condition("send_channel", "equals", "sms")])
    assert sms
    assert {r["groupings"]["send_channel"] for r in sms} == {"sms"}
    chosen = [r["groupings"]["campaign_id"] for r in rows[:3]]
    picked = report(
        store, metric, filters=[Condition("campaign_id", "contains-any", chosen)]
    )
    assert {r["groupings"]["campaign_id"] for r in picked} == set(chosen)


def test_a_metric_without_values_is_refused(store: Store) -> None:
    opened = next(
        m["id"]
        for m in store.ground_truth("metric")
        if m["attributes"]["name"] == "Opened Email"
    )
    with pytest.raises(ValueError, match="values"):
        report(store, opened)


def test_mutations_leave_settled_campaign_numbers_alone() -> None:
    store = make()
    metric = metric_ids(store)[0]
    old = report(store, metric, end=NOW - timedelta(days=40))
    store.mutate(0.2, seed=5)
    after = report(store, metric, end=NOW - timedelta(days=40))
    assert {r["groupings"]["campaign_id"] for r in after} >= {
        r["groupings"]["campaign_id"] for r in old
    }
    kept = {r["groupings"]["campaign_message_id"]: r["statistics"] for r in after}
    for row in old:
        assert kept[row["groupings"]["campaign_message_id"]] == row["statistics"]

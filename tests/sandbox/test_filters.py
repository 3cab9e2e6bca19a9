"""The filter grammar and the per-endpoint whitelists taken from the spec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from klaviyo_connector.sandbox.filters import (
    FilterError,
    conditions,
    parse_datetime,
    report_conditions,
)
from klaviyo_connector.sandbox.spec import load_digest
from klaviyo_connector.sandbox.store import Condition


def rules(path: str) -> dict:
    return load_digest().operation("GET", path).filters


PROFILES = rules("/api/profiles")
CAMPAIGNS = rules("/api/campaigns")
LISTS = rules("/api/lists")
SEGMENTS = rules("/api/segments")
METRICS = rules("/api/metrics")
JAN_1 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "greater-than(updated,2024-01-01T00:00:00Z)",
            [Condition("updated", "greater-than", JAN_1)],
        ),
        (
            "greater-than(updated,2024-01-01T01:00:00+01:00)",
            [Condition("updated", "greater-than", JAN_1)],
        ),
        (
            "greater-than(updated,2024-01-01T00:00:00.000000+00:00)",
            [Condition("updated", "greater-than", JAN_1)],
        ),
        ("equals(email,'a@b.com')", [Condition("email", "equals", "a@b.com")]),
        ('equals(email,"a@b.com")', [Condition("email", "equals", "a@b.com")]),
        ("any(id,['x','y'])", [Condition("id", "any", ["x", "y"])]),
        ('equals(id,["x"])', [Condition("id", "equals", ["x"])]),
        (
            "and(greater-than(created,2024-01-01T00:00:00Z),equals(id,'x'))",
            [
                Condition("created", "greater-than", JAN_1),
                Condition("id", "equals", "x"),
            ],
        ),
        (
            "greater-than(created,2024-01-01T00:00:00Z),equals(id,'x')",
            [
                Condition("created", "greater-than", JAN_1),
                Condition("id", "equals", "x"),
            ],
        ),
    ],
)
def test_profile_filters_parse_into_conditions(text: str, expected: list) -> None:
    assert conditions(text, PROFILES) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("greater-or-equal(updated,2024-01-01T00:00:00Z)", "not an allowed operator"),
        ("equals(favourite_colour,'red')", "not a valid field"),
        ("equals(email,'a@b.com'", "Verify your parentheses match"),
        ("equals(email,'a@b.com'))", "Verify your parentheses match"),
        ("greater-than(updated,2024-01-01T00:00:00 00:00)", "%2B"),
        ("greater-than(updated,'2024-01-01T00:00:00Z')", "unquoted date-time"),
        ("greater-than(updated,yesterday)", "not a valid date-time"),
        ("equals(email,a@b.com)", "quoted string"),
        ("or(equals(id,'x'),equals(id,'y'))", "'or' is not a supported"),
        ("equals(email,['a','b'],)", "expected"),
        ("", "empty"),
        ("equals(_kx,['a'])", "takes a single value"),
    ],
)
def test_bad_profile_filters_are_refused(text: str, detail: str) -> None:
    with pytest.raises(FilterError, match=detail.replace("(", r"\(")):
        conditions(text, PROFILES)


def test_campaign_filters_follow_their_own_whitelist() -> None:
    found = conditions(
        "and(equals(messages.channel,'email'),equals(archived,true),"
        "any(status,['Sent','Draft']),contains(name,'Sale'),"
        "greater-or-equal(updated_at,2024-01-01T00:00:00Z))",
        CAMPAIGNS,
    )
    assert found == [
        Condition("messages.channel", "equals", "email"),
        Condition("archived", "equals", True),
        Condition("status", "any", ["Sent", "Draft"]),
        Condition("name", "contains", "Sale"),
        Condition("updated_at", "greater-or-equal", JAN_1),
    ]
    for bad in (
        "equals(messages.channel,'mobile-push')",
        "equals(archived,'true')",
        "any(status,['Posted'])",
        "equals(updated,2024-01-01T00:00:00Z)",
    ):
        with pytest.raises(FilterError):
            conditions(bad, CAMPAIGNS)


def test_lists_segments_and_metrics_whitelists() -> None:
    assert conditions("equals(name,['News'])", LISTS) == [
        Condition("name", "equals", ["News"])
    ]
    with pytest.raises(FilterError, match="takes a list"):
        conditions("equals(name,'News')", LISTS)
    with pytest.raises(FilterError, match="not an allowed operator"):
        conditions("less-than(updated,2024-01-01T00:00:00Z)", LISTS)
    assert conditions("equals(is_active,false)", SEGMENTS) == [
        Condition("is_active", "equals", False)
    ]
    assert conditions("equals(integration.name,'Shopify')", METRICS) == [
        Condition("integration.name", "equals", "Shopify")
    ]
    with pytest.raises(FilterError):
        conditions("equals(name,'Placed Order')", METRICS)


def test_quoted_strings_keep_commas_parentheses_and_escapes() -> None:
    assert conditions("contains(name,'Sale (50%, today) \\'now\\'')", CAMPAIGNS) == [
        Condition("name", "contains", "Sale (50%, today) 'now'")
    ]


def test_dates_without_time_or_offset_mean_utc() -> None:
    assert parse_datetime("2024-01-01") == JAN_1
    assert parse_datetime("2024-01-01T00:00:00") == JAN_1


def test_values_report_filter() -> None:
    found = report_conditions(
        'and(equals(send_channel,"email"),contains-any(campaign_id,["a","b"]))'
    )
    assert found == [
        Condition("send_channel", "equals", "email"),
        Condition("campaign_id", "contains-any", ["a", "b"]),
    ]
    too_many = ",".join(f'"c{i}"' for i in range(101))
    refusals = [
        ('or(equals(send_channel,"email"),equals(send_channel,"sms"))', "Only 'and'"),
        ('equals(send_channel,"mobile_push")', "not a valid value"),
        (f"contains-any(campaign_id,[{too_many}])", "At most 100"),
        ('and(equals(campaign_id,"a"),equals(campaign_id,"b"))', "one filter"),
        ('equals(tag_id,"x")', "not an allowed operator"),
    ]
    for text, detail in refusals:
        with pytest.raises(FilterError, match=detail):
            report_conditions(text)

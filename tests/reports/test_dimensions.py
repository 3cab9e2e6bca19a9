"""list, segment and profile rows, and what each report asks Klaviyo for."""

from __future__ import annotations

import datetime as dt

from klaviyo_connector.reports import lists, profiles, segments

UTC = dt.UTC


def test_list_row() -> None:
    row = lists.list_row(
        {
            "id": "Y6nRLr",
            "attributes": {
                "name": "Newsletter",
                "created": "2022-03-09T03:32:54+00:00",
                "updated": "2022-03-09T03:32:54+00:00",
                "opt_in_process": None,
            },
        },
        {},
    )
    assert row == {
        "id": "Y6nRLr",
        "name": "Newsletter",
        "opt_in_process": None,
        "created": dt.datetime(2022, 3, 9, 3, 32, 54, tzinfo=UTC),
        "updated": dt.datetime(2022, 3, 9, 3, 32, 54, tzinfo=UTC),
    }
    assert lists.REPORT.page_size == 10
    assert lists.REPORT.upper_bound is False


def test_segment_row_keeps_definition_as_json() -> None:
    definition = {"condition_groups": [{"conditions": [{"type": "profile-metric"}]}]}
    row = segments.segment_row(
        {
            "id": "Xy12Ab",
            "attributes": {
                "name": "Repeat",
                "definition": definition,
                "is_active": True,
                "is_processing": False,
                "is_starred": False,
                "created": "2024-01-01T00:00:00+00:00",
                "updated": "2024-02-01T00:00:00+00:00",
            },
        },
        {},
    )
    assert row["definition"] == definition
    assert row["is_active"] is True
    assert row["is_processing"] is False
    assert "definition" in segments.REPORT.params["fields[segment]"].split(",")


def test_profile_row_keeps_custom_properties_in_one_json_column() -> None:
    properties = {"$consent": ["email"], "Favourite Color": "red", "favourite_color": 1}
    row = profiles.profile_row(
        {
            "id": "01FT4VYB5QW22BE5CNZEG1X5JN",
            "attributes": {
                "email": "a@b.com",
                "first_name": "",
                "phone_number": None,
                "created": "2022-01-24T01:41:54+00:00",
                "updated": "2025-12-22T03:16:30+00:00",
                "last_event_date": None,
                "location": {"city": "Brisbane", "latitude": "-27.47"},
                "properties": properties,
                "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}},
                "predictive_analytics": {"historic_clv": 93.87},
            },
        },
        {},
    )
    assert row["properties"] == properties
    assert row["first_name"] is None
    assert row["last_event_date"] is None
    assert row["updated"] == dt.datetime(2025, 12, 22, 3, 16, 30, tzinfo=UTC)
    assert "predictive_analytics" not in row
    assert set(row) == {c.name for c in profiles.COLUMNS}


def test_profiles_never_ask_for_predictive_analytics() -> None:
    params = profiles.REPORT.params
    assert params["additional-fields[profile]"] == "subscriptions"
    assert "predictive_analytics" not in str(params)
    assert params["sort"] == "updated"
    assert profiles.REPORT.page_size == 100

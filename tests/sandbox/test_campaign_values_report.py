"""POST /api/campaign-values-reports: validation and the report document."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.sandbox.support import config, headers

from klaviyo_connector.sandbox import RunningSandbox, serve_in_thread
from klaviyo_connector.sandbox.reports import timeframe_bounds

PATH = "/api/campaign-values-reports"


def conversion_metric(served: RunningSandbox, supports: bool = True) -> str:
    store = served.sandbox.store
    metrics = served.sandbox.ground_truth("metric")
    return next(
        m["id"] for m in metrics if store.metric_supports_values(m["id"]) is supports
    )


def body(metric: str, **attributes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "statistics": ["opens", "open_rate", "conversion_value"],
        "timeframe": {"key": "last_365_days"},
        "conversion_metric_id": metric,
    }
    base.update(attributes)
    return {"data": {"type": "campaign-values-report", "attributes": base}}


def errors(response: httpx.Response) -> list[dict]:
    assert response.status_code == 400
    return response.json()["errors"]


def test_report_carries_only_the_requested_statistics(
    served: RunningSandbox, api: httpx.Client
) -> None:
    metric = conversion_metric(served)
    response = api.post(PATH, json=body(metric), params={"page_cursor": "ignored"})
    assert response.status_code == 200
    document = response.json()
    data = document["data"]
    uuid.UUID(data["id"])
    assert data["type"] == "campaign-values-report"
    results = data["attributes"]["results"]
    assert results
    for row in results:
        assert set(row["statistics"]) == {"opens", "open_rate", "conversion_value"}
        assert all(isinstance(v, float) for v in row["statistics"].values())
        assert set(row["groupings"]) == {
            "campaign_id",
            "campaign_message_id",
            "send_channel",
        }
    campaigns = [c["id"] for c in data["relationships"]["campaigns"]["data"]]
    assert set(campaigns) == {r["groupings"]["campaign_id"] for r in results}
    assert document["links"] == {
        "self": str(response.request.url),
        "next": None,
        "prev": None,
    }
    # Named timeframes are whole days in the account's timezone, not UTC.
    zone = ZoneInfo(served.sandbox.store.account()["attributes"]["timezone"])
    start, end = timeframe_bounds(
        "last_365_days", served.sandbox.store.now.astimezone(zone)
    )
    truth = served.sandbox.campaign_values(
        metric, start.astimezone(UTC), end.astimezone(UTC)
    )
    assert [r["groupings"] for r in truth] == [r["groupings"] for r in results]


def test_body_filter_narrows_the_report(
    served: RunningSandbox, api: httpx.Client
) -> None:
    metric = conversion_metric(served)
    sms = api.post(PATH, json=body(metric, filter='equals(send_channel,"sms")')).json()
    channels = {
        r["groupings"]["send_channel"] for r in sms["data"]["attributes"]["results"]
    }
    assert channels <= {"sms"}
    everything = api.post(PATH, json=body(metric)).json()["data"]["attributes"][
        "results"
    ]
    one = everything[0]["groupings"]["campaign_id"]
    narrowed = api.post(
        PATH, json=body(metric, filter=f'and(contains-any(campaign_id,["{one}"]))')
    ).json()["data"]["attributes"]["results"]
    assert {r["groupings"]["campaign_id"] for r in narrowed} == {one}


def test_each_bad_statistic_gets_its_own_error(
    served: RunningSandbox, api: httpx.Client
) -> None:
    sent = body(
        conversion_metric(served), statistics=["revenue", "opens", "unique_recipients"]
    )
    found = errors(api.post(PATH, json=sent))
    assert [(e["detail"], e["source"]["pointer"]) for e in found] == [
        (
            "'revenue' is not a valid choice for 'statistics'.",
            "/data/attributes/statistics/0",
        ),
        (
            "'unique_recipients' is not a valid choice for 'statistics'.",
            "/data/attributes/statistics/2",
        ),
    ]
    assert len({e["id"] for e in found}) == 1


@pytest.mark.parametrize(
    ("attributes", "pointer", "detail"),
    [
        (
            {"conversion_metric_id": None},
            "/data/attributes/conversion_metric_id",
            "required",
        ),
        ({"timeframe": None}, "/data/attributes/timeframe", "required"),
        (
            {"timeframe": {"key": "last_2_years"}},
            "/data/attributes/timeframe/key",
            "not a valid choice",
        ),
        (
            {
                "timeframe": {
                    "start": "2024-01-01T00:00:00Z",
                    "end": "2025-01-02T00:00:00Z",
                }
            },
            "/data/attributes/timeframe",
            "longer than 1 year",
        ),
        (
            {
                "timeframe": {
                    "start": "2025-01-01T00:00:00Z",
                    "end": "2024-01-01T00:00:00Z",
                }
            },
            "/data/attributes/timeframe",
            "after",
        ),
        ({"group_by": ["send_channel"]}, "/data/attributes/group_by", "must include"),
        (
            {"group_by": ["campaign_id", "campaign_message_id", "day"]},
            "/data/attributes/group_by/2",
            "not a valid choice",
        ),
        (
            {"filter": 'or(equals(send_channel,"sms"))'},
            "/data/attributes/filter",
            "Only 'and'",
        ),
        (
            {"filter": 'equals(send_channel,"mobile_push")'},
            "/data/attributes/filter",
            "not a valid value",
        ),
    ],
)
def test_invalid_bodies_point_at_the_problem(
    served: RunningSandbox,
    api: httpx.Client,
    attributes: dict,
    pointer: str,
    detail: str,
) -> None:
    sent = body(conversion_metric(served), **attributes)
    if attributes.get("conversion_metric_id", "") is None:
        del sent["data"]["attributes"]["conversion_metric_id"]
    if attributes.get("timeframe", "") is None:
        del sent["data"]["attributes"]["timeframe"]
    found = errors(api.post(PATH, json=sent))
    assert found[0]["source"] == {"pointer": pointer}
    assert detail in found[0]["detail"]


def test_exactly_one_year_is_allowed(served: RunningSandbox, api: httpx.Client) -> None:
    timeframe = {
        "start": "2025-06-01T00:00:00+00:00",
        "end": "2026-06-01T00:00:00+00:00",
    }
    response = api.post(PATH, json=body(conversion_metric(served), timeframe=timeframe))
    assert response.status_code == 200


def test_metric_without_values_is_refused(
    served: RunningSandbox, api: httpx.Client
) -> None:
    found = errors(api.post(PATH, json=body(conversion_metric(served, supports=False))))
    assert found[0]["detail"] == (
        "Passed in conversion metric does not support querying for values data"
    )


def test_malformed_documents(api: httpx.Client) -> None:
    assert errors(api.post(PATH, content=b"{not json"))[0]["source"] == {
        "pointer": "/data"
    }
    wrong_type = {"data": {"type": "flow-values-report", "attributes": {}}}
    assert errors(api.post(PATH, json=wrong_type))[0]["source"] == {
        "pointer": "/data/type"
    }


def test_named_timeframes() -> None:
    now = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)  # a Wednesday
    day = lambda d: datetime(*d, tzinfo=UTC)  # noqa: E731
    assert timeframe_bounds("today", now) == (day((2026, 3, 18)), now)
    assert timeframe_bounds("last_7_days", now) == (
        day((2026, 3, 11)),
        day((2026, 3, 18)),
    )
    assert timeframe_bounds("last_week", now) == (day((2026, 3, 9)), day((2026, 3, 16)))
    assert timeframe_bounds("last_month", now) == (day((2026, 2, 1)), day((2026, 3, 1)))
    assert timeframe_bounds("last_3_months", now) == (
        day((2025, 12, 1)),
        day((2026, 3, 1)),
    )
    assert timeframe_bounds("last_12_months", now) == (
        day((2025, 3, 1)),
        day((2026, 3, 1)),
    )
    assert timeframe_bounds("last_year", now) == (day((2025, 1, 1)), day((2026, 1, 1)))
    assert timeframe_bounds("this_year", now) == (day((2026, 1, 1)), now)


def test_custom_timeframes_are_read_in_the_account_timezone(
    served: RunningSandbox, api: httpx.Client
) -> None:
    """The offset is ignored: the wall clock is the account's (New York)."""
    metric = conversion_metric(served)
    sandbox = served.sandbox
    sends = sorted(
        datetime.fromisoformat(c["attributes"]["send_time"])
        for c in sandbox.ground_truth("campaign")
        if c["attributes"]["send_time"] and c["attributes"]["status"] == "Sent"
    )
    send = sends[-1].astimezone(UTC)
    # A one-hour window around the send, written as UTC wall clock: New York
    # reads it five (or four) hours later, so the campaign falls outside it.
    wall = {"start": f"{send:%Y-%m-%dT%H}:00:00Z", "end": f"{send:%Y-%m-%dT%H}:59:59Z"}
    utc_reading = api.post(PATH, json=body(metric, timeframe=wall)).json()
    local = send.astimezone(ZoneInfo("America/New_York"))
    # New York's wall clock under any offset (its own is what the connector
    # sends) names the same hour.
    offsets = ("+00:00", f"{local:%z}"[:3] + ":00", "+05:00", "Z")
    local_readings = [
        api.post(
            PATH,
            json=body(
                metric,
                timeframe={
                    "start": f"{local:%Y-%m-%dT%H}:00:00{offset}",
                    "end": f"{local:%Y-%m-%dT%H}:59:59{offset}",
                },
            ),
        ).json()
        for offset in offsets
    ]

    def campaigns(document: dict[str, Any]) -> set[str]:
        results = document["data"]["attributes"]["results"]
        return {r["groupings"]["campaign_id"] for r in results}

    sent_then = {
        c["id"]
        for c in sandbox.ground_truth("campaign")
        if c["attributes"]["send_time"]
        and datetime.fromisoformat(c["attributes"]["send_time"]) == sends[-1]
    }
    for offset, reading in zip(offsets, local_readings, strict=True):
        assert sent_then & campaigns(reading), offset
    assert not sent_then & campaigns(utc_reading)


def test_null_settings_reach_the_report_as_json_null() -> None:
    with serve_in_thread(config(channel_gaps="null")) as running:
        metric = conversion_metric(running)
        response = httpx.post(
            running.base_url + PATH,
            json=body(metric, statistics=["opens", "clicks", "recipients"]),
            headers=headers(running.api_key),
        )
    rows = response.raise_for_status().json()["data"]["attributes"]["results"]
    by_channel = {r["groupings"]["send_channel"]: r["statistics"] for r in rows}
    assert by_channel["sms"]["opens"] is None
    assert by_channel["push-notification"]["clicks"] is None
    assert isinstance(by_channel["email"]["opens"], float)
    assert all(isinstance(r["statistics"]["recipients"], float) for r in rows)

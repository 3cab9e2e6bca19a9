"""Every served operation, over real HTTP, answers what Klaviyo's spec describes.

Each case is sent to a served sandbox; the request must pass the spec's
parameter rules and the body (successes and errors alike) must validate against
the operation's response schema in stable.json. Without the spec file, the
checks the committed digest allows still run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from tests.contract.spec_check import (
    RecordingTransport,
    assert_request_valid,
    assert_response_valid,
    load_spec,
    response_errors,
    spec_missing_reason,
)
from tests.sandbox.support import config, headers

from klaviyo_connector.sandbox import RunningSandbox, serve_in_thread

LIMITED_KEY = "pk_" + "contract" + "3" * 26
EMAIL = "equals(messages.channel,'email')"
STATS = ["opens", "open_rate", "clicks", "conversion_value", "recipients"]


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    status: int = 200
    body: dict[str, Any] | None = None
    key: str | None = None
    valid_request: bool = True


@pytest.fixture(scope="module")
def served() -> Iterator[RunningSandbox]:
    scoped = {LIMITED_KEY: frozenset({"accounts:read"})}
    with serve_in_thread(config(profiles=400, scoped_keys=scoped)) as running:
        yield running


@pytest.fixture(scope="module")
def ids(served: RunningSandbox) -> dict[str, str]:
    sandbox = served.sandbox
    found = {}
    for resource in ("campaign", "list", "segment", "profile", "metric"):
        found[resource] = next(iter(sandbox.ground_truth(resource)))["id"]
    metrics = list(sandbox.ground_truth("metric"))
    found["conversion_metric"] = next(
        m["id"] for m in metrics if sandbox.store.metric_supports_values(m["id"])
    )
    found["plain_metric"] = next(
        m["id"] for m in metrics if not sandbox.store.metric_supports_values(m["id"])
    )
    return found


def report(metric: str, **overrides: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "statistics": STATS,
        "timeframe": {"key": "last_365_days"},
        "conversion_metric_id": metric,
    }
    attributes.update(overrides)
    return {"data": {"type": "campaign-values-report", "attributes": attributes}}


def success_cases(ids: dict[str, str]) -> list[Case]:
    campaign, lst, segment = ids["campaign"], ids["list"], ids["segment"]
    return [
        Case("GET", "/api/accounts"),
        Case(
            "GET", "/api/accounts", {"fields[account]": "timezone,contact_information"}
        ),
        Case("GET", "/api/campaigns", {"filter": EMAIL}),
        Case("GET", "/api/campaigns", {"filter": "equals(messages.channel,'sms')"}),
        Case(
            "GET",
            "/api/campaigns",
            {"filter": "equals(messages.channel,'mobile_push')"},
        ),
        Case(
            "GET",
            "/api/campaigns",
            {
                "filter": f"and({EMAIL},equals(archived,true))",
                "include": "campaign-messages",
                "sort": "-updated_at",
                "page[size]": "5",
            },
        ),
        Case(
            "GET",
            "/api/campaigns",
            {
                "filter": f"and({EMAIL},greater-than(updated_at,2020-01-01T00:00:00Z))",
                "fields[campaign]": "name,status,send_strategy.method",
                "fields[campaign-message]": "definition.channel",
                "include": "campaign-messages",
            },
        ),
        Case("GET", f"/api/campaigns/{campaign}"),
        Case(
            "GET", f"/api/campaigns/{campaign}", {"include": "campaign-messages,tags"}
        ),
        Case("GET", f"/api/campaigns/{campaign}/campaign-messages"),
        Case(
            "GET",
            f"/api/campaigns/{campaign}/campaign-messages",
            {"include": "campaign"},
        ),
        Case("GET", "/api/lists"),
        Case("GET", "/api/lists", {"sort": "-updated", "page[size]": "3"}),
        Case(
            "GET",
            "/api/lists",
            {"filter": "greater-than(updated,2020-01-01T00:00:00Z)"},
        ),
        Case("GET", "/api/lists", {"fields[list]": "name,opt_in_process"}),
        Case("GET", f"/api/lists/{lst}"),
        Case("GET", f"/api/lists/{lst}", {"additional-fields[list]": "profile_count"}),
        Case("GET", "/api/segments", {"fields[segment]": "name,definition,is_active"}),
        Case("GET", "/api/segments", {"filter": "equals(is_active,true)"}),
        Case("GET", f"/api/segments/{segment}"),
        Case(
            "GET",
            f"/api/segments/{segment}",
            {"additional-fields[segment]": "profile_count"},
        ),
        Case("GET", "/api/profiles"),
        Case("GET", "/api/profiles", {"additional-fields[profile]": "subscriptions"}),
        Case(
            "GET",
            "/api/profiles",
            {
                "additional-fields[profile]": "subscriptions,predictive_analytics",
                "page[size]": "100",
            },
        ),
        Case(
            "GET",
            "/api/profiles",
            {
                "filter": "greater-than(updated,2024-01-01T00:00:00Z)",
                "sort": "updated",
                "page[size]": "100",
                "additional-fields[profile]": "subscriptions",
                "fields[profile]": "email,updated,subscriptions.email.marketing",
            },
        ),
        Case("GET", "/api/profiles", {"filter": f"equals(id,'{ids['profile']}')"}),
        Case("GET", "/api/metrics"),
        Case("GET", "/api/metrics", {"filter": "equals(integration.name,'Shopify')"}),
        Case(
            "POST",
            "/api/campaign-values-reports",
            body=report(ids["conversion_metric"]),
        ),
        Case(
            "POST",
            "/api/campaign-values-reports",
            {"page_cursor": "x"},
            body=report(
                ids["conversion_metric"],
                timeframe={
                    "start": "2026-01-01T00:00:00+00:00",
                    "end": "2026-06-01T00:00:00+00:00",
                },
                group_by=["campaign_id", "campaign_message_id", "send_channel"],
                filter='and(equals(send_channel,"email"))',
            ),
        ),
    ]


def error_cases(ids: dict[str, str]) -> list[Case]:
    bad_metric = ids["plain_metric"]
    good = ids["conversion_metric"]
    return [
        Case("GET", "/api/campaigns", status=400, valid_request=False),
        Case(
            "GET",
            "/api/campaigns",
            {"filter": "equals(status,'Sent')"},
            400,
            valid_request=False,
        ),
        Case("GET", "/api/profiles", {"page[size]": "101"}, 400, valid_request=False),
        Case("GET", "/api/lists", {"page[size]": "11"}, 400, valid_request=False),
        Case(
            "GET",
            "/api/profiles",
            {"filter": "greater-or-equal(updated,2024-01-01T00:00:00Z)"},
            400,
            valid_request=False,
        ),
        Case("GET", "/api/profiles", {"page[cursor]": "not-a-cursor"}, 400),
        Case("GET", "/api/segments", key="", status=401),
        Case("GET", "/api/segments", key="pk_" + "x" * 34, status=401),
        Case("GET", "/api/segments", key=LIMITED_KEY, status=403),
        Case("GET", "/api/lists/zzzzzz", status=404),
        Case(
            "GET",
            "/api/campaigns/01ZZZZZZZZZZZZZZZZZZZZZZZZ/campaign-messages",
            status=404,
        ),
        Case(
            "POST",
            "/api/campaign-values-reports",
            body=report(good, statistics=["revenue", "opens", "unique_recipients"]),
            status=400,
            valid_request=False,
        ),
        Case(
            "POST", "/api/campaign-values-reports", body=report(bad_metric), status=400
        ),
        Case(
            "POST",
            "/api/campaign-values-reports",
            body=report(
                good,
                timeframe={
                    "start": "2024-01-01T00:00:00Z",
                    "end": "2025-06-01T00:00:00Z",
                },
            ),
            status=400,
        ),
        Case(
            "POST",
            "/api/campaign-values-reports",
            body=report(good, group_by=["send_channel"]),
            status=400,
        ),
    ]


def send(served: RunningSandbox, case: Case) -> httpx.Response:
    key = served.api_key if case.key is None else case.key
    sent = headers(key) if key else {"revision": "2026-07-15"}
    request = httpx.Request(
        case.method,
        served.base_url + case.path,
        params=case.params,
        headers=sent,
        json=case.body,
    )
    with httpx.Client() as client:
        return client.send(request)


def check(served: RunningSandbox, case: Case) -> None:
    response = send(served, case)
    assert response.status_code == case.status, response.text[:500]
    url = str(response.request.url)
    if case.valid_request:
        assert_request_valid(case.method, url, case.body)
    else:
        with pytest.raises(AssertionError):
            assert_request_valid(case.method, url, case.body)
    assert response.headers["content-type"] == "application/vnd.api+json"
    assert_response_valid(case.method, url, response.status_code, response.json())


def test_successful_answers_match_the_spec(
    served: RunningSandbox, ids: dict[str, str]
) -> None:
    for case in success_cases(ids):
        check(served, case)


def test_error_answers_match_the_spec(
    served: RunningSandbox, ids: dict[str, str]
) -> None:
    for case in error_cases(ids):
        check(served, case)


def test_fault_answers_match_the_spec(served: RunningSandbox) -> None:
    served.sandbox.faults.add("throttle", retry_after=1, path="/api/lists")
    served.sandbox.faults.add("status", status=503, path="/api/metrics")
    for case in (
        Case("GET", "/api/lists", status=429),
        Case("GET", "/api/metrics", status=503),
    ):
        check(served, case)


def test_every_page_of_a_walk_matches_the_spec(served: RunningSandbox) -> None:
    transport = RecordingTransport(check_requests=True, check_responses=True)
    with httpx.Client(transport=transport, headers=headers(served.api_key)) as client:
        query = "page%5Bsize%5D=100&additional-fields%5Bprofile%5D=subscriptions"
        url: str | None = f"{served.base_url}/api/profiles?{query}"
        while url:
            links = client.get(url).raise_for_status().json()["links"]
            url = links["next"]
        url = links["prev"]  # and back to the first page
        while url:
            url = client.get(url).raise_for_status().json()["links"]["prev"]
    assert len(transport.exchanges) == 7  # 400 profiles: 4 pages, 3 back
    assert {e.status for e in transport.exchanges} == {200}


def test_the_checks_catch_what_breaks_the_spec() -> None:
    with pytest.raises(AssertionError, match="not declared"):
        assert_request_valid("GET", "http://x/api/profiles?page%5Bnumber%5D=2")
    with pytest.raises(AssertionError, match="out of bounds"):
        assert_request_valid("GET", "http://x/api/lists?page%5Bsize%5D=50")
    with pytest.raises(AssertionError, match="filter"):
        assert_request_valid("GET", "http://x/api/lists?filter=equals(name,'x')")
    with pytest.raises(AssertionError, match="not an operation"):
        assert_request_valid("GET", "http://x/api/flows")
    broken = {"data": [{"type": "list", "id": "x", "attributes": {"colour": "red"}}]}
    assert response_errors("GET", "http://x/api/lists", 200, broken)
    assert response_errors("GET", "http://x/api/lists", 400, {"errors": [{"id": "1"}]})


def test_full_schema_validation_ran() -> None:
    if load_spec() is None:
        pytest.skip(spec_missing_reason())
    missing_results = {"data": {"type": "campaign-values-report", "attributes": {}}}
    problems = response_errors(
        "POST", "http://x/api/campaign-values-reports", 200, missing_results
    )
    assert any("results" in p for p in problems)

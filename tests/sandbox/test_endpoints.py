"""What each operation answers: pagination, sparse fieldsets, includes,
additional fields, filters, sorting and determinism."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.sandbox.support import config, headers

from klaviyo_connector.sandbox import RunningSandbox, serve_in_thread

EMAIL = "equals(messages.channel,'email')"


def walk(client: httpx.Client, path: str, params: dict[str, str]) -> Iterator[dict]:
    """Every page, following links.next exactly as given."""
    page = client.get(path, params=params).raise_for_status().json()
    yield page
    while page["links"]["next"]:
        page = client.get(page["links"]["next"]).raise_for_status().json()
        yield page


def ids_of(pages: Iterator[dict]) -> list[str]:
    return [record["id"] for page in pages for record in page["data"]]


@pytest.mark.parametrize(
    ("resource", "path", "size"),
    [
        ("profile", "/api/profiles", 7),
        ("list", "/api/lists", 3),
        ("segment", "/api/segments", 10),
    ],
)
def test_paging_to_the_end_yields_every_record_once(
    served: RunningSandbox, api: httpx.Client, resource: str, path: str, size: int
) -> None:
    seen = ids_of(walk(api, path, {"page[size]": str(size)}))
    truth = [r["id"] for r in served.sandbox.ground_truth(resource)]
    assert len(seen) == len(set(seen))
    assert set(seen) == set(truth)


def test_metrics_page_without_a_size(served: RunningSandbox, api: httpx.Client) -> None:
    seen = ids_of(walk(api, "/api/metrics", {}))
    assert sorted(seen) == sorted(
        r["id"] for r in served.sandbox.ground_truth("metric")
    )


def test_campaigns_need_one_channel_and_hide_archived_by_default(
    served: RunningSandbox, api: httpx.Client
) -> None:
    truth = list(served.sandbox.ground_truth("campaign"))
    messages = {m["id"]: m for m in served.sandbox.ground_truth("campaign-message")}
    everything: set[str] = set()
    for channel in ("email", "sms", "mobile_push"):
        for archived in ("true", "false"):
            query = (
                f"and(equals(messages.channel,'{channel}'),equals(archived,{archived}))"
            )
            pages = list(
                walk(api, "/api/campaigns", {"filter": query, "page[size]": "4"})
            )
            for record in (r for p in pages for r in p["data"]):
                assert record["attributes"]["archived"] is (archived == "true")
                message_ids = [
                    m["id"]
                    for m in record["relationships"]["campaign-messages"]["data"]
                ]
                assert {
                    messages[m]["attributes"]["definition"]["channel"]
                    for m in message_ids
                } == {channel}
                everything.add(record["id"])
    assert everything == {c["id"] for c in truth}
    default = ids_of(walk(api, "/api/campaigns", {"filter": EMAIL}))
    archived = {c["id"] for c in truth if c["attributes"]["archived"]}
    assert default
    assert archived
    assert not set(default) & archived
    for bad in (
        None,
        "equals(archived,false)",
        f"and({EMAIL},equals(messages.channel,'sms'))",
    ):
        params = {"filter": bad} if bad else {}
        response = api.get("/api/campaigns", params=params)
        assert response.status_code == 400
        assert response.json()["errors"][0]["source"] == {"parameter": "filter"}


def test_page_links_repeat_the_query_and_end_with_null(
    served: RunningSandbox, api: httpx.Client
) -> None:
    params = {
        "filter": "greater-than(updated,2000-01-01T00:00:00Z)",
        "sort": "-updated",
        "fields[profile]": "email,updated",
        "additional-fields[profile]": "subscriptions",
        "page[size]": "100",
    }
    pages = list(walk(api, "/api/profiles", params))
    assert len(pages) == 3  # 250 profiles
    for url in [p["links"]["next"] for p in pages[:-1]] + [
        p["links"]["prev"] for p in pages[1:]
    ]:
        assert url.startswith(served.base_url + "/api/profiles?")
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        cursor = query.pop("page[cursor]")
        assert query == params
        assert cursor
    assert pages[-1]["links"]["next"] is None
    assert pages[0]["links"]["prev"] is None
    assert pages[0]["links"]["self"].startswith(served.base_url + "/api/profiles?")
    updated = [r["attributes"]["updated"] for p in pages for r in p["data"]]
    assert updated == sorted(updated, reverse=True)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/profiles", {"page[size]": "40", "sort": "-updated"}),
        ("/api/profiles", {"page[size]": "30", "sort": "email"}),  # the slow path
        ("/api/lists", {"page[size]": "5", "sort": "-created"}),
        ("/api/campaigns", {"filter": EMAIL, "page[size]": "2", "sort": "name"}),
    ],
)
def test_prev_links_return_exactly_the_page_before(
    api: httpx.Client, path: str, params: dict[str, str]
) -> None:
    pages = list(walk(api, path, params))
    assert len(pages) >= 3
    for before, page in pairwise(pages):
        back = api.get(page["links"]["prev"]).raise_for_status().json()
        assert back["data"] == before["data"]
        assert back["links"]["next"] == before["links"]["next"]
        assert back["links"]["prev"] == before["links"]["prev"]


def test_links_use_the_host_the_client_asked_for(served: RunningSandbox) -> None:
    port = served.base_url.rsplit(":", 1)[1]
    url = f"http://localhost:{port}/api/lists"
    page = httpx.get(url, headers=headers(served.api_key)).json()
    assert page["links"]["self"] == url
    assert page["links"]["next"].startswith(f"http://localhost:{port}/api/lists?")
    assert page["data"][0]["links"]["self"].startswith(
        f"http://localhost:{port}/api/lists/"
    )


def test_a_bad_cursor_names_the_parameter(api: httpx.Client) -> None:
    response = api.get("/api/profiles", params={"page[cursor]": "garbage!"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "page[cursor]"}


def test_profile_filters_select_matching_records(
    served: RunningSandbox, api: httpx.Client
) -> None:
    truth = sorted(
        served.sandbox.ground_truth("profile"), key=lambda r: r["attributes"]["updated"]
    )
    middle = truth[len(truth) // 2]["attributes"]["updated"]
    filter_ = f"greater-than(updated,{middle.replace('+00:00', 'Z')})"
    seen = ids_of(walk(api, "/api/profiles", {"filter": filter_, "page[size]": "50"}))
    expected = {r["id"] for r in truth if r["attributes"]["updated"] > middle}
    assert set(seen) == expected
    one = truth[0]
    found = api.get(
        "/api/profiles",
        params={"filter": f"equals(email,'{one['attributes']['email']}')"},
    )
    assert [r["id"] for r in found.json()["data"]] == [one["id"]]


def test_future_datetimes_in_filters_are_accepted(api: httpx.Client) -> None:
    """Klaviyo documents no bound; the sandbox filters with the date as given."""
    later = "2099-01-01T00:00:00Z"
    after = api.get(
        "/api/profiles", params={"filter": f"greater-than(updated,{later})"}
    )
    before = api.get(
        "/api/profiles",
        params={"filter": f"less-than(updated,{later})", "page[size]": "5"},
    )
    assert after.status_code == before.status_code == 200
    assert after.json()["data"] == []
    assert after.json()["links"]["next"] is None
    assert len(before.json()["data"]) == 5


def test_plus_sign_sent_raw_becomes_a_space_and_is_refused(api: httpx.Client) -> None:
    raw = "/api/profiles?filter=greater-than(updated,2024-01-01T00:00:00+00:00)"
    refused = api.get(httpx.URL(raw))
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["source"] == {"parameter": "filter"}
    assert "%2B" in error["detail"]
    encoded = api.get(
        "/api/profiles",
        params={"filter": "greater-than(updated,2024-01-01T00:00:00+00:00)"},
    )
    assert encoded.status_code == 200


def test_additional_fields_are_opt_in(
    served: RunningSandbox, api: httpx.Client
) -> None:
    plain = api.get("/api/profiles").json()["data"]
    assert plain
    for record in plain:
        assert "subscriptions" not in record["attributes"]
        assert "predictive_analytics" not in record["attributes"]
    both = api.get(
        "/api/profiles",
        params={"additional-fields[profile]": "subscriptions,predictive_analytics"},
    ).json()["data"]
    assert all("subscriptions" in r["attributes"] for r in both)
    assert all("predictive_analytics" in r["attributes"] for r in both)
    truth = {r["id"]: r for r in served.sandbox.ground_truth("profile")}
    with_subs = api.get(
        "/api/profiles", params={"additional-fields[profile]": "subscriptions"}
    ).json()["data"]
    for record in with_subs:
        assert record["attributes"] == truth[record["id"]]["attributes"]


def test_sparse_fieldsets_return_only_what_was_listed(api: httpx.Client) -> None:
    params = {
        "fields[profile]": "email,location.city,subscriptions.email.marketing.consent",
        "additional-fields[profile]": "subscriptions",
    }
    records = api.get("/api/profiles", params=params).json()["data"]
    located = [r for r in records if r["attributes"]["location"] is not None]
    assert located
    for record in located:
        assert set(record["attributes"]["location"]) == {"city"}
    for record in records:
        attributes = record["attributes"]
        assert set(attributes) == {"email", "location", "subscriptions"}
        email = attributes["subscriptions"].get("email")
        if email is not None:
            assert email == {"marketing": {"consent": email["marketing"]["consent"]}}
    lists = api.get("/api/lists", params={"fields[list]": "name"}).json()["data"]
    assert all(set(r["attributes"]) == {"name"} for r in lists)


def test_include_puts_campaign_messages_in_included(
    served: RunningSandbox, api: httpx.Client
) -> None:
    params = {"filter": EMAIL, "include": "campaign-messages", "page[size]": "5"}
    page = api.get("/api/campaigns", params=params).json()
    referenced = {
        m["id"]
        for c in page["data"]
        for m in c["relationships"]["campaign-messages"]["data"]
    }
    assert referenced
    assert {m["id"] for m in page["included"]} == referenced
    assert {m["type"] for m in page["included"]} == {"campaign-message"}
    without = api.get("/api/campaigns", params={"filter": EMAIL}).json()
    assert "included" not in without
    campaign = page["data"][0]
    single = api.get(
        f"/api/campaigns/{campaign['id']}", params={"include": "campaign-messages"}
    ).json()
    assert single["data"]["id"] == campaign["id"]
    assert single["included"]
    messages = api.get(
        f"/api/campaigns/{campaign['id']}/campaign-messages",
        params={"include": "campaign"},
    ).json()
    assert {m["id"] for m in messages["data"]} == {
        m["id"] for m in campaign["relationships"]["campaign-messages"]["data"]
    }
    assert [c["id"] for c in messages["included"]] == [campaign["id"]]


@pytest.mark.parametrize("resource", ["list", "segment"])
def test_profile_count_only_when_asked_and_on_a_lower_tier(
    served: RunningSandbox, resource: str
) -> None:
    record = next(iter(served.sandbox.ground_truth(resource)))
    path = f"/api/{resource}s/{record['id']}"
    with (
        serve_in_thread(config(rate_limits=True)) as limited,
        httpx.Client(
            base_url=limited.base_url, headers=headers(limited.api_key)
        ) as client,
    ):
        plain = client.get(path)
        counted = client.get(
            path, params={f"additional-fields[{resource}]": "profile_count"}
        )
        again = client.get(
            path, params={f"additional-fields[{resource}]": "profile_count"}
        )
    assert "profile_count" not in plain.json()["data"]["attributes"]
    count = counted.json()["data"]["attributes"]["profile_count"]
    assert isinstance(count, int)
    assert count == limited.sandbox.store.profile_count(resource, record["id"])
    assert plain.headers["RateLimit-Limit"] == "75, 75;w=1, 750;w=60"
    assert counted.headers["RateLimit-Limit"] == "1, 1;w=1, 15;w=60"
    assert again.status_code == 429


def test_unknown_ids_are_not_found(api: httpx.Client) -> None:
    for path in (
        "/api/lists/nope00",
        "/api/segments/nope00",
        "/api/campaigns/01ZZZZZZZZZZZZZZZZZZZZZZZZ",
    ):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found"


def test_same_seed_same_answers_other_seed_other_answers() -> None:
    def snapshot(seed: int) -> list[dict]:
        with (
            serve_in_thread(config(seed=seed)) as running,
            httpx.Client(
                base_url=running.base_url, headers=headers(running.api_key)
            ) as client,
        ):
            out = []
            for path, params in [
                (
                    "/api/profiles",
                    {
                        "page[size]": "100",
                        "additional-fields[profile]": "subscriptions",
                    },
                ),
                ("/api/lists", {"page[size]": "5", "sort": "-created"}),
                ("/api/campaigns", {"filter": EMAIL, "include": "campaign-messages"}),
                ("/api/metrics", {}),
            ]:
                for page in walk(client, path, params):
                    out.append({k: v for k, v in page.items() if k != "links"})
            return _without_hosts(out, running.base_url)

    first, second, other = snapshot(7), snapshot(7), snapshot(8)
    assert first == second
    assert first != other


def _without_hosts(value: object, base: str) -> object:
    if isinstance(value, dict):
        return {k: _without_hosts(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_hosts(v, base) for v in value]
    if isinstance(value, str):
        return value.replace(base, "")
    return value

"""KlaviyoClient over an in-process mock transport: requests, pages, stats, logs."""

from __future__ import annotations

import logging
import threading

import httpx
import orjson
import pytest
from tests.client.client_support import BASE, KEY, Script, doc, resources

from klaviyo_connector import __version__
from klaviyo_connector.client import KlaviyoClient, RequestInfo
from klaviyo_connector.errors import ConfigError, UnexpectedResponseError
from klaviyo_connector.keys import ApiKey


def test_sends_auth_revision_accept_and_user_agent(make_client):
    script = Script(doc({"type": "account", "id": "XfPy36"}))
    make_client(script).get("/api/accounts")
    sent = script.requests[0].headers
    assert sent["authorization"] == f"Klaviyo-API-Key {KEY}"
    assert sent["revision"] == "2026-07-15"
    assert sent["accept"] == "application/vnd.api+json"
    assert sent["user-agent"] == f"klaviyo-connector/{__version__}"
    assert "content-type" not in sent


def test_post_sends_json_api_body(make_client):
    script = Script(doc({"type": "campaign-values-report", "id": "r1"}))
    body = {"data": {"type": "campaign-values-report", "attributes": {"x": 1}}}
    result = make_client(script).post(
        "/api/campaign-values-reports", body, params={"page_cursor": "c1"}
    )
    request = script.requests[0]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/vnd.api+json"
    assert orjson.loads(request.content) == body
    assert str(request.url) == f"{BASE}/api/campaign-values-reports?page_cursor=c1"
    assert result["data"]["id"] == "r1"


def test_custom_revision_header(make_client):
    script = Script(doc([]))
    make_client(script, revision="2026-04-15").get("/api/lists")
    assert script.requests[0].headers["revision"] == "2026-04-15"


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("XfPy36", "That is a public key (site ID), which only works in the browser."),
        (
            "abc123xyz",
            "That doesn't look like a Klaviyo private API key (they start with pk_).",
        ),
        (
            "sk_live_abcdefgh12345678",
            "That doesn't look like a Klaviyo private API key (they start with pk_).",
        ),
        (
            KEY[:10] + "\u200b" + KEY[10:],
            "The API key contains a character that isn't allowed (often an invisible "
            "one from copy and paste).",
        ),
        (KEY[:10] + "\n" + KEY[10:], "The API key contains a space or line break."),
    ],
)
def test_a_value_that_is_no_private_key_is_refused_before_any_request(key, says):
    script = Script(doc([]))
    with pytest.raises(ConfigError) as caught:
        KlaviyoClient(ApiKey(key), transport=httpx.MockTransport(script))
    assert str(caught.value).startswith(says)
    assert key not in str(caught.value)
    assert script.requests == []


def test_surrounding_whitespace_is_not_part_of_the_key():
    script = Script(doc([]))
    client = KlaviyoClient(
        ApiKey(f"  {KEY}\n"), base_url=BASE, transport=httpx.MockTransport(script)
    )
    client.get("/api/lists")
    assert script.requests[0].headers["authorization"] == f"Klaviyo-API-Key {KEY}"
    assert repr(ApiKey(f" {KEY} ")) == f"ApiKey('pk_…{KEY[-4:]}')"


def test_empty_key_and_bad_base_url_are_config_errors():
    with pytest.raises(ConfigError, match="The Klaviyo API key is empty"):
        KlaviyoClient(ApiKey("  "))
    with pytest.raises(ConfigError, match="not an http"):
        KlaviyoClient(ApiKey(KEY), base_url="a.klaviyo.com")


def test_base_url_with_api_suffix_or_slash_is_normalised(make_client):
    script = Script(doc([]))
    client = KlaviyoClient(
        ApiKey(KEY), base_url=f"{BASE}/api/", transport=httpx.MockTransport(script)
    )
    client.get("/api/lists")
    client.close()
    assert script.urls == [f"{BASE}/api/lists"]


def test_first_request_encodes_plus_keeps_commas_and_brackets(make_client):
    script = Script(doc([]))
    params = {
        "filter": "greater-than(updated,2024-01-01T00:00:00+00:00)",
        "fields[profile]": "email,updated",
        "page[size]": "100",
        "sort": "updated",
    }
    list(make_client(script).paginate("/api/profiles", params))
    assert script.urls == [
        f"{BASE}/api/profiles?filter=greater-than(updated,2024-01-01T00:00:00%2B00:00)"
        "&fields[profile]=email,updated&page[size]=100&sort=updated"
    ]


def test_paginate_follows_next_exactly_as_given(make_client):
    # The next link already carries the filter and an escaped cursor: it must be
    # requested byte for byte, with nothing added.
    second = (
        f"{BASE}/api/profiles?filter=greater-than(updated,2024-01-01T00:00:00Z)"
        "&page%5Bsize%5D=100&page%5Bcursor%5D=bmV4dDo6aWQ6OjAxRjM%3D"
    )
    third = f"{BASE}/api/profiles/?page%5Bcursor%5D=abc%2Bdef"
    script = Script(
        doc(resources("profile", "p1", "p2"), second),
        doc(resources("profile", "p3"), third),
        doc(resources("profile", "p4"), None),
    )
    params = {
        "filter": "greater-than(updated,2024-01-01T00:00:00Z)",
        "page[size]": "100",
    }
    pages = list(make_client(script).paginate("/api/profiles", params))
    assert script.urls[1:] == [second, third]
    assert [r.url.raw_path.decode() for r in script.requests[1:]] == [
        second.removeprefix(BASE),
        third.removeprefix(BASE),
    ]
    assert script.urls[1].count("filter=") == 1
    assert [[r["id"] for r in p.data] for p in pages] == [["p1", "p2"], ["p3"], ["p4"]]
    assert [p.url for p in pages] == script.urls
    assert [p.next_url for p in pages] == [second, third, None]


@pytest.mark.parametrize(
    "links", [{"self": "x", "next": None}, {"self": "x"}, None], ids=str
)
def test_paginate_stops_when_next_is_null_or_missing(make_client, links):
    script = Script(doc(resources("list", "a"), links=links))
    pages = list(make_client(script).paginate("/api/lists"))
    assert len(pages) == 1
    assert pages[0].next_url is None
    assert len(script.requests) == 1


def test_paginate_stops_on_an_empty_page_even_with_a_next_link(make_client):
    script = Script(
        doc(resources("list", "a"), f"{BASE}/api/lists?page%5Bcursor%5D=2"),
        doc([], f"{BASE}/api/lists?page%5Bcursor%5D=3"),
    )
    pages = list(make_client(script).paginate("/api/lists"))
    assert [len(p.data) for p in pages] == [1, 0]
    assert pages[-1].next_url is None
    assert len(script.requests) == 2


def test_paginate_resumes_from_a_saved_next_link(make_client):
    saved = f"{BASE}/api/segments?page%5Bcursor%5D=saved%3D%3D"
    script = Script(doc(resources("segment", "s9"), None))
    pages = list(make_client(script).paginate("/api/segments", start_url=saved))
    assert script.urls == [saved]
    assert pages[0].data[0]["id"] == "s9"


def test_relative_next_link_is_joined_to_the_base_url(make_client):
    script = Script(
        doc(resources("metric", "m1"), "/api/metrics?page%5Bcursor%5D=2"),
        doc(resources("metric", "m2"), None),
    )
    list(make_client(script).paginate("/api/metrics"))
    assert script.urls[1] == f"{BASE}/api/metrics?page%5Bcursor%5D=2"


def test_next_link_to_another_host_is_refused(make_client):
    script = Script(doc(resources("list", "a"), "https://evil.example/api/lists?x=1"))
    with pytest.raises(UnexpectedResponseError) as caught:
        list(make_client(script).paginate("/api/lists"))
    assert str(caught.value).startswith(
        "GET /api/lists sent a `links.next` to another host (evil.example);"
        " the API key is only sent to a.klaviyo.com."
    )
    assert len(script.requests) == 1


def test_next_link_from_https_to_http_on_the_same_host_is_refused(make_client):
    script = Script(doc(resources("list", "a"), "http://a.klaviyo.com/api/lists?x=1"))
    with pytest.raises(UnexpectedResponseError) as caught:
        list(make_client(script).paginate("/api/lists"))
    assert str(caught.value).startswith(
        "GET /api/lists sent a `links.next` over http instead of https; the API "
        "key is only sent to https://a.klaviyo.com."
    )
    assert script.urls == [f"{BASE}/api/lists"]


def test_next_link_that_repeats_a_page_is_refused(make_client):
    again = f"{BASE}/api/lists?page%5Bcursor%5D=1"
    script = Script(doc(resources("list", "a"), again))
    with pytest.raises(UnexpectedResponseError, match="repeats an earlier page"):
        list(make_client(script).paginate("/api/lists"))
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"links": {"next": None}}, "a JSON object without `data`"),
        ({"data": {"type": "list", "id": "a"}}, "`data` that is not a list"),
        ({"data": ["a", "b"]}, "`data` that is not a list of resource objects"),
        ({"data": [], "links": "next"}, "`links` that is not an object"),
        ({"data": [{"type": "l"}], "links": {"next": 5}}, "a `links.next` that is not"),
        ({"data": [{"type": "l"}], "included": {}}, "`included` that is not a list"),
        ([1, 2], "a JSON list"),
    ],
)
def test_page_that_is_not_json_api_names_the_endpoint(make_client, body, what):
    script = Script(httpx.Response(200, content=orjson.dumps(body)))
    with pytest.raises(UnexpectedResponseError) as caught:
        list(make_client(script).paginate("/api/lists", {"page[size]": "10"}))
    error = caught.value
    assert str(error).startswith(f"GET /api/lists returned {what}")
    assert "instead of a Klaviyo JSON:API document." in str(error)
    assert error.endpoint == "/api/lists"
    assert len(script.requests) == 1  # a well-formed but wrong page is not retried


def test_get_returns_single_resource_document(make_client):
    script = Script(doc({"type": "list", "id": "Y6nRLr", "attributes": {"name": "N"}}))
    result = make_client(script).get(
        "/api/lists/Y6nRLr", {"additional-fields[list]": "profile_count"}
    )
    assert result["data"]["attributes"]["name"] == "N"
    assert script.urls == [
        f"{BASE}/api/lists/Y6nRLr?additional-fields[list]=profile_count"
    ]


def test_stats_count_requests_per_template_and_callback(make_client):
    seen: list[RequestInfo] = []
    script = Script(doc([]))
    client = make_client(script, on_request=seen.append)
    client.get("/api/campaigns/01ABCDEFGHJKMNPQRSTVWXYZ00/campaign-messages")
    client.get("/api/campaigns/01ZZZZZZZZZZZZZZZZZZZZZZZZ/campaign-messages")
    client.get("/api/lists", {"page[size]": "10"})
    assert client.stats.requests == 3
    assert client.stats.by_endpoint == {
        "/api/campaigns/{id}/campaign-messages": 2,
        "/api/lists": 1,
    }
    assert client.stats.throttled == 0
    assert client.stats.retries == 0
    assert [(i.method, i.path, i.endpoint, i.status) for i in seen][-1] == (
        "GET",
        "/api/lists",
        "/api/lists",
        200,
    )


def test_one_info_line_per_request_without_query(make_client, caplog):
    caplog.set_level(logging.DEBUG, logger="klaviyo_connector.client")
    script = Script(doc([]))
    make_client(script).get("/api/profiles", {"filter": "equals(email,'a@b.c')"})
    lines = [r for r in caplog.records if r.name == "klaviyo_connector.client"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
    message = lines[0].getMessage()
    assert message.startswith("GET /api/profiles 200 ")
    assert message.endswith("ms")
    assert "filter" not in message


def test_concurrent_pagination_from_threads_shares_one_client(make_client):
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page[cursor]", "0"))
        path = request.url.path
        following = f"{BASE}{path}?page%5Bcursor%5D={page + 1}" if page < 9 else None
        return doc(resources("x", f"{path}-{page}"), following)

    client = make_client(answer)
    results: dict[str, list[str]] = {}

    def read(path: str) -> None:
        results[path] = [r["id"] for p in client.paginate(path) for r in p.data]

    threads = [
        threading.Thread(target=read, args=(p,))
        for p in ("/api/lists", "/api/segments", "/api/profiles")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for path, ids in results.items():
        assert ids == [f"{path}-{i}" for i in range(10)]
    assert client.stats.requests == 30
    assert client.stats.by_endpoint == {
        "/api/lists": 10,
        "/api/segments": 10,
        "/api/profiles": 10,
    }


def test_repr_is_masked():
    client = KlaviyoClient(ApiKey(KEY))
    assert KEY not in repr(client)
    assert "pk_…" in repr(client)
    client.close()

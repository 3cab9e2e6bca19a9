"""Faults on demand each produce exactly the failure they promise."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from tests.sandbox.support import config, headers

from klaviyo_connector.sandbox import RunningSandbox, serve_in_thread

SCOPED_KEY = "pk_" + "scoped" + "2" * 28


@pytest.fixture
def running() -> Iterator[RunningSandbox]:
    scoped = {SCOPED_KEY: frozenset({"accounts:read"})}
    with serve_in_thread(config(scoped_keys=scoped)) as served:
        yield served


@pytest.fixture
def client(running: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.base_url, headers=headers(running.api_key)) as c:
        yield c


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_statuses_have_json_bodies(
    running: RunningSandbox, client: httpx.Client, status: int
) -> None:
    running.sandbox.faults.add("status", status=status)
    failed = client.get("/api/lists")
    assert failed.status_code == status
    assert failed.headers["content-type"] == "application/vnd.api+json"
    assert failed.json()["errors"][0]["status"] == status
    assert client.get("/api/lists").status_code == 200  # count=1 by default


@pytest.mark.parametrize("status", [403, 400])
def test_proxy_html_pages(
    running: RunningSandbox, client: httpx.Client, status: int
) -> None:
    running.sandbox.faults.add("html", status=status)
    page = client.get("/api/accounts")
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(page.content)
    assert ("cf-mitigated" in page.headers) is (status == 403)


def test_truncated_body_is_a_200_with_cut_off_json(
    running: RunningSandbox, client: httpx.Client
) -> None:
    whole = client.get("/api/lists").content
    running.sandbox.faults.add("truncated")
    cut = client.get("/api/lists")
    assert cut.status_code == 200
    assert 0 < len(cut.content) < len(whole)
    assert whole.startswith(cut.content[:20])
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(cut.content)


def test_slow_answer_outlasts_a_client_timeout(
    running: RunningSandbox, client: httpx.Client
) -> None:
    running.sandbox.faults.add("slow", delay=1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/api/accounts", timeout=0.2)
    running.sandbox.faults.add("slow", delay=0.05)
    assert client.get("/api/accounts").status_code == 200


@pytest.mark.parametrize(("retry_after", "header"), [(2, "2"), (0.5, "0.5")])
def test_throttle_storm_carries_the_given_retry_after(
    running: RunningSandbox, client: httpx.Client, retry_after: float, header: str
) -> None:
    running.sandbox.faults.add("throttle", retry_after=retry_after, count=3)
    responses = [client.get("/api/profiles") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert responses[0].headers["Retry-After"] == header
    error = responses[0].json()["errors"][0]
    assert error["code"] == "throttled"
    assert (
        error["detail"]
        == f"Request was throttled. Expected available in {header} second(s)."
    )
    assert running.sandbox.requests.throttled == 3


def test_reset_drops_the_connection(
    running: RunningSandbox, client: httpx.Client
) -> None:
    running.sandbox.faults.add("reset")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get("/api/metrics")
    assert client.get("/api/metrics").status_code == 200


def test_key_revoked_after_some_requests(
    running: RunningSandbox, client: httpx.Client
) -> None:
    running.sandbox.faults.add("revoke", after=2)
    statuses = [client.get("/api/accounts").status_code for _ in range(4)]
    assert statuses == [200, 200, 401, 401]


def test_path_rate_and_count_select_which_requests_fail(
    running: RunningSandbox, client: httpx.Client
) -> None:
    running.sandbox.faults.add(
        "status", status=503, path="/api/segments", count=None, rate=0.5
    )
    lists = [client.get("/api/lists").status_code for _ in range(10)]
    segments = [client.get("/api/segments/").status_code for _ in range(40)]
    assert set(lists) == {200}
    assert 5 < segments.count(503) < 35
    assert set(segments) == {200, 503}
    running.sandbox.faults.clear()
    assert client.get("/api/segments").status_code == 200


def test_control_routes_plan_and_clear_faults(
    running: RunningSandbox, client: httpx.Client
) -> None:
    planned = client.post(
        "/_sandbox/faults", json={"kind": "status", "status": 502, "count": 2}
    )
    assert planned.status_code == 201
    assert planned.json()["kind"] == "status"
    assert client.get("/_sandbox/faults").json()[0]["count"] == 2
    assert client.get("/api/lists").status_code == 502
    assert client.delete("/_sandbox/faults").status_code == 204
    assert client.get("/api/lists").status_code == 200
    refused = client.post("/_sandbox/faults", json={"kind": "status", "status": 418})
    assert refused.status_code == 400
    stats = client.get("/_sandbox/stats").json()
    assert stats["by_endpoint"]["GET /api/lists"] == 2
    assert stats["by_status"]["502"] == 1
    assert stats["faults_fired"] == 1


def test_control_routes_need_the_sandbox_own_key(
    running: RunningSandbox, client: httpx.Client
) -> None:
    anonymous = httpx.get(running.base_url + "/_sandbox/stats")
    scoped = httpx.get(
        running.base_url + "/_sandbox/stats", headers=headers(SCOPED_KEY)
    )
    assert anonymous.status_code == 401
    assert scoped.status_code == 403
    revoke = client.post("/_sandbox/revoke", json={"key": SCOPED_KEY})
    assert revoke.status_code == 204
    after = httpx.get(running.base_url + "/api/accounts", headers=headers(SCOPED_KEY))
    assert after.status_code == 401


def test_fault_arguments_are_validated(running: RunningSandbox) -> None:
    faults = running.sandbox.faults
    for kind, options, message in [
        ("status", {"status": 404}, "a status fault answers"),
        ("html", {"status": 500}, "an html fault answers"),
        ("slow", {}, "positive delay"),
        ("explode", {}, "unknown fault kind"),
        ("status", {"rate": 1.5}, "probability"),
        ("status", {"count": 0}, "at least 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            faults.add(kind, **options)  # type: ignore[arg-type]

"""Request conventions: authentication, scopes, revision, parameters, paths."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from tests.sandbox.support import REVISION, config, headers

from klaviyo_connector.sandbox import RunningSandbox, serve_in_thread

LIMITED_KEY = "pk_" + "limited" + "1" * 27
PUBLIC_KEY = "XfPy36"


@pytest.fixture(scope="module")
def keyed() -> Iterator[RunningSandbox]:
    scoped = {
        LIMITED_KEY: frozenset({"accounts:read", "lists:read"}),
        PUBLIC_KEY: frozenset({"accounts:read"}),
    }
    with serve_in_thread(config(scoped_keys=scoped)) as running:
        yield running


def get(running: RunningSandbox, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(running.base_url + path, **kwargs)  # type: ignore[arg-type]


def only_error(response: httpx.Response) -> dict:
    assert response.headers["content-type"] == "application/vnd.api+json"
    errors = response.json()["errors"]
    assert len(errors) == 1
    error = errors[0]
    uuid.UUID(error["id"])
    assert error["status"] == response.status_code
    assert set(error) >= {"id", "status", "code", "title", "detail", "source"}
    assert error["links"] == {}
    assert error["meta"] == {}
    return error


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "pk_abc",
        "Bearer",
        "Klaviyo-API-Key",
        "Basic Zm9v",
    ],
)
def test_missing_or_malformed_authorization(
    keyed: RunningSandbox, authorization: str | None
) -> None:
    sent = {"revision": REVISION}
    if authorization is not None:
        sent["Authorization"] = authorization
    response = get(keyed, "/api/accounts", headers=sent)
    assert response.status_code == 401
    error = only_error(response)
    assert error["code"] == "not_authenticated"
    assert error["title"] == "Authentication credentials were not provided."
    assert error["detail"] == (
        "Missing or invalid authorization scheme. Please use Klaviyo-API-Key."
    )
    assert error["source"] == {"pointer": "/data/"}


@pytest.mark.parametrize("key", ["pk_" + "unknown" + "9" * 27, PUBLIC_KEY])
def test_unknown_and_public_keys_fail_authentication(
    keyed: RunningSandbox, key: str
) -> None:
    response = get(keyed, "/api/accounts", headers=headers(key))
    assert response.status_code == 401
    error = only_error(response)
    assert error["code"] == "authentication_failed"
    assert error["detail"] == "Incorrect authentication credentials."
    assert key not in response.text


def test_revoked_key_fails_from_then_on() -> None:
    with serve_in_thread(config()) as running:
        before = get(running, "/api/accounts", headers=headers(running.api_key))
        running.sandbox.revoke_key(running.api_key)
        after = get(running, "/api/accounts", headers=headers(running.api_key))
    assert before.status_code == 200
    assert after.status_code == 401
    assert only_error(after)["code"] == "authentication_failed"


def test_missing_scope_is_permission_denied(keyed: RunningSandbox) -> None:
    allowed = get(keyed, "/api/lists", headers=headers(LIMITED_KEY))
    denied = get(keyed, "/api/segments", headers=headers(LIMITED_KEY))
    assert allowed.status_code == 200
    assert denied.status_code == 403
    error = only_error(denied)
    assert error["code"] == "permission_denied"
    assert "segments:read" in error["detail"]
    assert LIMITED_KEY not in denied.text
    assert "lists:read" not in denied.text


@pytest.mark.parametrize(
    "revision", [None, "", "latest", "2026-7-15", "2026-07-15.beta", "2026-02-30"]
)
def test_missing_or_malformed_revision(
    keyed: RunningSandbox, revision: str | None
) -> None:
    response = get(keyed, "/api/accounts", headers=headers(keyed.api_key, revision))
    assert response.status_code == 400
    error = only_error(response)
    assert error["code"] == "invalid"
    assert error["source"] == {"parameter": "revision"}


def test_future_revision_is_not_found(keyed: RunningSandbox) -> None:
    response = get(keyed, "/api/accounts", headers=headers(keyed.api_key, "2026-10-15"))
    assert response.status_code == 404
    assert only_error(response)["detail"] == "No valid revisions found for method"


def test_revision_handling_is_configurable() -> None:
    lenient = config(missing_revision="serve", later_revision="serve")
    with serve_in_thread(lenient) as running:
        missing = get(running, "/api/accounts", headers=headers(running.api_key, None))
        later = get(
            running, "/api/accounts", headers=headers(running.api_key, "2026-10-15")
        )
        malformed = get(
            running, "/api/accounts", headers=headers(running.api_key, "latest")
        )
    assert missing.status_code == 200
    assert missing.headers["X-Klaviyo-API-Revision"] == REVISION
    assert later.status_code == 200
    assert later.headers["X-Klaviyo-API-Revision"] == "2026-10-15"
    assert malformed.status_code == 400  # a malformed value is never served
    with pytest.raises(ValueError, match="missing_revision must be one of"):
        config(missing_revision="ignore")


@pytest.mark.parametrize("revision", ["2026-07-15", "2026-07-15.pre", "2025-01-15"])
def test_revision_is_echoed(keyed: RunningSandbox, revision: str) -> None:
    response = get(keyed, "/api/accounts", headers=headers(keyed.api_key, revision))
    assert response.status_code == 200
    assert response.headers["X-Klaviyo-API-Revision"] == revision
    assert response.headers["content-type"] == "application/vnd.api+json"


def test_errors_after_the_revision_check_still_echo_it(keyed: RunningSandbox) -> None:
    response = get(
        keyed, "/api/lists", params={"page[size]": "0"}, headers=headers(keyed.api_key)
    )
    assert response.status_code == 400
    assert response.headers["X-Klaviyo-API-Revision"] == REVISION


@pytest.mark.parametrize(
    ("path", "parameter", "value"),
    [
        ("/api/profiles", "page[size]", "0"),
        ("/api/profiles", "page[size]", "101"),
        ("/api/profiles", "page[size]", "ten"),
        ("/api/lists", "page[size]", "11"),
        ("/api/segments", "page[size]", "11"),
        ("/api/metrics", "page[size]", "5"),
        ("/api/profiles", "sort", "first_name"),
        ("/api/metrics", "sort", "name"),
        ("/api/profiles", "fields[profile]", "email,shoe_size"),
        ("/api/profiles", "additional-fields[profile]", "profile_count"),
        ("/api/lists", "include", "profiles"),
        ("/api/lists", "additional-fields[list]", "profile_count"),
        ("/api/accounts", "page[cursor]", "abc"),
        ("/api/profiles", "filter", "equals(first_name,'Ann')"),
        ("/api/profiles", "utm_source", "x"),
    ],
)
def test_bad_query_parameters_name_the_parameter(
    keyed: RunningSandbox, path: str, parameter: str, value: str
) -> None:
    response = get(
        keyed, path, params={parameter: value}, headers=headers(keyed.api_key)
    )
    assert response.status_code == 400
    error = only_error(response)
    assert error["code"] == "invalid"
    assert error["title"] == "Invalid input."
    assert error["source"] == {"parameter": parameter}


@pytest.mark.parametrize(
    ("path", "largest"),
    [
        ("/api/profiles", 100),
        ("/api/campaigns", 100),
        ("/api/lists", 10),
        ("/api/segments", 10),
    ],
)
def test_page_size_bounds_are_inclusive(
    keyed: RunningSandbox, path: str, largest: int
) -> None:
    params = (
        {"filter": "equals(messages.channel,'email')"} if "campaigns" in path else {}
    )
    for size in (1, largest):
        response = get(
            keyed,
            path,
            params={**params, "page[size]": str(size)},
            headers=headers(keyed.api_key),
        )
        assert response.status_code == 200, response.text


def test_unknown_parameters_pass_when_not_strict() -> None:
    with serve_in_thread(config(strict_params=False)) as running:
        response = get(
            running,
            "/api/accounts",
            params={"utm": "1"},
            headers=headers(running.api_key),
        )
    assert response.status_code == 200


def test_unknown_path_and_method(keyed: RunningSandbox) -> None:
    missing = get(keyed, "/api/catalogs/", headers=headers(keyed.api_key))
    assert missing.status_code == 404
    error = only_error(missing)
    assert (error["code"], error["detail"]) == (
        "not_found",
        "The path /api/catalogs/ could not be found",
    )
    wrong = httpx.delete(keyed.base_url + "/api/lists", headers=headers(keyed.api_key))
    assert wrong.status_code == 405
    assert only_error(wrong)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path",
    ["/api/accounts", "/api/accounts/", "/api/lists", "/api/lists/", "/api/metrics/"],
)
def test_paths_work_with_and_without_trailing_slash(
    keyed: RunningSandbox, path: str
) -> None:
    response = get(keyed, path, headers=headers(keyed.api_key))
    assert response.status_code == 200
    assert response.json()["links"]["self"] == keyed.base_url + path


def test_request_counters(keyed: RunningSandbox) -> None:
    before = keyed.sandbox.requests[("GET", "/api/metrics")]
    get(keyed, "/api/metrics/", headers=headers(keyed.api_key))
    get(keyed, "/api/metrics", headers=headers(keyed.api_key))
    assert keyed.sandbox.requests[("GET", "/api/metrics")] == before + 2


def test_the_app_runs_in_process_without_a_server() -> None:
    import asyncio

    from klaviyo_connector.sandbox import Sandbox

    sandbox = Sandbox(config())

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sbx") as c:
            return await c.get(
                "/api/accounts/", headers=headers(sandbox.config.api_key)
            )

    response = asyncio.run(fetch())
    assert response.status_code == 200
    assert response.json()["links"]["self"] == "http://sbx/api/accounts/"

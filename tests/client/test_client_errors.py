"""Every way a request can fail: the typed error, its text, and the retries."""

from __future__ import annotations

import logging

import httpx
import pytest
from tests.client.client_support import KEY, Script, doc, error, html, resources

from klaviyo_connector.client import KlaviyoClient
from klaviyo_connector.errors import (
    AuthenticationError,
    ConfigError,
    InvalidRequestError,
    KlaviyoError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    UnreachableError,
)
from klaviyo_connector.keys import ApiKey

OK = doc(resources("profile", "p1"))


def test_401_is_authentication_error_with_the_fix(make_client):
    script = Script(
        error(401, "authentication_failed", "Incorrect authentication credentials.")
    )
    with pytest.raises(AuthenticationError) as caught:
        make_client(script).get("/api/accounts")
    assert str(caught.value) == (
        "Klaviyo rejected the API key on GET /api/accounts (401 authentication_failed:"
        " Incorrect authentication credentials). Check the private API key"
        " (Klaviyo > Settings > API Keys): it may be mistyped, revoked or from"
        " another account."
    )
    assert (caught.value.status, caught.value.code) == (401, "authentication_failed")
    assert len(script.requests) == 1


def test_403_permission_denied_names_the_missing_scope(make_client):
    script = Script(
        error(
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
        )
    )
    with pytest.raises(PermissionDeniedError) as caught:
        list(make_client(script).paginate("/api/segments", {"page[size]": "10"}))
    err = caught.value
    assert err.scope == "segments:read"
    assert err.endpoint == "/api/segments"
    assert str(err) == (
        "Klaviyo refused GET /api/segments (403 permission_denied: You do not have"
        " permission to perform this action): the key lacks `segments:read`."
        " Add `segments:read` in Klaviyo > Settings > API Keys, or deselect the"
        " table that needs it."
    )
    assert len(script.requests) == 1


def test_403_on_a_single_resource_uses_that_endpoints_scope(make_client):
    script = Script(error(403, "permission_denied", "No."))
    with pytest.raises(PermissionDeniedError) as caught:
        make_client(script).get("/api/campaigns/01ABC/campaign-messages")
    assert caught.value.scope == "campaigns:read"


def test_scope_fix_can_name_the_table():
    from klaviyo_connector.client import scope_fix

    assert scope_fix("segments:read", "segment") == (
        "Add `segments:read` in Klaviyo > Settings > API Keys, or deselect the"
        " segment table."
    )


def test_403_html_proxy_page_is_retried_then_unexpected_response(
    make_client, fake_time
):
    script = Script(html(403))
    with pytest.raises(UnexpectedResponseError) as caught:
        make_client(script).get("/api/lists")
    assert str(caught.value).startswith(
        "GET /api/lists answered 403 with an HTML page instead of Klaviyo's JSON."
        " Gave up after 3 attempts."
    )
    assert caught.value.status == 403
    assert len(script.requests) == 3
    assert len(fake_time.sleeps) == 2


def test_403_html_that_clears_on_retry_succeeds(make_client):
    script = Script(html(403), OK)
    assert make_client(script).get("/api/profiles")["data"][0]["id"] == "p1"


def test_400_html_is_unexpected_response_without_retry(make_client):
    script = Script(html(400))
    with pytest.raises(UnexpectedResponseError, match="answered 400 with an HTML page"):
        make_client(script).get("/api/lists")
    assert len(script.requests) == 1


def test_400_json_is_invalid_request_with_code_detail_and_source(make_client):
    script = Script(
        error(
            400,
            "invalid",
            "'any' is not an allowed operator for 'updated'.",
            source={"parameter": "filter"},
        )
    )
    with pytest.raises(InvalidRequestError) as caught:
        make_client(script).get("/api/profiles", {"filter": "any(updated,[1])"})
    err = caught.value
    assert (err.status, err.code, err.source) == (
        400,
        "invalid",
        {"parameter": "filter"},
    )
    assert err.detail == "'any' is not an allowed operator for 'updated'."
    assert str(err) == (
        "Klaviyo refused GET /api/profiles (400 invalid: 'any' is not an allowed"
        " operator for 'updated'; parameter filter). This is a connector bug or an"
        " API change; please report it with the log."
    )
    assert len(script.requests) == 1


def test_404_json_is_invalid_request(make_client):
    script = Script(
        error(404, "not_found", "The path /api/catalogs/ could not be found")
    )
    with pytest.raises(InvalidRequestError) as caught:
        make_client(script).get("/api/catalogs")
    assert caught.value.status == 404
    assert str(caught.value).startswith(
        "Klaviyo refused GET /api/catalogs (404 not_found: The path /api/catalogs/"
        " could not be found)."
    )


def test_4xx_without_klaviyo_json_is_unexpected_response(make_client):
    script = Script(
        httpx.Response(405, text="nope", headers={"content-type": "text/plain"})
    )
    with pytest.raises(UnexpectedResponseError, match="answered 405 with a body"):
        make_client(script).get("/api/lists")


@pytest.mark.parametrize("retry_after", ["0.5", "60", "1"])
def test_429_waits_exactly_retry_after_then_succeeds(
    make_client, fake_time, retry_after
):
    throttled = error(
        429,
        "throttled",
        "Request was throttled. Expected available in 1 second.",
        headers={"Retry-After": retry_after},
    )
    script = Script(throttled, throttled, OK)
    client = make_client(script)
    assert client.get("/api/profiles")["data"][0]["id"] == "p1"
    seconds = float(retry_after)
    retry_sleeps = [s for s in fake_time.sleeps if s >= seconds]
    assert len(retry_sleeps) == 2
    for slept in retry_sleeps:
        assert seconds <= slept <= seconds + min(1.0, 0.1 * seconds + 0.05)
    assert sum(fake_time.sleeps) <= 2 * (seconds + min(1.0, 0.1 * seconds + 0.05))
    assert client.stats.throttled == 2
    assert client.stats.retries == 2
    assert client.stats.requests == 3


def test_429_keeps_retrying_within_max_wait_then_rate_limit_error(
    make_client, fake_time
):
    throttled = error(429, "throttled", "Slow down.", headers={"Retry-After": "30"})
    script = Script(throttled)
    client = make_client(script, max_wait=100.0, max_attempts=2)
    with pytest.raises(RateLimitError) as caught:
        client.get("/api/profiles")
    # Three waits of 30-31 s fit in 100 s; a fourth would not. max_attempts does
    # not cut 429s short: only the time budget does.
    assert len(script.requests) == 4
    assert caught.value.retry_after == 30.0
    assert str(caught.value).startswith(
        "Klaviyo kept throttling GET /api/profiles (429 throttled: Slow down). Waited 9"
    )
    assert "the most the connector waits. Klaviyo kept throttling;" in str(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 524])
def test_retried_server_errors_then_success(make_client, status):
    script = Script(
        error(status, "error", "Boom."), error(status, "error", "Boom."), OK
    )
    client = make_client(script)
    assert client.get("/api/profiles")["data"]
    assert len(script.requests) == 3
    assert client.stats.retries == 2


def test_persistent_503_gives_up_after_max_attempts(make_client, fake_time):
    script = Script(error(503, "service_unavailable", "Try later."))
    with pytest.raises(ServerError) as caught:
        make_client(script, max_attempts=5).get("/api/lists")
    assert len(script.requests) == 5
    assert str(caught.value) == (
        "Klaviyo failed to answer GET /api/lists (503 service_unavailable: Try later)."
        " Gave up after 5 attempts. Klaviyo is having trouble; the next run retries"
        " from where this one stopped."
    )
    # Capped exponential backoff with jitter: each step between half and all of
    # 0.5, 1, 2, 4 seconds.
    assert len(fake_time.sleeps) == 4
    for step, slept in zip([0.5, 1, 2, 4], fake_time.sleeps, strict=True):
        assert step / 2 <= slept <= step


def test_backoff_is_capped(make_client, fake_time):
    script = Script(error(500, "error", "x"))
    with pytest.raises(ServerError):
        make_client(script, max_attempts=10, backoff_max=3.0).get("/api/lists")
    assert max(fake_time.sleeps) <= 3.0
    assert len(fake_time.sleeps) == 9


def test_503_with_retry_after_waits_at_least_that(make_client, fake_time):
    script = Script(error(503, "x", "y", headers={"Retry-After": "7"}), OK)
    make_client(script).get("/api/lists")
    assert fake_time.sleeps[0] >= 7


def test_501_is_not_retried(make_client):
    script = Script(error(501, "not_implemented", "No."))
    with pytest.raises(ServerError):
        make_client(script).get("/api/lists")
    assert len(script.requests) == 1


def _raiser(exc: Exception):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "what"),
    [
        (
            httpx.ConnectError("[Errno -2] Name or service not known"),
            "the host name did not resolve (DNS)",
        ),
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            "the connection was refused or failed",
        ),
        (httpx.ConnectTimeout("timed out"), "connecting timed out"),
        (httpx.ReadTimeout("timed out"), "the answer timed out"),
        (
            httpx.RemoteProtocolError("Server disconnected"),
            "the connection was reset or closed mid-answer",
        ),
        (
            httpx.ReadError("[Errno 104] Connection reset by peer"),
            "the connection was reset or closed mid-answer",
        ),
    ],
)
def test_transport_failures_are_retried_then_transport_error(make_client, exc, what):
    script = Script(_raiser(exc))
    client = make_client(script, max_attempts=3)
    with pytest.raises(TransportError) as caught:
        client.get("/api/profiles", {"filter": "equals(email,'x@y.z')"})
    assert str(caught.value) == (
        f"Could not reach Klaviyo at a.klaviyo.com for GET /api/profiles: {what}."
        " Gave up after 3 attempts. Check the network and the base URL; the next run"
        " retries."
    )
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert len(script.requests) == 3
    assert client.stats.requests == 3


def test_reset_then_success(make_client):
    script = Script(_raiser(httpx.ReadError("reset")), OK)
    assert make_client(script).get("/api/profiles")["data"]


@pytest.mark.parametrize(
    "body", [b'{"data": [{"type": "profile", "id"', b"", b"\x00\xff"]
)
def test_truncated_or_invalid_json_is_retried_then_unexpected(make_client, body):
    bad = httpx.Response(
        200, content=body, headers={"content-type": "application/vnd.api+json"}
    )
    script = Script(bad)
    with pytest.raises(UnexpectedResponseError) as caught:
        make_client(script, max_attempts=4).get("/api/profiles")
    assert str(caught.value).startswith(
        "GET /api/profiles answered 200 with a body that is not valid JSON (cut short"
        " or malformed). Gave up after 4 attempts."
    )
    assert len(script.requests) == 4


def test_truncated_then_good_body_succeeds(make_client):
    bad = httpx.Response(200, content=b'{"data": [')
    script = Script(bad, OK)
    pages = list(make_client(script).paginate("/api/profiles"))
    assert pages[0].data[0]["id"] == "p1"


def test_retries_are_logged_at_warning_with_reason_and_wait(make_client, caplog):
    caplog.set_level(logging.INFO, logger="klaviyo_connector.client")
    script = Script(error(429, "throttled", "x", headers={"Retry-After": "2"}), OK)
    make_client(script).get("/api/profiles", {"page[size]": "100"})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert (
        warnings[0]
        .getMessage()
        .startswith("GET /api/profiles: 429 throttled; retrying in 2.")
    )
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert [m.split(" ")[:3] for m in infos] == [
        ["GET", "/api/profiles", "429"],
        ["GET", "/api/profiles", "200"],
    ]


def test_retry_lines_count_attempts_as_the_progress_note_does(make_client, caplog):
    caplog.set_level(logging.WARNING, logger="klaviyo_connector.client")
    throttled = error(429, "throttled", "x", headers={"Retry-After": "1"})
    unavailable = error(503, "service_unavailable", "x")
    make_client(Script(unavailable, throttled, unavailable, OK)).get("/api/profiles")
    endings = [r.getMessage().rsplit("s", 1)[-1] for r in caplog.records]
    assert endings == [" (attempt 2 of 8)", "", " (attempt 3 of 8)"]


def _every_failure() -> list[httpx.Response | Exception]:
    echo = f"Key {KEY} is not valid Klaviyo-API-Key {KEY}"
    return [
        error(401, "authentication_failed", echo),
        error(403, "permission_denied", echo),
        error(400, "invalid", echo, source={"parameter": KEY}),
        error(503, "x", echo),
        error(429, "throttled", echo, headers={"Retry-After": "1"}),
        html(403),
        httpx.Response(200, content=b"{" + KEY.encode()),
        httpx.ConnectError(f"cannot connect with {KEY}"),
        httpx.ReadTimeout(f"timeout {KEY}"),
    ]


@pytest.mark.parametrize("answer", _every_failure(), ids=lambda a: type(a).__name__)
def test_key_never_appears_in_errors_or_logs(make_client, caplog, answer):
    caplog.set_level(logging.DEBUG)
    handler = _raiser(answer) if isinstance(answer, Exception) else Script(answer)
    client = make_client(handler, max_attempts=2, max_wait=3.0)
    with pytest.raises(KlaviyoError) as caught:
        client.get("/api/profiles", {"filter": "equals(email,'a@b.c')"})
    err = caught.value
    texts = [str(err), repr(err), *map(str, err.args), str(vars(err)), repr(client)]
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.args) for r in caplog.records]
    texts += [caplog.text]
    for text in texts:
        assert KEY not in text
        assert KEY[3:] not in text


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/api/v2", "https://h/x?y=1"])
def test_a_base_url_with_a_path_is_a_config_error(url):
    with pytest.raises(ConfigError) as caught:
        KlaviyoClient(ApiKey(KEY), base_url=url)
    assert "has a path; it is the address alone" in str(caught.value)


def test_a_retry_after_beyond_max_wait_says_what_klaviyo_asked(make_client, fake_time):
    throttled = error(429, "throttled", "Slow down.", headers={"Retry-After": "400"})
    script = Script(throttled)
    with pytest.raises(RateLimitError) as caught:
        make_client(script, max_wait=300.0).get("/api/lists")
    assert len(script.requests) == 1
    assert str(caught.value) == (
        "Klaviyo kept throttling GET /api/lists (429 throttled: Slow down). "
        "Klaviyo asked to wait 400 s, longer than max_wait (300 s); the next sync "
        "continues where this one stopped. To wait longer, raise max_wait "
        "(KLAVIYO_MAX_WAIT)."
    )


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno -2] Name or service not known"),
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
    ],
)
def test_no_connection_at_all_gets_three_short_tries(make_client, fake_time, exc):
    script = Script(_raiser(exc))
    with pytest.raises(UnreachableError) as caught:
        make_client(script, max_attempts=8).get("/api/lists")
    assert len(script.requests) == 3
    assert sum(fake_time.sleeps) <= 1.5
    assert str(caught.value).endswith(
        "Gave up after 3 attempts. Check the network and the base URL; the next run "
        "retries."
    )


def test_an_answer_that_times_out_keeps_the_full_budget(make_client, fake_time):
    script = Script(_raiser(httpx.ReadTimeout("timed out")))
    with pytest.raises(TransportError) as caught:
        make_client(script, max_attempts=8).get("/api/lists")
    assert not isinstance(caught.value, UnreachableError)
    assert len(script.requests) == 8

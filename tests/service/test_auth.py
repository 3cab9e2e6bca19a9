"""Sign-in and cross-site protection of every page and API route."""

from __future__ import annotations

import stat

import pytest
from fastapi.testclient import TestClient
from tests.service.support import bearer, csrf_of, make_app, sign_in

from klaviyo_connector.service.settings import ServiceSettings


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path / "data")


@pytest.fixture
def client(app):
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c


@pytest.mark.parametrize("path", ["/", "/connect", "/connections/1", "/docs"])
def test_pages_send_strangers_to_sign_in(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/connections"),
        ("GET", "/api/runs/1"),
        ("POST", "/api/connections/1/sync"),
        ("POST", "/api/signin-links"),
        ("GET", "/openapi.json"),
    ],
)
def test_api_answers_401_without_sign_in(client, method, path):
    response = client.request(method, path)
    assert response.status_code == 401
    assert "Sign in first" in response.json()["detail"]


def test_one_time_link_works_once(client):
    token = client.app.state.service.auth.issue_link()
    first = client.get(f"/signin?token={token}", follow_redirects=False)
    assert (first.status_code, first.headers["location"]) == (303, "/")
    cookie = first.headers["set-cookie"].lower()
    assert "samesite=strict" in cookie
    assert "httponly" in cookie
    assert client.get("/", follow_redirects=False).status_code == 200
    client.cookies.clear()
    again = client.get(f"/signin?token={token}", follow_redirects=False)
    assert again.status_code == 401
    assert "already used or has expired" in again.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_new_link_retires_the_old_one(client):
    auth = client.app.state.service.auth
    old, new = auth.issue_link(), auth.issue_link()
    assert client.get(f"/signin?token={old}", follow_redirects=False).status_code == 401
    assert client.get(f"/signin?token={new}", follow_redirects=False).status_code == 303


def test_expired_link_is_refused(tmp_path):
    app = make_app(tmp_path / "data", signin_ttl_seconds=-1)
    with TestClient(app) as client:
        token = app.state.service.auth.issue_link()
        assert client.get(f"/signin?token={token}").status_code == 401


def test_bearer_token_opens_the_api_but_not_the_pages(app, client):
    assert client.get("/api/connections", headers=bearer(app)).json() == []
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/api/connections", headers=wrong).status_code == 401
    page = client.get("/", headers=bearer(app), follow_redirects=False)
    assert page.status_code == 303
    minted = client.post("/api/signin-links", headers=bearer(app)).json()
    assert minted["url"].startswith("http://127.0.0.1:8000/signin?token=")
    token = minted["url"].split("token=")[1]
    assert (
        client.get(f"/signin?token={token}", follow_redirects=False).status_code == 303
    )


def test_form_without_token_is_refused(client):
    sign_in(client)
    response = client.post("/signout", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert "did not come from this dashboard" in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_form_is_refused_even_with_the_token(client, headers):
    csrf = sign_in(client)
    response = client.post(
        "/signout", data={"csrf_token": csrf}, headers=headers, follow_redirects=False
    )
    assert response.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200


def test_same_site_form_with_token_is_accepted(client):
    csrf = sign_in(client)
    response = client.post(
        "/signout",
        data={"csrf_token": csrf},
        headers={"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/signin")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_api_writes_with_a_session_need_the_token_header(client):
    csrf = sign_in(client)
    assert client.post("/api/signin-links").status_code == 403
    assert (
        client.post("/api/signin-links", headers={"X-CSRF-Token": "x"}).status_code
        == 403
    )
    ok = client.post("/api/signin-links", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


def test_each_session_gets_its_own_token(app):
    with TestClient(app) as one, TestClient(app) as two:
        assert sign_in(one) != sign_in(two)
        assert csrf_of(one) == csrf_of(one)


def test_secret_files_are_owner_only(app, tmp_path):
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    app.state.service.auth.issue_link()  # a write: SQLite opens its WAL files
    files = ["secret.key", "session.key", "api-token", "connector.db"]
    files += ["connector.db-wal", "connector.db-shm"]
    for name in files:
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_a_database_left_readable_is_tightened(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "connector.db").touch(mode=0o644)
    make_app(data).state.service.auth.issue_link()
    for name in ("connector.db", "connector.db-wal", "connector.db-shm"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(app, client):
    csrf = sign_in(client)
    copied = dict(client.cookies)
    out = client.post("/signout", data={"csrf_token": csrf})
    assert out.url.path == "/signin"
    with TestClient(app, base_url="http://127.0.0.1:8000", cookies=copied) as thief:
        page = thief.get("/", follow_redirects=False)
        assert (page.status_code, page.headers["location"]) == (303, "/signin")
        assert thief.get("/api/connections").status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(("scheme", "secure"), [("https", True), ("http", False)])
def test_the_cookie_is_secure_over_https(app, scheme, secure):
    with TestClient(app, base_url=f"{scheme}://127.0.0.1:8000") as browser:
        token = app.state.service.auth.issue_link()
        signed_in = browser.get(f"/signin?token={token}", follow_redirects=False)
        cookie = [p.strip().lower() for p in signed_in.headers["set-cookie"].split(";")]
        assert {"httponly", "samesite=strict"} <= set(cookie)
        assert ("secure" in cookie) is secure


def test_a_minted_link_ignores_the_host_the_request_names(tmp_path):
    app = make_app(tmp_path / "data", host="127.0.0.1", port=8123)
    with TestClient(app, base_url="http://attacker.example") as client:
        minted = client.post("/api/signin-links", headers=bearer(app)).json()
    assert minted["url"].startswith("http://127.0.0.1:8123/signin?token=")


@pytest.mark.parametrize(
    ("host", "public_url", "link"),
    [
        ("127.0.0.1", None, "http://127.0.0.1:8000/signin?token=t"),
        ("0.0.0.0", None, "http://127.0.0.1:8000/signin?token=t"),  # noqa: S104
        ("::1", None, "http://[::1]:8000/signin?token=t"),
        (
            "127.0.0.1",
            "https://connector.example.com/",
            "https://connector.example.com/signin?token=t",
        ),
    ],
)
def test_links_are_built_from_the_configured_address(host, public_url, link):
    settings = ServiceSettings(host=host, port=8000, public_url=public_url)
    assert settings.signin_url("t") == link

"""What every page loads besides itself: the icon, the stylesheet, the script."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.service.support import make_app, wait_run


@pytest.fixture
def stranger(tmp_path):
    with TestClient(make_app(tmp_path / "data")) as c:
        yield c


@pytest.mark.parametrize("path", ["/favicon.ico", "/static/favicon.svg"])
def test_the_icon_is_served_without_sign_in(stranger, path):
    response = stranger.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.lstrip().startswith("<svg")


def test_pages_name_the_icon(stranger):
    page = stranger.get("/signin").text
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg">' in page


# Every way a page or stylesheet names something to load or follow.
_REFERENCE = re.compile(
    r"""(?:src|href|action|xlink:href)\s*=\s*["']([^"']*)["']"""
    r"""|url\(\s*["']?([^"')]*)|@import\s+["']([^"']*)|fetch\(\s*["']([^"']*)"""
)


def _outside(text: str, origin: str) -> list[str]:
    found = ["".join(groups) for groups in _REFERENCE.findall(text)]
    ours = ("/", "#", "?", "data:", origin + "/")
    return [u for u in found if u.startswith("//") or not u.startswith(ours)]


def test_no_page_loads_anything_from_outside_the_app(client, sandbox):
    created = client.post(
        "/api/connections",
        json={"name": "Main store", "api_key": sandbox.api_key},
        headers={"X-CSRF-Token": client.csrf},
    ).json()
    cid = created["id"]
    run = client.post(
        f"/api/connections/{cid}/sync", headers={"X-CSRF-Token": client.csrf}
    ).json()
    assert wait_run(client, run["id"])["status"] == "succeeded"
    pages = [
        "/",
        "/connect",
        f"/connections/{cid}",
        f"/connections/{cid}?tab=historical",
        f"/connections/{cid}?tab=settings",
        f"/connections/{cid}/setup/tables",
        f"/connections/{cid}/setup/finish",
        "/docs",
        "/static/app.css",
        "/static/live.js",
        "/static/forms.js",
        "/charts.css",
    ]
    origin = str(client.base_url).rstrip("/")
    cdn = '<script src="https://cdn.example/ui.js"></script><a href="//x.example">'
    assert _outside(cdn, origin) == ["https://cdn.example/ui.js", "//x.example"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert _outside(response.text, origin) == [], path
    assert "<svg" in client.get("/").text
    docs = client.get("/docs").text
    assert 'src="/docs-assets/swagger-ui-bundle.js"' in docs
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200


@pytest.mark.parametrize(
    "path", ["/signin", "/", "/api/connections", "/static/app.css", "/charts.css"]
)
def test_every_answer_carries_the_security_headers(stranger, path):
    headers = stranger.get(path, follow_redirects=False).headers
    assert headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"


def test_the_api_page_allows_only_its_own_inline_script(client):
    policy = client.get("/docs").headers["content-security-policy"]
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'; ", policy)

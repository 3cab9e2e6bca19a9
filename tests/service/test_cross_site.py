"""Forms and API writes that did not come from our pages are refused, and change
nothing: connect, Sync now, historical launch, auto-sync, settings and delete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.service.support import bearer, make_app, sign_in

OWN = "http://127.0.0.1:8000"
REFUSED = "Refused: this form did not come from this dashboard"

FORMS = {
    "connect": ("/connect", {"name": "Intruder", "api_key": "{key}"}),
    "sync now": ("/connections/{cid}/sync", {}),
    "historical": (
        "/connections/{cid}/historical",
        {"start": "2026-01-01", "end": "2026-01-31"},
    ),
    "auto-sync": ("/connections/{cid}/auto-sync", {"enabled": "on"}),
    "settings": (
        "/connections/{cid}/settings",
        {"name": "Renamed", "sync_period": "1h", "tables": "list"},
    ),
    "delete": ("/connections/{cid}/delete", {}),
}
# (headers, whether the form token is sent): another site's page, with and
# without the token it cannot have, and our own origin without the token.
ATTEMPTS = {
    "bad origin": ({"Origin": "https://evil.example"}, True),
    "cross-site fetch": ({"Sec-Fetch-Site": "cross-site"}, True),
    "foreign referer": ({"Referer": "https://evil.example/page"}, True),
    "no token": ({"Origin": OWN, "Sec-Fetch-Site": "same-origin"}, False),
}


class Shop:
    """A signed-in browser and one set-up connection that has never run."""

    def __init__(self, browser: TestClient, csrf: str, cid: int, key: str) -> None:
        self.browser, self.csrf, self.cid, self.key = browser, csrf, cid, key
        self.script = bearer(browser.app)  # type: ignore[arg-type]

    def state(self) -> dict[str, Any]:
        """Everything a refused request could have changed."""
        api = {"headers": self.script}
        connections = self.browser.get("/api/connections", **api).json()
        runs = self.browser.get(f"/api/connections/{self.cid}/runs", **api).json()
        return {"connections": connections, "runs": runs}


@pytest.fixture
def shop(tmp_path, sandbox) -> Iterator[Shop]:
    app = make_app(tmp_path / "data", base_url=sandbox.base_url)
    with TestClient(app, base_url=OWN) as browser:
        csrf = sign_in(browser)
        created = browser.post(
            "/api/connections",
            json={"name": "Main store", "api_key": sandbox.api_key},
            headers=bearer(app),
        )
        assert created.status_code == 201, created.text
        yield Shop(browser, csrf, created.json()["id"], sandbox.api_key)


@pytest.mark.parametrize("attempt", ATTEMPTS)
@pytest.mark.parametrize("form", FORMS)
def test_a_form_from_elsewhere_is_refused_and_changes_nothing(shop, form, attempt):
    path, fields = FORMS[form]
    headers, with_token = ATTEMPTS[attempt]
    data = {k: v.format(key=shop.key) for k, v in fields.items()}
    if with_token:
        data["csrf_token"] = shop.csrf
    before = shop.state()
    response = shop.browser.post(
        path.format(cid=shop.cid), data=data, headers=headers, follow_redirects=False
    )
    assert response.status_code == 403
    assert REFUSED in response.text
    assert shop.state() == before
    assert shop.browser.app.state.service.queue.wait_idle(5)  # type: ignore[attr-defined]
    assert shop.state()["runs"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/connections/{cid}/sync", None),
        ("POST", "/api/connections/{cid}/historical", {"start": "2026-01-01"}),
        ("DELETE", "/api/connections/{cid}", None),
        ("PATCH", "/api/connections/{cid}", {"name": "Renamed"}),
    ],
)
def test_an_api_write_with_the_session_but_no_token_is_refused(
    shop, method, path, body
):
    before = shop.state()
    response = shop.browser.request(method, path.format(cid=shop.cid), json=body)
    assert response.status_code == 403
    assert REFUSED in response.json()["detail"]
    assert shop.state() == before


def test_the_same_forms_from_our_own_page_work(shop):
    """The refusals above are the check at work, not forms that never work."""
    own = {"Origin": OWN, "Sec-Fetch-Site": "same-origin"}
    token = {"csrf_token": shop.csrf}
    sync = shop.browser.post(
        f"/connections/{shop.cid}/sync", data=token, headers=own, follow_redirects=False
    )
    assert sync.status_code == 303
    assert shop.browser.app.state.service.queue.wait_idle(120)  # type: ignore[attr-defined]
    assert [r["kind"] for r in shop.state()["runs"]] == ["manual"]
    gone = shop.browser.post(
        f"/connections/{shop.cid}/delete",
        data=token,
        headers=own,
        follow_redirects=False,
    )
    assert (gone.status_code, gone.headers["location"]) == (303, "/")
    assert shop.state()["connections"] == []

"""The setup steps against the sandbox: connect, select reports, finish setup."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.service.support import (
    NO_SEGMENTS_KEY,
    PUBLIC_KEY,
    WRONG_KEY,
    make_app,
    sign_in,
)


def _connect(client, key, name="Main store", **kw):
    return client.post(
        "/connect",
        data={"csrf_token": client.csrf, "name": name, "api_key": key},
        **kw,
    )


def _connections(client):
    return client.get("/api/connections", headers={"X-CSRF-Token": client.csrf}).json()


def test_connect_shows_account_and_scopes_then_setup_finishes(client, sandbox):
    page = _connect(client, sandbox.api_key)
    assert page.status_code == 200
    assert "Connected to <strong>Aurora Outfitters Ltd.</strong>" in page.text
    assert page.text.count("all scopes present") == 5
    assert sandbox.api_key not in page.text
    tables = client.get("/connections/1/setup/tables")
    assert tables.text.count('name="tables"') == 5
    assert tables.text.count("checked") == 5
    saved = client.post(
        "/connections/1/setup/tables",
        data={"csrf_token": client.csrf, "tables": ["campaign", "list", "profile"]},
        follow_redirects=False,
    )
    assert saved.headers["location"] == "/connections/1/setup/finish"
    finish = client.get("/connections/1/setup/finish")
    assert "Placed Order (Shopify, 2mHvgp)" in finish.text
    done = client.post(
        "/connections/1/setup/finish",
        data={
            "csrf_token": client.csrf,
            "sync_period": "cron",
            "sync_cron": "15 */2 * * *",
            "lookback_days": "30",
            "destination": "duckdb",
            "conversion_metric": "ZrlFJG",
            "auto_sync": "on",
        },
        follow_redirects=False,
    )
    assert done.headers["location"] == "/connections/1"
    (conn,) = _connections(client)
    assert conn["tables"] == ["campaign", "list", "profile"]
    assert (conn["sync_period"], conn["sync_cron"], conn["lookback_days"]) == (
        "cron",
        "15 */2 * * *",
        30,
    )
    assert conn["conversion_metric"]["id"] == "ZrlFJG"
    assert conn["auto_sync"] is True
    assert conn["next_sync_at"].endswith(":15:00Z")
    assert conn["dataset"] == "klaviyo_main_store"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (WRONG_KEY, "Check the private API key"),
        (PUBLIC_KEY, "That is a public key (site ID)"),
        ("", "Enter the private API key"),
    ],
)
def test_a_bad_key_is_explained_and_nothing_is_saved(client, key, message):
    page = _connect(client, key)
    assert page.status_code == 400
    assert message in page.text
    assert 'value="Main store"' in page.text
    assert _connections(client) == []


def test_an_unreachable_api_is_explained(tmp_path):
    app = make_app(tmp_path / "data", base_url="http://127.0.0.1:9")
    with TestClient(app) as client:
        client.csrf = sign_in(client)
        page = _connect(client, "pk_" + "Unreachable" * 3 + "x")
        assert page.status_code == 400
        assert (
            "Klaviyo could not be reached at http://127.0.0.1:9; check the network, "
            "or start the service with KLAVIYO_BASE_URL pointing at the right address"
        ) in page.text
        assert "next run" not in page.text
        assert _connections(client) == []
        api = client.post(
            "/api/connections/check",
            json={"api_key": "pk_" + "Unreachable" * 3 + "x"},
            headers={"X-CSRF-Token": client.csrf},
        )
        assert api.status_code == 400
        assert "could not be reached at http://127.0.0.1:9;" in api.json()["detail"]


def test_connect_names_the_klaviyo_address_it_talks_to(client, sandbox):
    page = client.get("/connect").text
    assert f"Klaviyo API: <code>{sandbox.base_url}</code>" in page


def test_a_key_missing_a_scope_names_it_and_leaves_the_table_unticked(client):
    page = _connect(client, NO_SEGMENTS_KEY)
    assert page.status_code == 200
    missing = re.search(
        r'<li class="missing" data-table="segment">(.*?)</li>', page.text, re.S
    )
    assert missing
    assert "segments:read" in missing.group(1)
    assert page.text.count("all scopes present") == 4
    tables = client.get("/connections/1/setup/tables").text
    boxes = dict(re.findall(r'name="tables" value="(\w+)"\s*(checked)?\s*>', tables))
    assert boxes == {
        "campaign": "checked",
        "list": "checked",
        "segment": "",
        "profile": "checked",
        "campaign_performance_stats": "checked",
    }
    assert "missing segments:read" in tables


def test_selecting_no_table_is_refused(client, sandbox):
    _connect(client, sandbox.api_key)
    page = client.post("/connections/1/setup/tables", data={"csrf_token": client.csrf})
    assert page.status_code == 400
    assert "select at least one table" in page.text


def test_bad_settings_are_explained_and_kept_for_correction(client, sandbox):
    _connect(client, sandbox.api_key)
    page = client.post(
        "/connections/1/setup/finish",
        data={
            "csrf_token": client.csrf,
            "sync_period": "cron",
            "sync_cron": "every tuesday",
            "lookback_days": "14",
            "destination": "duckdb",
        },
    )
    assert page.status_code == 400
    assert (
        '<p class="error" role="alert">The cron expression is not valid: ' in page.text
    )
    assert 'value="every tuesday"' in page.text
    assert _connections(client)[0]["setup_complete"] is False


def test_two_accounts_get_their_own_dataset(client, sandbox):
    _connect(client, sandbox.api_key, "Shop")
    _connect(client, sandbox.api_key, "Shop!")
    datasets = sorted(c["dataset"] for c in _connections(client))
    assert datasets == ["klaviyo_shop", "klaviyo_shop_2"]


def test_the_connect_result_is_a_page_of_its_own_so_a_reload_posts_nothing(
    client, sandbox
):
    posted = _connect(client, sandbox.api_key, follow_redirects=False)
    assert posted.status_code == 303
    assert posted.headers["location"] == "/connections/1/setup/connected"
    for _reload in range(2):
        page = client.get(posted.headers["location"])
        assert "Connected to <strong>Aurora Outfitters Ltd.</strong>" in page.text
        assert page.text.count("all scopes present") == 5
        assert 'href="/connections/1/setup/tables">Continue</a>' in page.text
    assert [c["name"] for c in _connections(client)] == ["Main store"]


def test_a_second_connection_by_the_same_name_is_refused(client, sandbox):
    _connect(client, sandbox.api_key, "Main store")
    again = _connect(client, sandbox.api_key, "  main   STORE ")
    assert again.status_code == 400
    assert (
        'A connection called "Main store" already exists: open it from the '
        "dashboard, or give this one another name."
    ) in again.text.replace("&#34;", '"')
    assert len(_connections(client)) == 1
    headers = {"X-CSRF-Token": client.csrf}
    body = {"name": "Main Store", "api_key": sandbox.api_key}
    api = client.post("/api/connections", json=body, headers=headers)
    assert (api.status_code, api.json()["detail"]) == (
        409,
        'A connection called "Main store" already exists: open it from the '
        "dashboard, or give this one another name.",
    )
    other = client.post(
        "/api/connections", json=body | {"name": "Outlet"}, headers=headers
    ).json()
    renamed = client.patch(
        f"/api/connections/{other['id']}", json={"name": "main store"}, headers=headers
    )
    assert renamed.status_code == 409
    assert [c["name"] for c in _connections(client)] == ["Main store", "Outlet"]


def _finish(client, destination, credentials=None):
    data = {
        "csrf_token": client.csrf,
        "sync_period": "24h",
        "lookback_days": "14",
        "destination": destination,
    }
    if credentials:
        data["destination_credentials"] = credentials
    return client.post("/connections/1/setup/finish", data=data)


def test_a_destination_that_does_not_answer_is_not_saved(client, sandbox):
    _connect(client, sandbox.api_key)
    page = _finish(client, "postgres", "postgresql://loader:S3cretPass@127.0.0.1:1/db")
    assert page.status_code == 400
    error = re.search(r'<p class="error" role="alert">(.*?)</p>', page.text, re.S)
    assert error, page.text
    assert error[1] == (
        "Could not connect to the postgres destination: connection to server at "
        "&#34;127.0.0.1&#34;, port 1 failed: Connection refused. Check the host, "
        "port, user, password and database in the credentials, and that the server "
        "is running and accepts connections from this machine. Nothing was saved."
    )
    assert "S3cretPass" not in page.text
    assert 'value="postgres"' in page.text, "the form keeps what was typed"
    (conn,) = _connections(client)
    assert (conn["destination"], conn["destination_credentials_set"]) == (
        "duckdb",
        False,
    )
    assert conn["setup_complete"] is False


def test_a_destination_without_credentials_says_where_they_go(
    client, sandbox, monkeypatch
):
    monkeypatch.delenv("DESTINATION__POSTGRES__CREDENTIALS", raising=False)
    _connect(client, sandbox.api_key)
    page = _finish(client, "postgres")
    assert page.status_code == 400
    assert (
        "The postgres destination has no credentials: give them in Credentials "
        "(for postgres a URL like postgresql://user:password@host:5432/database), "
        "or set DESTINATION__POSTGRES__CREDENTIALS where the service runs. "
        "Nothing was saved."
    ) in page.text
    assert _connections(client)[0]["setup_complete"] is False


def test_the_api_refuses_a_destination_that_does_not_answer(client, sandbox):
    body = {
        "name": "Warehouse",
        "api_key": sandbox.api_key,
        "destination": "postgres",
        "destination_credentials": "postgresql://loader@127.0.0.1:1/db",
    }
    headers = {"X-CSRF-Token": client.csrf}
    created = client.post("/api/connections", json=body, headers=headers)
    assert created.status_code == 400
    assert created.json()["detail"].startswith(
        "Could not connect to the postgres destination: connection to server at "
    )
    assert _connections(client) == []

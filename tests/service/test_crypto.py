"""Secrets at rest: owner-only files, encryption with a file key or the environment."""

from __future__ import annotations

import logging
import stat

import pytest
from fastapi.testclient import TestClient
from tests.service.support import WRONG_KEY, bearer, sign_in, wait_run

from klaviyo_connector.errors import ConfigError
from klaviyo_connector.service.app import create_app
from klaviyo_connector.service.crypto import (
    Vault,
    ensure_private_dir,
    read_or_create_secret,
)
from klaviyo_connector.service.db import Connection
from klaviyo_connector.service.settings import ServiceSettings

KEY = "pk_" + "a1b2c3d4e5" * 3 + "wxyz"


def test_secret_file_is_owner_only_and_stable(tmp_path):
    path = tmp_path / "secret.key"
    first = read_or_create_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_or_create_secret(path) == first


def test_data_dir_is_private(tmp_path):
    ensure_private_dir(tmp_path / "data")
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


def test_a_folder_another_run_creates_first_is_taken_as_is(tmp_path, monkeypatch):
    """Two connections' first runs create the warehouse folder at once: the
    one that loses the race finds it made."""
    folder = tmp_path / "warehouse"
    real_is_dir = type(folder).is_dir
    answers = iter([False])  # the first look misses the other run's mkdir

    def racing_is_dir(path):
        if path == folder:
            first = next(answers, None)
            if first is False:
                folder.mkdir(mode=0o700)
                return False
        return real_is_dir(path)

    monkeypatch.setattr(type(folder), "is_dir", racing_is_dir)
    ensure_private_dir(folder)
    assert real_is_dir(folder)


def test_vault_round_trip_hides_the_key(tmp_path):
    vault = Vault.open(tmp_path, None)
    token = vault.encrypt(KEY)
    assert KEY not in token
    assert vault.decrypt(token) == KEY


def test_environment_secret_replaces_the_file(tmp_path):
    token = Vault.open(tmp_path, "a passphrase from the environment").encrypt(KEY)
    assert not (tmp_path / "secret.key").exists()
    assert Vault("a passphrase from the environment").decrypt(token) == KEY


def test_wrong_secret_says_what_to_do(tmp_path):
    token = Vault("one").encrypt(KEY)
    with pytest.raises(ConfigError, match="KLAVIYO_CONNECTOR_SECRET"):
        Vault("another").decrypt(token)


LOCKED = (
    "The stored Klaviyo API key cannot be decrypted with this encryption secret. "
    "Restore the KLAVIYO_CONNECTOR_SECRET (or the data folder's secret.key) it was "
    "saved with and restart, or re-enter the Klaviyo API key on the connection's "
    "Settings tab."
)


def _app(data, sandbox, secret):
    settings = ServiceSettings(
        data_dir=data, klaviyo_base_url=sandbox.base_url, secret=secret
    )
    return create_app(settings)


def test_a_changed_secret_is_explained_and_the_key_can_be_re_entered(
    tmp_path, sandbox, caplog
):
    data = tmp_path / "data"
    first = _app(data, sandbox, "the first secret")
    with TestClient(first, headers=bearer(first)) as api:
        body = {
            "name": "Main store",
            "api_key": sandbox.api_key,
            "tables": ["list", "campaign_performance_stats"],
        }
        cid = api.post("/api/connections", json=body).json()["id"]
        assert wait_run(api, api.post(f"/api/connections/{cid}/sync").json()["id"])
    with caplog.at_level(logging.WARNING):
        other = _app(data, sandbox, "another secret")
    assert f"connection 'Main store': {LOCKED}" in caplog.text
    with TestClient(other, base_url="http://127.0.0.1:8000") as browser:
        csrf = sign_in(browser)
        for page in ("/", f"/connections/{cid}", f"/connections/{cid}?tab=settings"):
            answer = browser.get(page)
            assert answer.status_code == 200, page
            assert LOCKED.replace("'", "&#39;") in answer.text, page
        api = TestClient(other, headers=bearer(other))
        assert api.get(f"/api/connections/{cid}").json()["secret_problem"] == LOCKED
        run = wait_run(api, api.post(f"/api/connections/{cid}/sync").json()["id"])
        assert (run["status"], run["error"]) == ("failed", LOCKED)
        replaced = browser.post(
            f"/connections/{cid}/key",
            data={"csrf_token": csrf, "api_key": sandbox.api_key},
        )
        assert "API key replaced." in replaced.text
        assert 'id="secret-problem"' not in replaced.text
        run = wait_run(api, api.post(f"/api/connections/{cid}/sync").json()["id"])
        assert run["status"] == "succeeded"


def test_a_key_of_another_account_is_refused(app, sandbox):
    with TestClient(app, headers=bearer(app)) as api:
        body = {"name": "Main store", "api_key": sandbox.api_key}
        cid = api.post("/api/connections", json=body).json()["id"]
        with app.state.service.db.session() as s:
            conn = s.get(Connection, cid)
            conn.account_id, conn.account_name = "another-account", "Old Shop Inc."
        refused = api.put(
            f"/api/connections/{cid}/key", json={"api_key": sandbox.api_key}
        )
        assert refused.status_code == 400
        assert refused.json()["detail"] == (
            "This key belongs to Aurora Outfitters Ltd., not to Old Shop Inc.: "
            "connect it as a new connection, so the two accounts' data stay apart."
        )
        wrong = api.put(f"/api/connections/{cid}/key", json={"api_key": WRONG_KEY})
        assert "Check the private API key" in wrong.json()["detail"]


def test_an_existing_folder_keeps_its_mode_and_gets_owner_only_files(tmp_path, sandbox):
    data = tmp_path / "shared"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "notes.txt").write_text("the user's own file")
    (data / "notes.txt").chmod(0o644)
    app = _app(data, sandbox, None)
    with TestClient(app, headers=bearer(app)) as api:
        body = {"name": "Main store", "api_key": sandbox.api_key, "tables": ["list"]}
        cid = api.post("/api/connections", json=body).json()["id"]
        assert wait_run(api, api.post(f"/api/connections/{cid}/sync").json()["id"])
    assert stat.S_IMODE(data.stat().st_mode) == 0o755
    assert stat.S_IMODE((data / "notes.txt").stat().st_mode) == 0o644
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
    assert {
        name: modes[name]
        for name in ("secret.key", "session.key", "api-token", "connector.db")
    } == dict.fromkeys(
        ("secret.key", "session.key", "api-token", "connector.db"), 0o600
    )
    assert modes["warehouse"] == 0o700

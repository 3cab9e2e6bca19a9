"""The JSON API end to end: the real engine syncing from the sandbox."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.service.support import (
    NO_SEGMENTS_KEY,
    PUBLIC_KEY,
    WRONG_KEY,
    bearer,
    make_app,
    wait_for,
    wait_run,
)

TABLES = ["campaign", "list", "segment", "profile", "campaign_performance_stats"]


@pytest.fixture
def api(app):
    """A script's view: the bearer token, no session, no form token."""
    with TestClient(app, headers=bearer(app)) as c:
        yield c


def _create(api, key, **extra):
    return api.post(
        "/api/connections", json={"name": "Main store", "api_key": key} | extra
    )


def test_check_reports_account_scopes_and_metrics_without_saving(api, sandbox):
    chk = api.post("/api/connections/check", json={"api_key": NO_SEGMENTS_KEY}).json()
    assert chk["account_name"] == "Aurora Outfitters Ltd."
    segment = chk["tables"]["segment"]
    assert (segment["ok"], segment["missing_scopes"]) == (False, ["segments:read"])
    assert "segments:read" in segment["problem"]
    assert "deselect the segment table" in segment["problem"]
    assert chk["detected_metric"]["name"] == "Placed Order"
    assert api.get("/api/connections").json() == []


@pytest.mark.parametrize(
    ("key", "message"),
    [(WRONG_KEY, "Check the private API key"), (PUBLIC_KEY, "That is a public key")],
)
def test_create_refuses_bad_keys(api, key, message):
    response = _create(api, key)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert api.get("/api/connections").json() == []


def test_create_with_a_missing_scope_selects_only_readable_tables(api):
    conn = _create(api, NO_SEGMENTS_KEY).json()
    assert conn["tables"] == [
        "campaign",
        "list",
        "profile",
        "campaign_performance_stats",
    ]
    assert conn["permissions"]["segment"]["missing_scopes"] == ["segments:read"]
    assert conn["key"] == "pk_…2345"


def test_invalid_settings_never_echo_the_key(api, sandbox):
    response = _create(api, sandbox.api_key, sync_period="cron")
    assert response.status_code == 422
    assert sandbox.api_key not in response.text
    assert "cron expression" in response.text


def test_connection_lifecycle(api, sandbox):
    created = _create(api, sandbox.api_key, lookback_days=30)
    assert created.status_code == 201
    conn = created.json()
    cid = conn["id"]
    assert (conn["health"], conn["setup_complete"], conn["tables"]) == (
        "never run",
        True,
        TABLES,
    )
    patched = api.patch(
        f"/api/connections/{cid}",
        json={"sync_period": "6h", "lookback_days": 7, "name": "Store EU"},
    ).json()
    assert (
        patched["sync_period_label"],
        patched["lookback_days"],
        patched["name"],
    ) == ("every 6 hours", 7, "Store EU")
    tables = api.put(
        f"/api/connections/{cid}/tables", json={"tables": ["list", "segment"]}
    )
    assert tables.json()["tables"] == ["list", "segment"]
    bad = api.put(f"/api/connections/{cid}/tables", json={"tables": ["orders"]})
    assert (bad.status_code, bad.json()["detail"]) == (
        400,
        "Tables: unknown table(s): orders.",
    )
    on = api.put(f"/api/connections/{cid}/auto-sync", json={"enabled": True}).json()
    next_at = dt.datetime.fromisoformat(on["next_sync_at"])
    assert (
        dt.timedelta(hours=5)
        < next_at - dt.datetime.now(dt.UTC)
        <= dt.timedelta(hours=6)
    )
    off = api.put(f"/api/connections/{cid}/auto-sync", json={"enabled": False}).json()
    assert (off["next_sync_at"], off["health"]) == (None, "never run")
    assert api.delete(f"/api/connections/{cid}").status_code == 204
    assert api.get(f"/api/connections/{cid}").status_code == 404


def test_sync_now_loads_rows_per_table(api, sandbox):
    cid = _create(api, sandbox.api_key).json()["id"]
    queued = api.post(f"/api/connections/{cid}/sync")
    assert queued.status_code == 202
    assert queued.json()["kind"] == "manual"
    run = wait_run(api, queued.json()["id"])
    assert run["status"] == "succeeded", run
    assert run["tables"]["profile"]["rows"] == 300
    assert run["tables"]["list"]["rows"] > 0
    assert run["requests"] == sum(t["requests"] for t in run["tables"].values())
    # The first sync has no cursor: every table is read from the beginning.
    assert (run["window_start"], run["full_history_tables"]) == (None, list(TABLES))
    assert run["window_label"][0] == "full history"
    conn = api.get(f"/api/connections/{cid}").json()
    assert (conn["health"], conn["last_status"]) == ("paused", "succeeded")
    again = wait_run(api, api.post(f"/api/connections/{cid}/sync").json()["id"])
    window = dt.datetime.fromisoformat(again["window_end"]) - dt.datetime.fromisoformat(
        again["window_start"]
    )
    assert (window, again["full_history_tables"]) == (dt.timedelta(days=14), [])
    runs = api.get(f"/api/connections/{cid}/runs").json()
    assert [r["id"] for r in runs] == [again["id"], run["id"]]


def _email_rates_in(duckdb_file: str, dataset: str) -> list[tuple[str, float]]:
    """Email campaigns with rates, newest send first, read straight from DuckDB."""
    import duckdb

    with duckdb.connect(duckdb_file, read_only=True) as db:
        return db.execute(
            "select s.campaign_id, s.open_rate"
            f" from {dataset}.campaign_performance_stats s"
            f" join {dataset}.campaign c on c.id = s.campaign_id"
            " where s.send_channel = 'email' and s.open_rate is not null"
            " order by c.send_time desc, s.campaign_id"
        ).fetchall()


def test_campaign_rates_are_what_the_dashboard_charts(api, sandbox):
    cid = _create(api, sandbox.api_key).json()["id"]
    before = api.get(f"/api/connections/{cid}/campaign-rates")
    assert before.json() == {"readable": False, "campaigns": []}
    wait_run(api, api.post(f"/api/connections/{cid}/sync").json()["id"])
    conn = api.get(f"/api/connections/{cid}").json()
    rates = api.get(f"/api/connections/{cid}/campaign-rates").json()
    assert rates["readable"] is True
    stored = _email_rates_in(conn["duckdb_file"], conn["dataset"])
    assert stored, "the sync loaded email campaigns with rates"
    campaigns = rates["campaigns"]
    assert [(c["campaign_id"], c["open_rate"]) for c in campaigns] == [
        (i, pytest.approx(r)) for i, r in stored[:8]
    ]
    names = {
        c["id"]: c["attributes"]["name"]
        for c in sandbox.sandbox.ground_truth("campaign")
    }
    for campaign in campaigns:
        assert campaign["name"] == names[campaign["campaign_id"]]
        assert 0 <= campaign["click_rate"] <= campaign["open_rate"] <= 1
    missing = api.get("/api/connections/999/campaign-rates")
    assert (missing.status_code, missing.json()["detail"]) == (
        404,
        "No such connection.",
    )


def test_historical_recovery_records_its_window(api, sandbox):
    cid = _create(
        api, sandbox.api_key, tables=["campaign", "campaign_performance_stats"]
    )
    cid = cid.json()["id"]
    body = {"start": "2026-01-01", "end": "2026-03-31"}
    run = api.post(f"/api/connections/{cid}/historical", json=body).json()
    assert (run["kind"], run["window_start"], run["window_end"]) == (
        "historical",
        "2026-01-01T00:00:00Z",
        "2026-04-01T00:00:00Z",
    )
    done = wait_run(api, run["id"])
    assert done["status"] == "succeeded", done
    assert set(done["tables"]) == {"campaign", "campaign_performance_stats"}
    backwards = api.post(
        f"/api/connections/{cid}/historical",
        json={"start": "2026-03-01", "end": "2026-01-01"},
    )
    assert backwards.status_code == 400
    assert "its end does not come after its start" in backwards.json()["detail"]


def test_a_sync_during_a_run_waits_behind_it(tmp_path, own_sandbox):
    app = make_app(tmp_path / "data", base_url=own_sandbox.base_url)
    own_sandbox.sandbox.faults.add("slow", delay=1.5, count=None, path="/api/lists*")
    with TestClient(app, headers=bearer(app)) as api:
        cid = _create(api, own_sandbox.api_key, tables=["list", "profile"]).json()["id"]
        first = api.post(f"/api/connections/{cid}/sync").json()
        live = wait_for(
            lambda: (
                (r := api.get(f"/api/runs/{first['id']}").json())["status"] == "running"
                and r["tables"]["profile"]["done"]
                and r
            )
        )
        assert live["tables"]["profile"]["rows"] == 300
        assert live["tables"]["list"]["done"] is False
        second = api.post(f"/api/connections/{cid}/sync").json()
        assert (second["status"], second["queued_behind_running"]) == ("queued", True)
        again = api.post(f"/api/connections/{cid}/sync").json()
        assert again["id"] == second["id"]
        history = api.post(
            f"/api/connections/{cid}/historical",
            json={"start": "2026-01-01", "end": "2026-01-31"},
        ).json()
        delete = api.delete(f"/api/connections/{cid}")
        assert delete.status_code == 409
        runs = [wait_run(api, r["id"]) for r in (first, second, history)]
        assert [r["status"] for r in runs] == ["succeeded"] * 3
        for earlier, later in itertools.pairwise(runs):
            assert later["started_at"] >= earlier["finished_at"]


def test_a_rejected_key_fails_the_run_in_plain_words(tmp_path, own_sandbox):
    app = make_app(tmp_path / "data", base_url=own_sandbox.base_url)
    with TestClient(app, headers=bearer(app)) as api:
        cid = _create(api, own_sandbox.api_key, tables=["list"]).json()["id"]
        own_sandbox.sandbox.revoke_key(own_sandbox.api_key)
        run = wait_run(api, api.post(f"/api/connections/{cid}/sync").json()["id"])
        assert run["status"] == "failed"
        assert "Klaviyo rejected the API key" in run["error"]
        assert api.get(f"/api/connections/{cid}").json()["health"] == "failing"


def test_a_new_connection_by_a_deleted_ones_name_starts_clean(api, app, sandbox):
    old = _create(api, sandbox.api_key, tables=["list"]).json()
    first = wait_run(api, api.post(f"/api/connections/{old['id']}/sync").json()["id"])
    assert first["status"] == "succeeded"
    assert api.delete(f"/api/connections/{old['id']}").status_code == 204
    new = _create(api, sandbox.api_key, tables=["list"]).json()
    assert new["id"] != old["id"]
    assert (old["slug"], new["slug"]) == ("main_store", "main_store_2")
    assert new["dataset"] == "klaviyo_main_store_2"
    assert (new["health"], new["last_sync_at"]) == ("never run", None)
    assert api.get(f"/api/connections/{new['id']}/runs").json() == []
    assert Path(old["duckdb_file"]).exists(), "deleting keeps the warehouse data"
    assert not Path(new["duckdb_file"]).exists(), "no cursor to resume"
    run = wait_run(api, api.post(f"/api/connections/{new['id']}/sync").json()["id"])
    assert run["id"] > first["id"]
    assert run["tables"]["list"]["rows"] == first["tables"]["list"]["rows"]


def test_files_left_by_an_older_store_keep_their_name(tmp_path, sandbox):
    data = tmp_path / "data"
    (data / "pipelines" / "main_store").mkdir(parents=True)
    app = make_app(data, base_url=sandbox.base_url)
    with TestClient(app, headers=bearer(app)) as api:
        assert _create(api, sandbox.api_key).json()["slug"] == "main_store_2"


def test_a_connection_undone_while_created_frees_its_name(api, sandbox):
    refused = _create(api, sandbox.api_key, sync_period="seconds", sync_seconds=5)
    assert refused.status_code == 400
    assert _create(api, sandbox.api_key).json()["slug"] == "main_store"

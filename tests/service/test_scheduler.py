"""Auto-sync: scheduled runs go through the queue; switching off stops them."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from fastapi.testclient import TestClient
from tests.service.support import bearer, make_app, wait_for, wait_run
from typer.testing import CliRunner

from klaviyo_connector.cli import app as cli_app


def _create(api, key, **extra):
    body = {"name": "Shop", "api_key": key, "tables": ["list"]} | extra
    return api.post("/api/connections", json=body)


def test_seconds_period_is_refused_unless_enabled(app, sandbox):
    with TestClient(app, headers=bearer(app)) as api:
        response = _create(api, sandbox.api_key, sync_period="seconds", sync_seconds=5)
        assert response.status_code == 400
        assert "not enabled on this server" in response.json()["detail"]
        assert api.get("/api/connections").json() == []


def test_seconds_period_is_not_offered_to_users(client, sandbox, monkeypatch):
    csrf = {"csrf_token": client.csrf}
    client.post("/connect", data=csrf | {"name": "Shop", "api_key": sandbox.api_key})
    finish = client.get("/connections/1/setup/finish").text
    assert 'value="24h"' in finish
    assert 'value="seconds"' not in finish
    assert 'name="sync_seconds"' not in finish
    monkeypatch.setenv("COLUMNS", "200")
    shown = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert shown.exit_code == 0
    assert "--data-dir" in shown.output
    assert "seconds" not in shown.output


def test_cron_schedule_names_the_next_time(app, sandbox):
    with TestClient(app, headers=bearer(app)) as api:
        conn = _create(
            api,
            sandbox.api_key,
            sync_period="cron",
            sync_cron="0 3 * * *",
            auto_sync=True,
        ).json()
        assert conn["next_sync_at"].endswith("T03:00:00Z")
        assert conn["sync_period_label"] == "cron 0 3 * * *"


@pytest.mark.slow
def test_auto_sync_runs_on_schedule_until_switched_off(tmp_path, sandbox):
    app = make_app(
        tmp_path / "data", base_url=sandbox.base_url, allow_seconds_period=True
    )
    with TestClient(app, headers=bearer(app)) as api:
        conn = _create(
            api, sandbox.api_key, sync_period="seconds", sync_seconds=2, auto_sync=True
        ).json()
        runs = f"/api/connections/{conn['id']}/runs"
        first = wait_for(lambda: api.get(runs).json(), timeout=20)[-1]
        assert first["kind"] == "scheduled"
        assert wait_run(api, first["id"])["status"] == "succeeded"
        home = api.get(f"/api/connections/{conn['id']}").json()
        assert home["health"] == "healthy"
        api.put(f"/api/connections/{conn['id']}/auto-sync", json={"enabled": False})
        assert app.state.service.queue.wait_idle(30)
        count = len(api.get(runs).json())
        time.sleep(4.5)
        assert len(api.get(runs).json()) == count


def _past_run(app, cid, status, hours_ago):
    """A scheduled run of a connection whose auto-sync has been on for a day."""
    from klaviyo_connector.service.db import Connection, Run, utcnow

    at = utcnow() - dt.timedelta(hours=hours_ago)
    with app.state.service.db.session() as s:
        s.get(Connection, cid).auto_sync_since = utcnow() - dt.timedelta(days=1)
        s.add(Run(connection_id=cid, kind="scheduled", status=status, queued_at=at))
    return at


def test_a_restart_keeps_the_interval_counting_from_the_last_run(tmp_path, sandbox):
    data = tmp_path / "data"
    first = make_app(data, base_url=sandbox.base_url)
    with TestClient(first, headers=bearer(first)) as api:
        conn = _create(api, sandbox.api_key, sync_period="6h", auto_sync=True).json()
        last = _past_run(first, conn["id"], "succeeded", hours_ago=5)
    again = make_app(data, base_url=sandbox.base_url)
    with TestClient(again, headers=bearer(again)) as api:
        after = api.get(f"/api/connections/{conn['id']}").json()
        due = dt.datetime.fromisoformat(after["next_sync_at"])
        assert due == last + dt.timedelta(hours=6)


def test_a_schedule_due_while_stopped_runs_on_start(tmp_path, sandbox):
    data = tmp_path / "data"
    first = make_app(data, base_url=sandbox.base_url)
    with TestClient(first, headers=bearer(first)) as api:
        conn = _create(api, sandbox.api_key, sync_period="6h", auto_sync=True).json()
        _past_run(first, conn["id"], "succeeded", hours_ago=7)
        _past_run(first, conn["id"], "interrupted", hours_ago=1)
    again = make_app(data, base_url=sandbox.base_url)
    with TestClient(again, headers=bearer(again)) as api:
        runs = f"/api/connections/{conn['id']}/runs"
        fired = wait_for(lambda: len(api.get(runs).json()) == 3 and api.get(runs))
        newest = fired.json()[0]
        assert newest["kind"] == "scheduled"
        assert wait_run(api, newest["id"])["status"] == "succeeded"
        after = api.get(f"/api/connections/{conn['id']}").json()
        due = dt.datetime.fromisoformat(after["next_sync_at"])
        assert due > dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)


def test_switching_on_counts_from_that_moment_across_restarts(tmp_path, sandbox):
    data = tmp_path / "data"
    first = make_app(data, base_url=sandbox.base_url)
    with TestClient(first, headers=bearer(first)) as api:
        conn = _create(api, sandbox.api_key, sync_period="6h", auto_sync=True).json()
        switched_on = dt.datetime.fromisoformat(conn["next_sync_at"])
    again = make_app(data, base_url=sandbox.base_url)
    with TestClient(again, headers=bearer(again)) as api:
        after = api.get(f"/api/connections/{conn['id']}").json()
        assert dt.datetime.fromisoformat(after["next_sync_at"]) == switched_on


def test_a_store_from_before_the_schedule_anchor_gains_it(tmp_path, sandbox):
    import sqlite3

    data = tmp_path / "data"
    make_app(data).state.service.db.dispose()
    with sqlite3.connect(data / "connector.db") as db:
        db.execute("ALTER TABLE connection DROP COLUMN auto_sync_since")
    app = make_app(data, base_url=sandbox.base_url)
    with TestClient(app, headers=bearer(app)) as api:
        conn = _create(api, sandbox.api_key, sync_period="6h", auto_sync=True).json()
        assert conn["next_sync_at"] is not None

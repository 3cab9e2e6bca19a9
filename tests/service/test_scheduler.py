"""Auto-sync: scheduled runs go through the queue; switching off stops them."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from tests.service.support import bearer, make_app, wait_for, wait_run


def _create(api, key, **extra):
    body = {"name": "Shop", "api_key": key, "tables": ["list"]} | extra
    return api.post("/api/connections", json=body)


def test_seconds_period_is_refused_unless_enabled(app, sandbox):
    with TestClient(app, headers=bearer(app)) as api:
        response = _create(api, sandbox.api_key, sync_period="seconds", sync_seconds=5)
        assert response.status_code == 400
        assert "not enabled on this server" in response.json()["detail"]
        assert api.get("/api/connections").json() == []


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

"""A connection loading into PostgreSQL, with its credentials stored encrypted."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from tests.service.support import bearer, wait_run

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def dataset():
    name = f"klaviyo_svc_{uuid.uuid4().hex[:8]}"
    yield name
    import psycopg2

    with psycopg2.connect(PG_URL) as conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        cur.execute(f'DROP SCHEMA IF EXISTS "{name}_staging" CASCADE')


def test_sync_into_postgres_and_read_the_rates_back(app, sandbox, dataset):
    with TestClient(app, headers=bearer(app)) as api:
        conn = api.post(
            "/api/connections",
            json={
                "name": "Warehouse",
                "api_key": sandbox.api_key,
                "tables": ["campaign", "campaign_performance_stats"],
                "destination": "postgres",
                "destination_credentials": PG_URL,
                "dataset": dataset,
                "lookback_days": 60,
            },
        ).json()
        assert conn["destination_credentials_set"] is True
        assert "postgresql://" not in str(conn)
        run = wait_run(
            api, api.post(f"/api/connections/{conn['id']}/sync").json()["id"]
        )
        assert run["status"] == "succeeded", run
        assert run["tables"]["campaign"]["rows"] > 0
    service = app.state.service
    from klaviyo_connector.service.db import Connection
    from klaviyo_connector.service.warehouse import campaign_rates

    with service.db.session() as s:
        record = s.get(Connection, conn["id"])
    rates = campaign_rates(record, service.vault, service.settings)
    assert rates, "open and click rates are read back from PostgreSQL"
    assert all(r["name"] for r in rates)
    assert all(0 <= r["open_rate"] <= 1 for r in rates)


def test_finish_setup_checks_the_destination_and_stores_it_encrypted(
    client, sandbox, app, tmp_path
):
    password = "Pg5ecretPassw0rd"  # trust authentication lets any password in
    csrf = {"csrf_token": client.csrf}
    client.post("/connect", data=csrf | {"name": "Shop", "api_key": sandbox.api_key})
    form = csrf | {"sync_period": "24h", "lookback_days": "14"}
    wrong = client.post(
        "/connections/1/setup/finish",
        data=form
        | {
            "destination": "postgres",
            "destination_credentials": PG_URL.replace("5432/test", "5432/nowhere"),
        },
    )
    assert wrong.status_code == 400
    assert "database &#34;nowhere&#34; does not exist" in wrong.text
    right = client.post(
        "/connections/1/setup/finish",
        data=form
        | {
            "destination": "postgres",
            "destination_credentials": PG_URL.replace(
                "postgres@", f"postgres:{password}@"
            ),
        },
        follow_redirects=False,
    )
    assert (right.status_code, right.headers["location"]) == (303, "/connections/1")
    conn = client.get("/api/connections/1").json()
    assert (conn["destination"], conn["destination_credentials_set"]) == (
        "postgres",
        True,
    )
    stored = (tmp_path / "data" / "connector.db").read_bytes()
    assert password.encode() not in stored

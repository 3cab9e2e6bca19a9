"""Two Klaviyo accounts side by side: each connection syncs its own account into
its own dataset and file, with a run history of its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient
from tests.service.support import (
    bearer,
    make_app,
    sandbox_config,
    serve_accounts,
    wait_run,
)

pytestmark = pytest.mark.slow

SECOND_KEY = "pk_" + "SecondShop" * 3 + "1234"
TABLES = ["list", "segment", "profile"]


@pytest.fixture
def accounts(tmp_path) -> Iterator[tuple[TestClient, list[Any]]]:
    """A service reaching two accounts, seeded and sized differently."""
    first = sandbox_config()
    second = sandbox_config(
        seed=7, profiles=180, lists=5, segments=4, api_key=SECOND_KEY
    )
    with serve_accounts(first, second) as (base_url, sandboxes):
        app = make_app(tmp_path / "data", base_url=base_url)
        with TestClient(app, headers=bearer(app)) as api:
            yield api, sandboxes


def _connect(api: TestClient, name: str, key: str) -> dict[str, Any]:
    body = {"name": name, "api_key": key, "tables": TABLES}
    created = api.post("/api/connections", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def _ids_in(conn: dict[str, Any], table: str) -> set[str]:
    with duckdb.connect(conn["duckdb_file"], read_only=True) as db:
        rows = db.execute(f"select id from {conn['dataset']}.{table}").fetchall()
    return {row[0] for row in rows}


def _truth(sandbox: Any, table: str) -> set[str]:
    return {record["id"] for record in sandbox.ground_truth(table)}


def test_each_connection_holds_its_own_accounts_data(accounts):
    api, (first_account, second_account) = accounts
    first = _connect(api, "EU store", first_account.config.api_key)
    second = _connect(api, "US store", SECOND_KEY)
    assert first["account_id"] != second["account_id"]
    assert (first["dataset"], second["dataset"]) == (
        "klaviyo_eu_store",
        "klaviyo_us_store",
    )
    assert first["duckdb_file"] != second["duckdb_file"]
    queued = [
        api.post(f"/api/connections/{c['id']}/sync").json() for c in (first, second)
    ]
    done = [wait_run(api, run["id"]) for run in queued]
    assert [run["status"] for run in done] == ["succeeded", "succeeded"]
    assert [run["tables"]["profile"]["rows"] for run in done] == [300, 180]
    for conn, sandbox in ((first, first_account), (second, second_account)):
        for table in TABLES:
            assert _ids_in(conn, table) == _truth(sandbox, table), table
    assert not _ids_in(first, "profile") & _ids_in(second, "profile")
    assert [len(_ids_in(c, "list")) for c in (first, second)] == [14, 5]
    assert first_account.requests.total > 0
    assert second_account.requests.total > 0


def test_each_connection_keeps_its_own_run_history(accounts):
    api, (first_account, _second_account) = accounts
    first = _connect(api, "EU store", first_account.config.api_key)
    second = _connect(api, "US store", SECOND_KEY)
    first_runs = [
        wait_run(api, api.post(f"/api/connections/{first['id']}/sync").json()["id"])
        for _ in range(2)
    ]
    second_run = wait_run(
        api, api.post(f"/api/connections/{second['id']}/sync").json()["id"]
    )
    history = {
        conn["id"]: api.get(f"/api/connections/{conn['id']}/runs").json()
        for conn in (first, second)
    }
    assert [r["id"] for r in history[first["id"]]] == [
        r["id"] for r in reversed(first_runs)
    ]
    assert [r["id"] for r in history[second["id"]]] == [second_run["id"]]
    assert {r["connection_id"] for r in history[first["id"]]} == {first["id"]}
    assert history[second["id"]][0]["tables"]["profile"]["rows"] == 180
    shown = {c["id"]: c for c in api.get("/api/connections").json()}
    assert shown[first["id"]]["last_sync_at"] == first_runs[-1]["finished_at"]
    assert shown[second["id"]]["last_sync_at"] == second_run["finished_at"]

"""PostgreSQL specifics: empty tables keep their columns, NUL characters load.

The end-to-end scenarios and the column types run against PostgreSQL too, in
tests/sync/test_engine.py and tests/load/test_column_types.py."""

from __future__ import annotations

import copy
from pathlib import Path

import psycopg2
import pytest
from tests.conftest import POSTGRES_URL, StartSandbox, engine_config
from tests.sync.support import (
    as_json,
    by_key,
    read_table,
)

from klaviyo_connector.sandbox import (
    Sandbox,
    SandboxConfig,
    serve_in_thread,
)
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def column_types(schema: str) -> dict[tuple[str, str], str]:
    with psycopg2.connect(POSTGRES_URL) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s",
            (schema,),
        )
        rows = cursor.fetchall()
    conn.close()
    return {(table, column): kind for table, column, kind in rows}


def test_tables_without_rows_exist_in_postgres(
    start_sandbox: StartSandbox, tmp_path: Path, pg_dataset: str
) -> None:
    running = start_sandbox(lists=0, segments=0)
    cfg = engine_config(
        running,
        tmp_path,
        destination="postgres",
        destination_credentials=POSTGRES_URL,
        dataset=pg_dataset,
    )
    result = run_sync(cfg, RunRequest(tables=("list", "segment")))

    assert result.status == RunStatus.SUCCEEDED, result.tables
    types = column_types(pg_dataset)
    assert types[("segment", "definition")] == "jsonb"
    assert types[("list", "_loaded_at")] == "timestamp with time zone"
    assert {column for table, column in types if table == "list"} == {
        "id",
        "name",
        "created",
        "updated",
        "opt_in_process",
        "_loaded_at",
        "_dlt_load_id",
        "_dlt_id",
    }
    assert read_table(cfg, "segment") == []


NUL_PROFILE = "01JNUL00000000000000000001"


def test_nul_characters_load_into_text_and_jsonb(
    tmp_path: Path, pg_dataset: str
) -> None:
    sandbox = Sandbox(SandboxConfig(profiles=20, rate_limits=False))
    record = copy.deepcopy(next(sandbox.ground_truth("profile")))
    record["id"] = NUL_PROFILE
    record["attributes"].update(
        first_name="An\x00na",
        updated="2025-05-05T05:05:05+00:00",
        properties={"k\x00ey": "v\x00al", "key": "plain", "tags": ["a\x00"]},
    )
    sandbox.store.profiles.add(record)
    with serve_in_thread(sandbox) as running:
        cfg = engine_config(
            running,
            tmp_path,
            destination="postgres",
            destination_credentials=POSTGRES_URL,
            dataset=pg_dataset,
        )
        result = run_sync(cfg, RunRequest(tables=("profile",)))

    assert result.status == RunStatus.SUCCEEDED, result.tables
    profile = by_key(read_table(cfg, "profile"))[NUL_PROFILE]
    assert profile["first_name"] == "Anna"
    assert as_json(profile["properties"]) == {
        "k\ufffdey": "v\ufffdal",
        "key": "plain",
        "tags": ["a\ufffd"],
    }
    assert len(read_table(cfg, "profile")) == 21

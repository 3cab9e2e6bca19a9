"""A failed load says what kind of failure it was, with the fix that fits:
rows the warehouse cannot take are a bug to report, a file the user may not
write names the file, a database user without rights is told which rights,
and only a destination that cannot be reached is sent to its credentials."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from tests.conftest import POSTGRES_URL, StartSandbox, engine_config

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

pytestmark = pytest.mark.slow

CONNECTION_FIX = "Check the destination's credentials and that it is reachable."
REPORT_FIX = (
    "This is a connector bug or data from Klaviyo the connector does not expect; "
    "please report it with the log (-v)."
)


def test_rows_the_warehouse_cannot_take_are_a_bug_to_report(
    running_sandbox: RunningSandbox, e2e_config: SyncConfig
) -> None:
    first = next(iter(running_sandbox.sandbox.store.records["list"].values()))
    first["id"] = None  # a record Klaviyo never sends: no id
    result = run_sync(e2e_config, RunRequest(tables=("list", "segment")))

    failed = result.tables["list"]
    assert failed.error == (
        f"The list rows could not be prepared for the {e2e_config.destination} "
        "destination: Column 'id' is declared non-nullable but contains nulls."
    )
    assert failed.fix == REPORT_FIX
    assert result.tables["segment"].ok
    assert result.status == RunStatus.PARTIAL


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder this process may not create files in, even as root (where the
    folder is made immutable); skipped where neither is possible."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = os.geteuid() == 0 and _chattr("+i", folder)
    try:
        (folder / "probe").touch()
    except OSError:
        yield folder
    else:
        pytest.skip("cannot make a folder read-only here")
    finally:
        if immutable:
            _chattr("-i", folder)
        folder.chmod(0o755)


def _chattr(flag: str, path: Path) -> bool:
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


def test_a_duckdb_file_the_user_may_not_write_is_named_with_its_folder(
    start_sandbox: StartSandbox, tmp_path: Path, read_only_folder: Path
) -> None:
    path = read_only_folder / "warehouse.duckdb"
    cfg = engine_config(start_sandbox(), tmp_path, duckdb_path=path)
    result = run_sync(cfg, RunRequest(tables=("list",)))

    assert result.error is not None
    assert result.error.startswith(
        f'Could not open the DuckDB file {path}: IO Error: Cannot open file "{path}": '
    )
    assert result.error.endswith(
        ". Check that the user running the sync may read and write the DuckDB file "
        f"{path} and its folder."
    )
    assert "no other program" not in result.error


def test_a_duckdb_file_another_process_writes_says_so(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "warehouse.duckdb"
    hold = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
        "print('open', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "open\n"
        result = run_sync(engine_config(start_sandbox(), tmp_path), RunRequest())
    finally:
        holder.communicate("")

    assert result.error is not None
    assert result.error.startswith(
        f"Could not open the DuckDB file {path}: IO Error: Could not set lock on file"
    )
    assert result.error.endswith(
        ". Make sure no other program (another sync, a SQL client) has the file open "
        "for writing."
    )


@pytest.fixture
def pg_user_without_rights() -> Iterator[str]:
    """A PostgreSQL login that may connect to the database but create nothing."""
    name = f"kc_test_{uuid.uuid4().hex[:12]}"
    with psycopg2.connect(POSTGRES_URL) as conn, conn.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" LOGIN')
    conn.close()
    yield name
    with psycopg2.connect(POSTGRES_URL) as conn, conn.cursor() as cursor:
        cursor.execute(f'DROP ROLE IF EXISTS "{name}"')
    conn.close()


@pytest.mark.postgres
def test_a_database_user_without_rights_is_told_which_rights(
    start_sandbox: StartSandbox,
    tmp_path: Path,
    pg_dataset: str,
    pg_user_without_rights: str,
) -> None:
    credentials = POSTGRES_URL.replace("postgres@", f"{pg_user_without_rights}@")
    cfg = engine_config(
        start_sandbox(),
        tmp_path,
        destination="postgres",
        destination_credentials=credentials,
        dataset=pg_dataset,
    )
    result = run_sync(cfg, RunRequest(tables=("list",)))

    failed = result.tables["list"]
    assert failed.error == (
        "The postgres destination refused the list rows during load: permission "
        "denied for database test."
    )
    assert failed.fix == (
        "Check that the user in the destination's credentials may create schemas in "
        f"the database and write to the {pg_dataset} and {pg_dataset}_staging "
        "schemas."
    )


@pytest.mark.postgres
def test_a_destination_that_cannot_be_reached_is_sent_to_its_credentials(
    start_sandbox: StartSandbox, tmp_path: Path, pg_dataset: str
) -> None:
    cfg = engine_config(
        start_sandbox(),
        tmp_path,
        destination="postgres",
        destination_credentials="postgresql://postgres@127.0.0.1:9/test",
        dataset=pg_dataset,
    )
    result = run_sync(cfg, RunRequest(tables=("list",)))

    assert result.error is not None
    assert result.error.startswith(
        "Could not connect to the postgres destination: connection to server at "
        '"127.0.0.1", port 9 failed: Connection refused'
    )
    assert result.error.endswith(f". {CONNECTION_FIX}")

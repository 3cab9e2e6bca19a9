"""`demo`: the whole product against the bundled sandbox, no Klaviyo key needed."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from klaviyo_connector.cli.common import (
    Edge,
    QuietOpt,
    VerboseOpt,
    failures,
)
from klaviyo_connector.config import SyncConfig, duckdb_name_clash
from klaviyo_connector.errors import ConfigError
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.sync.models import TABLES, RunRequest, RunStatus

SAMPLE_QUERY = """\
SELECT c.name AS campaign,
       SUM(s.delivered) AS delivered,
       ROUND(SUM(s.opens_unique) / NULLIF(SUM(s.delivered), 0), 3) AS open_rate
FROM klaviyo.campaign_performance_stats AS s
JOIN klaviyo.campaign AS c ON c.id = s.campaign_id
WHERE s.send_channel = 'email'
GROUP BY c.id, c.name
HAVING SUM(s.delivered) > 0
ORDER BY open_rate DESC, campaign
LIMIT 5"""


DEMO_PIPELINE = "klaviyo_demo"
DEMO_DATASET = "klaviyo"  # the schema SAMPLE_QUERY reads


def is_demo_file(path: Path) -> bool:
    """Whether the file is a DuckDB warehouse an earlier demo wrote: dlt
    records the pipeline that loaded it."""
    import duckdb

    sql = "SELECT count(*) FROM klaviyo._dlt_pipeline_state WHERE pipeline_name = ?"
    try:
        with duckdb.connect(str(path), read_only=True) as db:
            found = db.execute(sql, [DEMO_PIPELINE]).fetchone()
    except duckdb.Error:
        return False
    return bool(found and found[0])


def _fresh(path: Path, force: bool) -> None:
    """The demo rebuilds its own file each time (cursors live inside it), but
    replaces any other file, an empty one too, only when told to."""
    if duckdb_name_clash(path, DEMO_DATASET):
        raise ConfigError(
            f"{path.name} and the demo's dataset '{DEMO_DATASET}' share a name, "
            "which DuckDB cannot tell apart (it names the database after the "
            "file).",
            fix="Pass another --path, e.g. klaviyo-demo.duckdb.",
        )
    if path.exists() and not path.is_file():
        raise ConfigError(
            f"{path} is a folder, not a file.", fix="Pass a file name to --path."
        )
    ours = not path.exists() or is_demo_file(path)
    if not ours and not force:
        raise ConfigError(
            f"{path} already exists and is not a demo warehouse, so the demo will "
            "not overwrite it.",
            fix="Pass another --path, or add --force to replace the file.",
        )
    for stale in (path, path.with_name(path.name + ".wal")):
        if stale.is_file():
            stale.unlink()


def _show_counts(edge: Edge, cfg: SyncConfig) -> None:
    from klaviyo_connector.load import warehouse_reader

    with warehouse_reader(cfg) as reader:
        counts = reader.counts()
        rows = reader.query(SAMPLE_QUERY)
    edge.out.print(f"\nLoaded into {cfg.duckdb_path}:")
    for table in TABLES:
        edge.out.print(f"  {table:<28} {counts[table] or 0:>8,} rows")
    edge.out.print("\nThe five campaigns with the best open rate:\n")
    edge.out.print(SAMPLE_QUERY, markup=False)
    grid = Table()
    for name in ("campaign", "delivered", "open_rate"):
        grid.add_column(name)
    for row in rows:
        grid.add_row(
            str(row["campaign"]), f"{row['delivered']:,}", f"{row['open_rate']}"
        )
    edge.out.print(grid)
    # The duckdb Python package is installed with the connector; its CLI is not.
    query = "SELECT count(*) FROM klaviyo.profile"
    # This interpreter has duckdb; a `python` on the PATH may not (no venv on).
    python = shlex.quote(sys.executable)
    # Absolute: the line must work from wherever it is pasted.
    where = Path(cfg.duckdb_path).resolve()
    edge.out.print(
        f'Try it yourself: {python} -c "import duckdb; '
        f"print(duckdb.connect('{where}').sql('{query}'))\"",
        markup=False,
        soft_wrap=True,
    )


def demo(
    path: Annotated[Path, typer.Option("--path", help="DuckDB file to create.")] = Path(
        "klaviyo-demo.duckdb"
    ),
    profiles: Annotated[
        int, typer.Option("--profiles", min=1, help="Profiles in the sandbox account.")
    ] = 3000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fake account.")] = 42,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace --path even if it is not an earlier demo's file."
        ),
    ] = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Try the connector without a Klaviyo key: sync a bundled fake account.

    Starts the sandbox in-process, syncs all five tables into a DuckDB file,
    prints row counts and a sample query (with -q, nothing on success), and
    stops the sandbox. An earlier demo's file is rebuilt; any other existing
    file, an empty one too, is left alone unless --force.

    Example: klaviyo-connector demo --path /tmp/klaviyo-demo.duckdb
    """
    from klaviyo_connector.cli.commands import exit_for, run_and_report
    from klaviyo_connector.sandbox import SandboxConfig, serve_in_thread
    from klaviyo_connector.sandbox.store import MAX_PROFILES

    edge = Edge(verbose, quiet)
    sandbox = SandboxConfig(seed=seed, profiles=profiles, rate_limits=False)
    with failures(edge):
        if profiles > MAX_PROFILES:
            raise ConfigError(
                f"--profiles must be between 1 and {MAX_PROFILES:,} "
                f"(got {profiles:,}).",
                fix="Pass a smaller number; the default is 3,000.",
            )
        _fresh(path, force)
        with serve_in_thread(sandbox) as running:
            edge.say(f"Sandbox Klaviyo API running at {running.base_url}")
            cfg = SyncConfig(
                api_key=ApiKey(running.api_key),
                base_url=running.base_url,
                duckdb_path=path,
                dataset=DEMO_DATASET,
                pipeline_name=DEMO_PIPELINE,
                # Ten years of stats: every sent campaign of the demo account
                # has its row (a real first sync reads two years). The
                # sandbox runs without limits, so nothing waits for Klaviyo's
                # (the report allows two calls a minute, one per year read).
                stats_history_days=3650,
                pacing=False,
            )
            result = run_and_report(edge, cfg, RunRequest())
        if result.status == RunStatus.SUCCEEDED and edge.verbosity >= 0:
            _show_counts(edge, cfg)
    raise exit_for(result)

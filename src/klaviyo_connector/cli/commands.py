"""`check`, `sync` and `backfill`: the commands that talk to a real account."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Annotated

import typer

from klaviyo_connector.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    BaseUrlOpt,
    ConfigOpt,
    Edge,
    QuietOpt,
    TablesOpt,
    VerboseOpt,
    ctrl_c_sets,
    failures,
    parse_day,
)
from klaviyo_connector.cli.render import (
    destination_line,
    live_progress,
    show_check,
    show_problems,
    show_summary,
    style_of,
    verdict,
    warned_tables,
)
from klaviyo_connector.config import SyncConfig
from klaviyo_connector.sync.models import RunKind, RunRequest, RunResult, RunStatus

MetricOpt = Annotated[
    str | None,
    typer.Option(
        "--conversion-metric",
        help="Metric id conversions count (default: the account's Placed Order).",
        show_default=False,
    ),
]
DestinationOpt = Annotated[
    str | None,
    typer.Option(
        "--destination",
        help="duckdb (default), postgres, or any other dlt destination name.",
        show_default=False,
    ),
]
DuckdbOpt = Annotated[
    Path | None,
    typer.Option(
        "--duckdb-path",
        help="DuckDB file (default klaviyo-warehouse.duckdb in the working folder).",
        show_default=False,
    ),
]
CredentialsOpt = Annotated[
    str | None,
    typer.Option(
        "--credentials",
        help="Destination credentials, e.g. a PostgreSQL URL. They show in the "
        "process list: prefer KLAVIYO_DESTINATION_CREDENTIALS, dlt's own "
        "variables or the config file.",
        show_default=False,
    ),
]
DatasetOpt = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        help="Schema the tables land in (default klaviyo).",
        show_default=False,
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="dlt's working folder (default .klaviyo-connector).",
        show_default=False,
    ),
]


def check(
    tables: TablesOpt = None,
    conversion_metric: MetricOpt = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Check the API key: account, read scopes per table, conversion metric.

    Example: KLAVIYO_API_KEY=pk_... klaviyo-connector check --tables campaign,list
    """
    from klaviyo_connector.sync.check import check_connection

    edge = Edge(verbose, quiet)
    with failures(edge):
        settings = edge.settings(
            config,
            base_url=base_url,
            tables=tables,
            conversion_metric_id=conversion_metric,
        )
        key = settings.sync_config().api_key
        chk = check_connection(
            key,
            base_url=settings.base_url,
            conversion_metric_id=settings.conversion_metric_id,
        )
    if edge.verbosity >= 0:
        show_check(edge.out, chk, settings.base_url, settings.tables)
    else:
        show_problems(edge.out, chk, settings.tables)
    raise typer.Exit(EXIT_OK if chk.ok_for(settings.tables) else EXIT_FAILED)


def run_and_report(edge: Edge, cfg: SyncConfig, request: RunRequest) -> RunResult:
    """Runs with a progress bar, then prints the summary and verdict."""
    from klaviyo_connector.sync.engine import run_sync

    cancel = threading.Event()
    with (
        ctrl_c_sets(cancel, edge),
        live_progress(edge.err, edge.verbosity >= 0) as progress,
    ):
        result = run_sync(cfg, request, progress, cancel=cancel)
    report(edge, result, cfg)
    return result


def report(edge: Edge, result: RunResult, cfg: SyncConfig) -> None:
    """The summary, where the tables are and the verdict; with -q a clean
    success prints nothing, while failures and warnings still show."""
    clean = result.status == RunStatus.SUCCEEDED and not warned_tables(result)
    if edge.verbosity < 0 and clean:
        return
    if show_summary(edge.out, result):
        edge.out.print(destination_line(cfg), markup=False)
    edge.out.print(verdict(result), style=style_of(result), markup=False)


StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Exit 1 when a table loaded but raised a warning (e.g. nothing "
        "loaded although Klaviyo lists records).",
    ),
]


def exit_for(result: RunResult, strict: bool = False) -> typer.Exit:
    if result.status == RunStatus.INTERRUPTED:
        return typer.Exit(EXIT_INTERRUPTED)
    ok = result.status == RunStatus.SUCCEEDED
    if strict and warned_tables(result):
        ok = False
    return typer.Exit(EXIT_OK if ok else EXIT_FAILED)


def sync(
    tables: TablesOpt = None,
    lookback_days: Annotated[
        int | None,
        typer.Option(
            "--lookback-days",
            help="Days re-read behind the cursor; stats of campaigns sent in "
            "them are refreshed (default 14).",
            show_default=False,
        ),
    ] = None,
    destination: DestinationOpt = None,
    duckdb_path: DuckdbOpt = None,
    credentials: CredentialsOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    conversion_metric: MetricOpt = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    strict: StrictOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Sync the selected tables incrementally into the warehouse.

    Example: klaviyo-connector sync --tables campaign,profile --lookback-days 7
    """
    edge = Edge(verbose, quiet)
    with failures(edge):
        settings = edge.settings(
            config,
            writes=True,
            tables=tables,
            lookback_days=lookback_days,
            destination=destination,
            duckdb_path=duckdb_path,
            destination_credentials=credentials,
            dataset=dataset,
            data_dir=data_dir,
            conversion_metric_id=conversion_metric,
            base_url=base_url,
        )
        request = RunRequest(
            tables=settings.tables, lookback_days=settings.lookback_days
        )
        result = run_and_report(edge, settings.sync_config(), request)
    raise exit_for(result, strict)


def _range(start: str, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    from klaviyo_connector.sync.windows import recovery_range

    first = parse_day(start, "--from")
    last = None if end is None else parse_day(end, "--to")
    return recovery_range(first, last, dt.datetime.now(dt.UTC))


def backfill(
    start: Annotated[
        str, typer.Option("--from", help="First day to recover, YYYY-MM-DD.")
    ],
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Last day to recover, inclusive (default: now).",
            show_default=False,
        ),
    ] = None,
    tables: TablesOpt = None,
    destination: DestinationOpt = None,
    duckdb_path: DuckdbOpt = None,
    credentials: CredentialsOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    conversion_metric: MetricOpt = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Recover history: records updated in the range, stats of campaigns sent in it.

    Leaves the incremental cursors alone; the report is read in timeframes of at
    most a year.

    Example: klaviyo-connector backfill --from 2024-01-01 --to 2024-12-31
    """
    edge = Edge(verbose, quiet)
    with failures(edge):
        settings = edge.settings(
            config,
            writes=True,
            tables=tables,
            destination=destination,
            duckdb_path=duckdb_path,
            destination_credentials=credentials,
            dataset=dataset,
            data_dir=data_dir,
            conversion_metric_id=conversion_metric,
            base_url=base_url,
        )
        begin, finish = _range(start, end)
        request = RunRequest(
            kind=RunKind.HISTORICAL, tables=settings.tables, start=begin, end=finish
        )
        result = run_and_report(edge, settings.sync_config(), request)
    raise exit_for(result)

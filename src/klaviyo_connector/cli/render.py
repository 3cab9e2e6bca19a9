"""How results look on a terminal: the key check, live progress, the summary."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress as Bar
from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from klaviyo_connector.sync.check import TABLE_SCOPES, CheckResult
from klaviyo_connector.sync.models import (
    Progress,
    ProgressCallback,
    RunKind,
    RunResult,
    TableResult,
)

if TYPE_CHECKING:
    from klaviyo_connector.config import SyncConfig

_STATUS_STYLE = {
    "succeeded": "green",
    "partial": "yellow",
    "failed": "red",
    "interrupted": "yellow",
}


def show_check(
    out: Console, chk: CheckResult, base_url: str, tables: Sequence[str]
) -> None:
    account = chk.account_name or "(name hidden: the key lacks accounts:read)"
    ident = f" ({chk.account_id})" if chk.account_id else ""
    out.print(f"Klaviyo account: {account}{ident}")
    out.print(f"Key: {chk.key_masked}   API: {base_url}")
    grid = Table(box=None, show_header=True, pad_edge=False)
    for name in ("table", "can sync", "needs"):
        grid.add_column(name)
    for table in tables:
        check = chk.tables[table]
        verdict = "[green]yes[/]" if check.ok else "[red]no[/]"
        if check.ok and check.warning:
            verdict = "[yellow]yes, with a warning[/]"
        grid.add_row(table, verdict, ", ".join(TABLE_SCOPES[table]))
    out.print(grid)
    metric = chk.conversion_metric
    if metric is not None:
        source = f", {metric.integration}" if metric.integration else ""
        out.print(f"Conversion metric: {metric.name} ({metric.id}{source})")
    show_problems(out, chk, tables)


def show_problems(out: Console, chk: CheckResult, tables: Sequence[str]) -> None:
    """One line per selected table that cannot sync, or will warn when it
    does, with what to do."""
    for table in tables:
        check = chk.tables[table]
        if check.problem:
            out.print(f"{table}: {check.problem}", markup=False, style="red")
        elif check.warning:
            out.print(f"{table}: {check.warning}", markup=False, style="yellow")


class LiveProgress:
    """A rich progress bar per table, fed from the sync's worker threads."""

    def __init__(self, bar: Bar) -> None:
        self._bar = bar
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Progress) -> None:
        with self._lock:
            if event.table not in self._tasks:
                self._tasks[event.table] = self._bar.add_task(event.table, total=None)
            state = "failed" if event.error else ("done" if event.done else "")
            if event.note and not event.done:
                state = escape(event.note)
            self._bar.update(
                self._tasks[event.table],
                description=f"{event.table:<28} {event.rows:>9,} rows "
                f"{event.requests:>6,} requests  {state}",
            )
            if event.done:
                self._bar.update(self._tasks[event.table], total=1, completed=1)


@contextmanager
def live_progress(out: Console, enabled: bool) -> Iterator[ProgressCallback | None]:
    if not enabled:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Bar(*columns, console=out, transient=True) as bar:
        yield LiveProgress(bar)


def _status_cell(table: TableResult) -> str:
    if table.stopped:
        return "[yellow]stopped[/]"
    if not table.ok:
        return "[red]failed[/]"
    return "[yellow]warning[/]" if table.warnings else "[green]ok[/]"


def show_summary(out: Console, result: RunResult) -> bool:
    """Rows, requests and time per table, then each table's own failure and
    warnings; a run that stopped before any table began has none (False)."""
    if all(t.stopped and not t.requests for t in result.tables.values()):
        return False
    grid = Table(title=None, show_lines=False)
    for name, justify in (
        ("table", "left"),
        ("status", "left"),
        ("rows", "right"),
        ("requests", "right"),
        ("time", "right"),
    ):
        grid.add_column(name, justify=justify)  # type: ignore[arg-type]
    for table in result.tables.values():
        grid.add_row(
            table.table,
            _status_cell(table),
            f"{table.rows:,}",
            f"{table.requests:,}",
            f"{table.seconds:.1f} s",
        )
    out.print(grid)
    for table in result.tables.values():
        if not table.ok and not table.stopped:
            fix = f" {table.fix}" if table.fix else ""
            out.print(f"{table.table}: {table.error}{fix}", markup=False, style="red")
        for warning in table.warnings:
            out.print(f"{table.table}: {warning}", markup=False, style="yellow")
    return True


def destination_line(cfg: SyncConfig) -> str:
    """Where the tables are: the DuckDB file, or the destination's name (never
    its credentials) and the dataset."""
    if cfg.destination == "duckdb":
        where = f"DuckDB file {Path(cfg.duckdb_path).expanduser().resolve()}"
    else:
        where = cfg.destination
    return f"Destination: {where}, dataset {cfg.dataset}"


def _tables(count: int) -> str:
    return f"{count} table" if count == 1 else f"{count} tables"


def verdict(result: RunResult) -> str:
    """The last line: what happened to the run as a whole."""
    what = "Sync"
    if result.request.kind == RunKind.HISTORICAL:
        what = "Historical recovery"
    if result.interrupted and result.error:
        return result.error
    if result.error:
        return f"{what} failed: {result.error}"
    status, total = result.status.value, len(result.tables)
    failed = [t.table for t in result.tables.values() if not t.ok]
    if status == "partial":
        return (
            f"Partial {what.lower()}: {total - len(failed)} of {_tables(total)} "
            f"loaded; {', '.join(failed)} failed."
        )
    if status == "failed":
        return f"{what} failed: no table loaded."
    warned = warned_tables(result)
    if warned:
        return (
            f"{what} succeeded with warnings: {_tables(total)} loaded; "
            f"check {', '.join(warned)} (warnings above)."
        )
    return f"{what} succeeded: {_tables(total)} loaded."


def warned_tables(result: RunResult) -> list[str]:
    return [t.table for t in result.tables.values() if t.warnings]


def style_of(result: RunResult) -> str:
    if result.status.value == "succeeded" and warned_tables(result):
        return "yellow"
    return _STATUS_STYLE.get(result.status.value, "red")

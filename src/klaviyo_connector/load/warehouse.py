"""Writing rows and cursors through dlt, one commit at a time."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from klaviyo_connector.load.batch import RowBatch
from klaviyo_connector.load.destination import (
    DLT_LOCK,
    DUCKDB_MEMORY_MB,
    file_format,
    make_pipeline,
    open_duckdb,
    set_duckdb_memory,
)
from klaviyo_connector.load.failures import (
    chain_text,
    load_error,
    no_credentials,
    warehouse_error,
)
from klaviyo_connector.load.lock import DatasetLock
from klaviyo_connector.load.state import (
    DATASET_ROW,
    STATE_COLUMNS,
    STATE_TABLE,
    Account,
    CursorState,
    held_account,
    latest_states,
    state_query,
    state_row,
)
from klaviyo_connector.reports.base import (
    LOADED_AT,
    TIMESTAMP,
    Column,
    Row,
    column_hints,
)

if TYPE_CHECKING:
    import dlt
    import pyarrow as pa

    from klaviyo_connector.config import SyncConfig

log = logging.getLogger(__name__)

LOADED_AT_COLUMN = Column(LOADED_AT, TIMESTAMP, False, "when the row was loaded")
DLT_LOAD_ID, DLT_ID = "_dlt_load_id", "_dlt_id"


def with_lineage(table: pa.Table) -> pa.Table:
    """Adds dlt's lineage columns, `_dlt_load_id` and `_dlt_id`, the way dlt
    lays them out. The row ids come from dlt's own generator; the load id is a
    placeholder dlt fills in place as it extracts. With both present dlt takes
    the Parquet file it wrote as it is, instead of reading it back and writing
    it again only to add a column of ids (a sixth of a commit's CPU)."""
    import pyarrow as pa
    from dlt.common.normalizers.utils import generate_dlt_ids

    rows = len(table)
    text = pa.string()
    table = table.append_column(
        pa.field(DLT_LOAD_ID, text, nullable=False), pa.array([""] * rows, text)
    )
    return table.append_column(
        pa.field(DLT_ID, text, nullable=False), pa.array(generate_dlt_ids(rows), text)
    )


@dataclass(frozen=True)
class TableSpec:
    """How a table lands: columns, key, and (for stats) the key whose rows a
    load replaces as a whole."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    replace_key: str | None = None

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return (*self.columns, LOADED_AT_COLUMN)


class Warehouse:
    """The destination of one connection: reads cursors, commits rows."""

    def __init__(self, cfg: SyncConfig, account: Account | None = None) -> None:
        self.cfg = cfg
        # The Klaviyo account this sync reads (None when the key may not read
        # it), stamped on every state row, and the one the dataset holds.
        self.account = account
        self.held_account: Account | None = None
        self._duckdb = open_duckdb(cfg) if cfg.destination == "duckdb" else None
        self._duckdb_mb = DUCKDB_MEMORY_MB[0]
        self.pipeline: dlt.Pipeline = make_pipeline(cfg, self._duckdb)
        self._lock = DatasetLock(self.pipeline, cfg)
        self._format = file_format(cfg.destination)
        # The newest state row per table: a later one is always stamped after
        # it, even when the run that wrote it had a clock that ran ahead, so
        # it can never outrank what later runs commit.
        self._last_commit: dict[str, dt.datetime] = {}

    def close(self) -> None:
        """Let go of the destination and the dataset's lock; a DuckDB file is
        checkpointed and freed."""
        with DLT_LOCK:
            self._lock.release()
            if self._duckdb is not None:
                self._duckdb.close()
                self._duckdb = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def lock_dataset(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Takes the dataset for this sync, before anything is read, waiting up
        to `lock_wait` seconds for another sync that has it (see `load.lock`)."""
        self._lock.acquire(sleep)

    def prepare(self) -> None:
        """Forget loads a killed run left half done: the sync redoes them."""
        with DLT_LOCK:
            self.pipeline.abort_packages()

    def cursors(self) -> dict[str, CursorState]:
        """The cursor in force per table; learns `held_account` on the way."""
        from dlt.common.configuration.exceptions import ConfigFieldMissingException
        from dlt.destinations.exceptions import DatabaseUndefinedRelation

        try:
            columns = self.columns(STATE_TABLE)
            rows = self._fetch(partial(state_query, columns=columns))
        except DatabaseUndefinedRelation:
            return {}
        except ConfigFieldMissingException as exc:
            raise no_credentials(self.cfg.destination) from exc
        except Exception as exc:
            raise warehouse_error(
                f"Could not read the sync state from the {self.cfg.destination} "
                "destination",
                exc,
                self.cfg,
            ) from exc
        self.held_account = held_account(rows)
        states = latest_states(rows)
        for table, state in states.items():
            if state.committed_at is not None:
                self._last_commit[table] = state.committed_at
        return states

    def columns(self, table: str) -> set[str]:
        """The columns the destination's table has; DatabaseUndefinedRelation
        when it has no such table."""
        with DLT_LOCK, self.pipeline.sql_client() as client:
            sql = f"SELECT * FROM {client.make_qualified_table_name(table)} WHERE 1 = 0"
            with client.execute_query(sql) as cursor:
                return {str(column[0]) for column in cursor.description or ()}

    def exists(self, table: str) -> bool:
        """Whether the destination has the table, whatever dlt remembers."""
        from dlt.destinations.exceptions import DatabaseUndefinedRelation

        try:
            self.columns(table)
        except DatabaseUndefinedRelation:
            return False
        return True

    def save_states(self, states: Sequence[CursorState]) -> None:
        """Commits state rows on their own, without rows of any table."""
        if states:
            now = dt.datetime.now(dt.UTC)
            self._run([self._state_resource(states, now)], STATE_TABLE)
            self._recorded()

    def record_account(self) -> None:
        """Records this sync's account at once, unless the dataset names one:
        every load records it, but a sync may load nothing."""
        if self._unrecorded:
            self.save_states([CursorState(DATASET_ROW)])

    @property
    def _unrecorded(self) -> bool:
        return self.account is not None and self.held_account is None

    def _recorded(self) -> None:
        """After a commit: its state rows named this sync's account."""
        if self.account is not None:
            self.held_account = self.account

    def has_table(self, name: str) -> bool:
        """Whether a load of this pipeline has created the table (an empty
        Arrow table creates it too)."""
        from dlt.common.schema.utils import has_table_seen_data

        with DLT_LOCK:
            schema = (
                self.pipeline.default_schema
                if self.pipeline.default_schema_name
                else None
            )
            table = schema.tables.get(name) if schema is not None else None
        return table is not None and has_table_seen_data(table)

    def _fetch(self, build_sql: Any) -> list[tuple[Any, ...]]:
        with DLT_LOCK, self.pipeline.sql_client() as client:
            sql = build_sql(client.make_qualified_table_name)
            with client.execute_query(sql) as cursor:
                return list(cursor.fetchall())

    def load(
        self,
        spec: TableSpec,
        rows: Sequence[Row] | RowBatch,
        *,
        state: CursorState | None = None,
        run_started_at: dt.datetime | None = None,
    ) -> int:
        """Commits the rows and, in the same load, the cursor they justify.

        Rows reach dlt as one Arrow table, whether given as a list or a batch.
        A table the warehouse lacks is created even without rows, with every
        column, so queries over an empty table work."""
        create = not self.has_table(spec.name)
        if not len(rows) and state is None and not create:
            return 0
        loaded_at = dt.datetime.now(dt.UTC)
        batch = rows if isinstance(rows, RowBatch) else RowBatch.of(spec.columns, rows)
        resources = []
        if len(batch) or create:
            resources.append(self._resource(spec, batch, loaded_at))
        if state is None and self._unrecorded:
            # A load without a cursor (a backfill's) still says whose rows these are.
            state = CursorState(DATASET_ROW)
        if state is not None:
            started = run_started_at or loaded_at
            resources.append(self._state_resource([state], started))
        self._run(resources, spec.name)
        self._recorded()
        return len(batch)

    def _resource(
        self, spec: TableSpec, batch: RowBatch, loaded_at: dt.datetime
    ) -> Any:
        import dlt

        table = with_lineage(batch.to_arrow(extra=[(LOADED_AT_COLUMN, loaded_at)]))
        resource = dlt.resource(
            iter([table]),
            name=spec.name,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            primary_key=list(spec.key),
            merge_key=spec.replace_key or (),
            columns=column_hints(spec.all_columns, spec.key),
            max_table_nesting=0,
        )
        if (batch.folded_by,) == spec.key:
            # One row per key already: dlt's own pass numbering the staged
            # rows per key would sort every column of the chunk for nothing.
            resource.apply_hints(
                additional_table_hints={"x-stage-data-deduplicated": True}
            )
        return resource

    def _run_with_memory(self, resources: list[Any], table: str) -> None:
        """Runs the pipeline; a DuckDB load that ran out of memory is loaded
        again (dlt keeps the package) with the next larger limit."""
        from dlt.pipeline.exceptions import PipelineStepFailed

        try:
            self.pipeline.run(resources, loader_file_format=self._format)
            return
        except PipelineStepFailed as exc:
            failure = exc
        while failure.step == "load" and self._more_memory(failure, table):
            try:
                self.pipeline.load()
                return
            except PipelineStepFailed as exc:
                failure = exc
        raise failure

    def _more_memory(self, failure: Exception, table: str) -> bool:
        if self._duckdb is None or "Out of Memory" not in chain_text(failure):
            return False
        larger = [mb for mb in DUCKDB_MEMORY_MB if mb > self._duckdb_mb]
        if not larger:
            return False
        log.info(
            "DuckDB needed more than %d MB to load the %s rows; loading them again "
            "with %d MB",
            self._duckdb_mb,
            table,
            larger[0],
        )
        self._duckdb_mb = larger[0]
        set_duckdb_memory(self._duckdb, self._duckdb_mb)
        return True

    def _state_resource(
        self, states: Sequence[CursorState], run_started_at: dt.datetime
    ) -> Any:
        import dlt

        rows = [
            state_row(state, run_started_at, self._stamp(state.table), self.account)
            for state in states
        ]
        return dlt.resource(
            iter([rows]),
            name=STATE_TABLE,
            write_disposition="append",
            columns=column_hints(STATE_COLUMNS, ()),
            max_table_nesting=0,
        )

    def _stamp(self, table: str) -> dt.datetime:
        """Now, or just after the table's newest state row if that is later."""
        now = dt.datetime.now(dt.UTC)
        last = self._last_commit.get(table)
        stamp = (
            now if last is None or now > last else last + dt.timedelta(microseconds=1)
        )
        self._last_commit[table] = stamp
        return stamp

    def _run(self, resources: list[Any], table: str) -> None:
        from dlt.pipeline.exceptions import PipelineStepFailed

        with DLT_LOCK:
            try:
                self._run_with_memory(resources, table)
                # dlt leaves each commit's Arrow table in reference cycles of
                # its extract machinery; freed only by a full collection, they
                # would pile up, chunk after chunk, with the account's size.
                gc.collect()
            except PipelineStepFailed as exc:
                self.pipeline.abort_packages()
                raise load_error(table, exc, self.cfg, exc.step) from exc
            except Exception as exc:
                raise load_error(table, exc, self.cfg) from exc

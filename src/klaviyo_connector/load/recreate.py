"""Tables dropped from the destination behind dlt's back, created again.

dlt records in the destination (`_dlt_version`) the schema it has created
there and does not look at the tables again: once a table is dropped by hand,
every later load of it fails, also after its working folder is deleted, since
dlt restores the schema from the destination. Such a table is dropped from
dlt's schema with dlt's own `pipeline_drop`, so the next load creates it, and
its cursor is reset, so it is read in full.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from klaviyo_connector.load.destination import DLT_LOCK
from klaviyo_connector.load.failures import warehouse_error
from klaviyo_connector.load.state import STATE_TABLE, CursorState

if TYPE_CHECKING:
    import dlt

    from klaviyo_connector.load.warehouse import Warehouse


def recreate_missing(
    warehouse: Warehouse, tables: Sequence[str], cursors: Mapping[str, CursorState]
) -> list[str]:
    """Which of the tables, and the state table, an earlier load created but
    the destination no longer has; each is made ready to be created again."""
    known = _loaded_tables(warehouse.pipeline) | set(cursors)
    candidates = (*tables, STATE_TABLE)
    gone = [t for t in candidates if t in known and not warehouse.exists(t)]
    if gone:
        _forget(warehouse, gone)
        # Reset at once: a run that stops before it loads the table, or a
        # backfill that loads only its range, must not leave the old cursor.
        warehouse.save_states([CursorState(t) for t in gone if t in cursors])
    return gone


def _loaded_tables(pipeline: dlt.Pipeline) -> set[str]:
    """The tables dlt believes it created in the destination. Its view is
    synced first, as a load would, so a deleted working folder changes
    nothing, and a dataset that is gone leaves none."""
    from dlt.common.schema.utils import has_table_seen_data

    with DLT_LOCK:
        pipeline.sync_destination()
        if not pipeline.default_schema_name:
            return set()
        tables = pipeline.default_schema.tables
        return {name for name, table in tables.items() if has_table_seen_data(table)}


def _forget(warehouse: Warehouse, tables: Collection[str]) -> None:
    """Drops the tables from dlt's schema, here and in the destination."""
    from dlt.pipeline.helpers import pipeline_drop

    pipeline = warehouse.pipeline
    with DLT_LOCK:
        schema = pipeline.default_schema if pipeline.default_schema_name else None
        in_schema = [t for t in tables if schema and t in schema.tables]
        if not in_schema:
            return
        try:
            pipeline_drop(pipeline, resources=in_schema)()
        except Exception as exc:
            what = (
                f"The {', '.join(in_schema)} table(s) are missing from the "
                f"{warehouse.cfg.destination} destination, and dlt could not "
                "forget them so as to create them again"
            )
            raise warehouse_error(what, exc, warehouse.cfg) from exc

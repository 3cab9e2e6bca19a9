"""Reading the loaded tables back: row counts, sample queries, dashboard charts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from klaviyo_connector.errors import WarehouseError
from klaviyo_connector.load.destination import DLT_LOCK, make_pipeline
from klaviyo_connector.sync.models import TABLES

if TYPE_CHECKING:
    from klaviyo_connector.config import SyncConfig


class WarehouseReader:
    """SQL over one connection's dataset; table names are qualified for you."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def table(self, name: str) -> str:
        """The fully qualified, quoted name of a table in the dataset."""
        return str(self._client.make_qualified_table_name(name))

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows as dicts; write table names as `{campaign}` to have them qualified."""
        sql = sql.format(**{t: self.table(t) for t in (*TABLES, "_dlt_loads")})
        with self._client.execute_query(sql, *params) as cursor:
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def count(self, table: str) -> int | None:
        """Rows in a table, or None when it has not been created yet."""
        from dlt.destinations.exceptions import DatabaseUndefinedRelation

        try:
            rows = self.query(f"SELECT COUNT(*) AS n FROM {self.table(table)}")
        except DatabaseUndefinedRelation:
            return None
        return int(rows[0]["n"])

    def counts(self, tables: Sequence[str] = TABLES) -> dict[str, int | None]:
        return {table: self.count(table) for table in tables}


@contextmanager
def warehouse_reader(cfg: SyncConfig) -> Iterator[WarehouseReader]:
    """Opens the connection's destination for reading."""
    pipeline = make_pipeline(cfg)
    with DLT_LOCK:
        opened = pipeline.sql_client()
        try:
            client = opened.__enter__()
        except Exception as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise WarehouseError(
                f"Could not read from the {cfg.destination} destination: {detail}"
            ) from exc
        try:
            yield WarehouseReader(client)
        finally:
            opened.close_connection()

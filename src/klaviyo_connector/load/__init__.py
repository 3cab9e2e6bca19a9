"""The load layer: dlt writes the rows; DuckDB, PostgreSQL or any dlt destination."""

from __future__ import annotations

from klaviyo_connector.load.reader import WarehouseReader, warehouse_reader
from klaviyo_connector.load.state import STATE_TABLE, CursorState
from klaviyo_connector.load.warehouse import TableSpec, Warehouse

__all__ = [
    "STATE_TABLE",
    "CursorState",
    "TableSpec",
    "Warehouse",
    "WarehouseReader",
    "warehouse_reader",
]

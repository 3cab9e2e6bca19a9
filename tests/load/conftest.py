"""Each end-to-end test runs once per warehouse (DuckDB, PostgreSQL)."""

from tests.sync.warehouses import e2e_config, warehouse

__all__ = ["e2e_config", "warehouse"]

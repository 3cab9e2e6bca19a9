"""Every table's columns and types, in DuckDB and PostgreSQL, are the ones
docs/tables.md promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.sync.support import read_table

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import TABLES, RunRequest, RunStatus

pytestmark = pytest.mark.slow

TABLES_DOC = Path(__file__).parents[2] / "docs" / "tables.md"
Column = tuple[str, bool]  # type, nullable
Contract = dict[str, dict[str, Column]]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _rows(lines: list[str], header: str) -> list[list[str]]:
    """The body rows of the first markdown table whose header starts so."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def type_names() -> dict[str, dict[str, str]]:
    """dlt type -> its name in each destination, from the doc's first table."""
    rows = _rows(TABLES_DOC.read_text().splitlines(), "| dlt type |")
    return {
        "duckdb": {dlt: duck for dlt, duck, _ in rows},
        "postgres": {dlt: pg for dlt, _, pg in rows},
    }


def _columns(lines: list[str], header: str) -> dict[str, Column]:
    """column -> (dlt type, nullable) from a `| column | type |` table."""
    out = {}
    for column, kind, _ in _rows(lines, header):
        dlt_type, _, rest = kind.partition(",")
        out[column] = (dlt_type.strip(), "not null" not in rest)
    return out


def contract() -> Contract:
    """Per table: its own columns from its section, and the lineage columns
    every table has."""
    preamble, *sections = re.split(r"^## ", TABLES_DOC.read_text(), flags=re.M)
    lineage = _columns(preamble.splitlines(), "| lineage column |")
    out: Contract = {}
    for section in sections:
        title, *lines = section.splitlines()
        name = title.strip().strip("`")
        if name in TABLES:
            out[name] = {**_columns(lines, "| column | type |"), **lineage}
    return out


def warehouse_columns(cfg: SyncConfig, table: str) -> dict[str, tuple[str, bool]]:
    mark = "%s" if cfg.destination == "postgres" else "?"
    sql = (
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        f"WHERE table_schema = {mark} AND table_name = {mark}"
    )
    with warehouse_reader(cfg) as reader:
        rows = reader.query(sql, cfg.dataset, table)
    return {r["column_name"]: (r["data_type"], r["is_nullable"] == "YES") for r in rows}


def test_the_contract_names_every_table_and_type() -> None:
    found, names = contract(), type_names()
    assert set(found) == set(TABLES)
    used = {kind for columns in found.values() for kind, _ in columns.values()}
    assert used <= set(names["duckdb"]) == set(names["postgres"])
    assert found["campaign"]["messages"] == ("json", True)
    assert found["campaign_performance_stats"]["send_channel"] == ("text", False)
    assert found["list"]["_loaded_at"] == ("timestamp", False)


def test_every_column_has_the_documented_type(e2e_config: SyncConfig) -> None:
    result = run_sync(e2e_config, RunRequest())
    assert result.status == RunStatus.SUCCEEDED, result.tables
    names = type_names()[e2e_config.destination]
    for table, columns in contract().items():
        expected = {c: (names[kind], null) for c, (kind, null) in columns.items()}
        assert warehouse_columns(e2e_config, table) == expected, table
        assert read_table(e2e_config, table), table

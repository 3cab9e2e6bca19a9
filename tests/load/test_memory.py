"""DuckDB's memory: small by default, larger only for a load that needs it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import orjson
import pytest

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.load import destination, warehouse
from klaviyo_connector.load.warehouse import Warehouse
from klaviyo_connector.reports.profiles import REPORT
from klaviyo_connector.sync.dimension import table_spec

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
ROWS = 5_000


def _config(tmp_path: Path) -> SyncConfig:
    return SyncConfig(
        api_key="pk_" + "a" * 34,
        duckdb_path=str(tmp_path / "warehouse.duckdb"),
        data_dir=str(tmp_path / "data"),
    )


def _profiles(count: int, property_bytes: int) -> list[dict[str, object]]:
    properties = {f"note {n}": "x" * 90 for n in range(property_bytes // 100)}
    return [
        {"id": f"p{n:05d}", "email": f"p{n}@example.com", "updated": T0}
        | {"properties": properties}
        for n in range(count)
    ]


def test_a_load_too_large_for_the_limit_is_loaded_again_with_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 MB of custom properties in one chunk cannot merge in 16 MB; the
    load is repeated with the next limit and every row arrives once."""
    for module in (destination, warehouse):
        monkeypatch.setattr(module, "DUCKDB_MEMORY_MB", (16, 512))
    cfg = _config(tmp_path)
    rows = _profiles(ROWS, 10_000)

    with Warehouse(cfg) as target:
        loaded = target.load(table_spec(REPORT), rows)
        limit = _memory_limit(target)

    assert loaded == ROWS
    assert limit == pytest.approx(_mib(512), abs=0.2), "it needed the second limit"
    with duckdb.connect(cfg.duckdb_path, read_only=True) as db:
        found = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT id), MIN(properties), "
            "MAX(properties) FROM klaviyo.profile"
        ).fetchone()
    assert found is not None
    count, distinct, least, most = found
    assert (count, distinct) == (ROWS, ROWS)
    assert least == most
    assert orjson.loads(least) == rows[0]["properties"]


def test_ordinary_loads_keep_the_small_limit(tmp_path: Path) -> None:
    with Warehouse(_config(tmp_path)) as target:
        target.load(table_spec(REPORT), _profiles(200, 500))
        limit = _memory_limit(target)
    assert limit == pytest.approx(_mib(destination.DUCKDB_MEMORY_MB[0]), abs=0.2)


def _memory_limit(target: Warehouse) -> float:
    """DuckDB's limit in MiB, as it shows it ("61.0 MiB")."""
    assert target._duckdb is not None
    found = target._duckdb.execute("SELECT current_setting('memory_limit')").fetchone()
    assert found is not None
    assert str(found[0]).endswith(" MiB"), found
    return float(str(found[0]).removesuffix(" MiB"))


def _mib(megabytes: int) -> float:
    return megabytes * 10**6 / 2**20

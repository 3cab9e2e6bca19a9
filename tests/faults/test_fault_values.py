"""Odd values from Klaviyo: missing fields, strings where numbers belong, empty
objects, unsent campaigns and zero denominators, unicode and emoji, property
names written to break SQL, and an account without a Placed Order metric."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import POSTGRES_URL
from tests.faults.support import (
    assert_converged,
    config,
    key_count,
    serve,
    small,
    sync,
)
from tests.sync.support import STATS_KEY, as_json, by_key, read_table

from klaviyo_connector.config import SyncConfig
from klaviyo_connector.load import warehouse_reader
from klaviyo_connector.reports.campaign_stats import COLUMNS as STATS_COLUMNS
from klaviyo_connector.reports.profiles import COLUMNS as PROFILE_COLUMNS
from klaviyo_connector.sandbox import Sandbox
from klaviyo_connector.sync.models import TABLES, RunStatus

pytestmark = pytest.mark.slow

LINEAGE = {"_loaded_at", "_dlt_load_id", "_dlt_id"}
INJECTION = 'x"; DROP TABLE profile; --'
UNICODE = {
    "first_name": "Zoë 😀‍🔥",
    "last_name": "李小龍",
    "organization": "Ünïcødé \U0001d525\U0001d522 👩\u200d👩\u200d👧 Café\u0301",
    "title": "مدير التسويق",
}
ODD_IDS = {
    "bare": "01JODDBARE0000000000000001",
    "types": "01JODDTYPES000000000000002",
    "unicode": "01JODDUNICODE0000000000003",
    "injection": "01JODDINJECT0000000000004",
}


def _profile(template: dict[str, Any], ident: str, **attributes: Any) -> dict:
    record = copy.deepcopy(template)
    record["id"] = ident
    record["attributes"].update(
        created="2025-05-05T05:05:05+00:00",
        updated="2025-05-05T05:05:05+00:00",
        **attributes,
    )
    return record


def add_odd_profiles(sandbox: Sandbox) -> None:
    template = next(sandbox.ground_truth("profile"))
    location = dict(template["attributes"]["location"] or {})
    location.update(latitude="52.5200", longitude=13.405)
    odd = [
        _profile(
            template,
            ODD_IDS["bare"],
            email=None,
            phone_number=None,
            location=None,
            subscriptions={},
            properties={},
        ),
        _profile(
            template,
            ODD_IDS["types"],
            location=location,
            properties={"Points": "12", "vip": True, "tags": ["a", "b"], "none": None},
        ),
        _profile(template, ODD_IDS["unicode"], **UNICODE),
        _profile(
            template,
            ODD_IDS["injection"],
            properties={
                INJECTION: 1,
                "Robert'); DROP TABLE list;--": 2,
                "a b": "spaced",
                "A B": "capitals",
                "a_b": "underscore",
            },
        ),
    ]
    for record in odd:
        sandbox.store.profiles.add(record)


def _columns(cfg: SyncConfig, table: str) -> set[str]:
    with warehouse_reader(cfg) as reader:
        rows = reader.query(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{cfg.dataset}' AND table_name = '{table}'"
        )
    return {r["column_name"] for r in rows}


def _tables(cfg: SyncConfig) -> set[str]:
    with warehouse_reader(cfg) as reader:
        rows = reader.query(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{cfg.dataset}'"
        )
    return {r["table_name"] for r in rows}


def _assert_odd_profiles(cfg: SyncConfig, byte_length: str) -> None:
    rows = by_key(read_table(cfg, "profile"))
    bare = rows[ODD_IDS["bare"]]
    assert bare["email"] is None
    assert bare["phone_number"] is None
    assert bare["location"] is None
    assert as_json(bare["subscriptions"]) == {}
    types = rows[ODD_IDS["types"]]
    location = as_json(types["location"])
    assert location["latitude"] == "52.5200"  # kept as Klaviyo sent it
    assert location["longitude"] == 13.405
    unicode = rows[ODD_IDS["unicode"]]
    for name, value in UNICODE.items():
        assert unicode[name].encode() == value.encode(), name
    with warehouse_reader(cfg) as reader:
        lengths = reader.query(
            f"SELECT {', '.join(f'{byte_length}({n}) AS {n}' for n in UNICODE)} "
            f"FROM {reader.table('profile')} WHERE id = '{ODD_IDS['unicode']}'"
        )[0]
    assert lengths == {n: len(v.encode()) for n, v in UNICODE.items()}
    properties = as_json(rows[ODD_IDS["injection"]]["properties"])
    assert properties[INJECTION] == 1
    assert {properties["a b"], properties["A B"], properties["a_b"]} == {
        "spaced",
        "capitals",
        "underscore",
    }
    # Property names never become columns or tables.
    assert _columns(cfg, "profile") == {c.name for c in PROFILE_COLUMNS} | LINEAGE


def test_odd_profile_values_land_as_klaviyo_sent_them(tmp_path: Path) -> None:
    sandbox = Sandbox(small())
    add_odd_profiles(sandbox)
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        assert_converged(cfg, sandbox, ("profile", "list"))
        _assert_odd_profiles(cfg, "strlen")
        assert {"profile", "list"} <= _tables(cfg)
        assert key_count(cfg, "profile") == (304, 304)


@pytest.mark.postgres
def test_odd_profile_values_land_byte_exact_in_postgres(
    tmp_path: Path, pg_dataset: str
) -> None:
    sandbox = Sandbox(small())
    add_odd_profiles(sandbox)
    with serve(sandbox) as running:
        cfg = config(
            running,
            tmp_path,
            destination="postgres",
            destination_credentials=POSTGRES_URL,
            dataset=pg_dataset,
        )
        assert_converged(cfg, sandbox, ("profile",))
        _assert_odd_profiles(cfg, "octet_length")


def _double_columns() -> list[str]:
    return [c.name for c in STATS_COLUMNS if c.data_type == "double"]


def test_unsent_and_undelivered_campaigns_have_null_rates_never_nan(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(small())
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        assert_converged(cfg, sandbox, TABLES)

    campaigns = by_key(read_table(cfg, "campaign"))
    stats = by_key(read_table(cfg, "campaign_performance_stats"), STATS_KEY)
    never_sent = [c for c in campaigns.values() if c["send_time"] is None]
    assert never_sent
    sent_ids = {key[0] for key in stats}
    assert not sent_ids & {c["id"] for c in never_sent}, "no stats for unsent"

    (no_delivery,) = sandbox.store.special["no_delivery"]
    (no_recipients,) = sandbox.store.special["no_recipients"]
    rows = {key[1]: row for key, row in stats.items()}  # by campaign message
    undelivered = rows[no_delivery]
    assert undelivered["recipients"] > 0
    assert undelivered["delivered"] == 0
    for rate in ("open_rate", "click_rate", "conversion_rate", "unsubscribe_rate"):
        assert undelivered[rate] is None, rate
    assert undelivered["delivery_rate"] == 0.0
    nobody = rows[no_recipients]
    assert nobody["recipients"] == 0
    assert nobody["delivery_rate"] is None
    assert nobody["bounce_rate"] is None
    for row in stats.values():
        for name in _double_columns():
            value = row[name]
            assert value is None or math.isfinite(value), (row["campaign_id"], name)


def test_no_placed_order_metric_fails_the_stats_table_loudly(tmp_path: Path) -> None:
    sandbox = Sandbox(small(no_placed_order=True))
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        result = sync(cfg, "list", "campaign", "campaign_performance_stats")

        assert result.status == RunStatus.PARTIAL
        stats = result.tables["campaign_performance_stats"]
        assert stats.error == (
            "This Klaviyo account has no 'Placed Order' metric, so "
            "campaign_performance_stats has no conversion metric to report."
        )
        assert "set conversion_metric_id" in (stats.fix or "")
        assert "deselect the campaign_performance_stats table" in (stats.fix or "")
        assert result.tables["list"].ok
        assert result.tables["campaign"].ok
        with warehouse_reader(cfg) as reader:
            assert reader.count("campaign_performance_stats") is None
        # The other tables keep syncing on their own, run after run.
        assert sync(cfg, "list", "campaign").status == RunStatus.SUCCEEDED

        # Once the store's Placed Order metric exists, every table converges.
        add_placed_order(sandbox)
        assert_converged(
            cfg, sandbox, ("list", "campaign", "campaign_performance_stats")
        )
        with warehouse_reader(cfg) as reader:
            assert reader.count("campaign_performance_stats")


def add_placed_order(sandbox: Sandbox) -> None:
    """Connects the store: the account gains the Placed Order metric (with
    values) that an account generated without `no_placed_order` has."""
    reference = Sandbox(small(profiles=0))
    metric = copy.deepcopy(
        next(
            m
            for m in reference.ground_truth("metric")
            if m["attributes"]["name"] == "Placed Order"
        )
    )
    metric["id"] = "PLACED"
    store = sandbox.store
    with store.lock:
        store.records["metric"][metric["id"]] = metric
        store.values_metrics.add(metric["id"])

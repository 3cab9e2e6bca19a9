"""The connector's performance benchmark: one command, one table.

    python bench/run.py            # full: ~15 minutes on 2 cores
    python bench/run.py --quick    # smaller accounts: ~4 minutes

Starts the sandbox (`klaviyo-connector sandbox`) as its own process and runs
the real `klaviyo-connector sync` against it as another, measured from outside
(wall time, CPU seconds, peak resident memory). It reports:

1. ceiling ratio: a full sync's wall time under Klaviyo's real per-endpoint
   limits, divided by the least time those limits allow for the requests the
   sync needs;
2. request efficiency: requests per table divided by the fewest that fetch the
   same data, and the 429s the sandbox sent;
3. local cost with limits off (and the connector's pacing off): CPU and wall
   seconds per 100,000 profiles and peak memory at two account sizes, beside a
   bare-minimum baseline (httpx + orjson + DuckDB inserts) in the same run;
4. incremental cost: a sync after 1% of the account changed, relative to the
   full sync.

docs/performance.md explains each figure and keeps the recorded results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bounds import Window, pages, scaled, sync_lower_bound
from klaviyo_connector.client.endpoints import ENDPOINTS
from klaviyo_connector.config import SyncConfig
from klaviyo_connector.reports.campaign import CHANNELS
from procs import (
    SANDBOX_KEY,
    Measured,
    Sandbox,
    connector_command,
    machine,
    run_measured,
    sandbox,
)

SEED = 42
PROFILES_PER_PAGE = 100
LISTS_PER_PAGE = SEGMENTS_PER_PAGE = 10
CAMPAIGNS_PER_PAGE = 100
METRICS_PER_PAGE = 200  # the metrics listing has no page size; Klaviyo sends 200
REPORT_DAYS = 365  # the values report covers at most a year per call

# Sandbox request counters ("METHOD /path") per table; anything else is extra.
TABLE_ENDPOINTS: Mapping[str, tuple[str, ...]] = {
    "profile": ("GET /api/profiles",),
    "campaign": ("GET /api/campaigns",),
    "list": ("GET /api/lists",),
    "segment": ("GET /api/segments",),
    # Report windows are read in the account's timezone: one GET /api/accounts
    # (the run's key check asks for it) belongs to the stats table.
    "campaign_performance_stats": (
        "GET /api/accounts",
        "GET /api/metrics",
        "POST /api/campaign-values-reports",
    ),
}
LIMITS: Mapping[str, tuple[Window, ...]] = {
    "GET /api/accounts": ENDPOINTS["/api/accounts"].windows,
    "GET /api/profiles": ENDPOINTS["/api/profiles"].windows,
    "GET /api/campaigns": ENDPOINTS["/api/campaigns"].windows,
    "GET /api/lists": ENDPOINTS["/api/lists"].windows,
    "GET /api/segments": ENDPOINTS["/api/segments"].windows,
    "GET /api/metrics": ENDPOINTS["/api/metrics"].windows,
    "POST /api/campaign-values-reports": ENDPOINTS[
        "/api/campaign-values-reports"
    ].windows,
}
# Tables sync concurrently, each reading its endpoints in turn (the stats table
# reads the account and lists metrics before it asks for reports): one chain
# per table.
CHAINS = tuple(TABLE_ENDPOINTS.values())


@dataclass
class Plan:
    ceiling_profiles: int
    cost_profiles: tuple[int, int]
    time_scale: float
    # How long the sandbox takes to answer in the ceiling run: Klaviyo takes a
    # few hundred milliseconds for a page of 100 profiles.
    latency_ms: float = 250.0
    mutate_share: float = 0.01


FULL = Plan(
    ceiling_profiles=200_000, cost_profiles=(100_000, 1_000_000), time_scale=1.0
)
QUICK = Plan(ceiling_profiles=100_000, cost_profiles=(20_000, 100_000), time_scale=1.0)


@dataclass
class Row:
    measure: str
    value: str
    target: str = ""
    ok: bool | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(
        self, measure: str, value: str, target: str = "", ok: bool | None = None
    ) -> None:
        self.rows.append(Row(measure, value, target, ok))

    def render(self) -> str:
        verdicts = {True: "met", False: "MISSED", None: ""}
        header = ("measure", "value", "target", "")
        lines = [header] + [
            (r.measure, r.value, r.target, verdicts[r.ok]) for r in self.rows
        ]
        widths = [max(len(line[i]) for line in lines) for i in range(4)]
        out = []
        for n, line in enumerate(lines):
            out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in out)


# -- the account: what the fewest requests must fetch ------------------------


def ideal_requests(sb: Sandbox, profiles: int, history_days: int) -> dict[str, int]:
    """The fewest requests per endpoint for a full sync of the served account,
    counted from the sandbox's listings at the largest page sizes."""
    campaigns = 0
    for channel in CHANNELS:
        for archived in ("false", "true"):
            condition = f"equals(messages.channel,'{channel}')"
            params = {
                "filter": f"and({condition},equals(archived,{archived}))",
                "page[size]": str(CAMPAIGNS_PER_PAGE),
                "fields[campaign]": "name",
            }
            found = sb.records("/api/campaigns", params)
            campaigns += pages(found, CAMPAIGNS_PER_PAGE)
    lists = sb.records("/api/lists", {"fields[list]": "name"})
    segments = sb.records("/api/segments", {"fields[segment]": "name"})
    metrics = sb.records("/api/metrics", {"fields[metric]": "name"})
    return {
        "GET /api/accounts": 1,
        "GET /api/profiles": pages(profiles, PROFILES_PER_PAGE),
        "GET /api/campaigns": campaigns,
        "GET /api/lists": pages(lists, LISTS_PER_PAGE),
        "GET /api/segments": pages(segments, SEGMENTS_PER_PAGE),
        "GET /api/metrics": pages(metrics, METRICS_PER_PAGE),
        "POST /api/campaign-values-reports": max(
            1, math.ceil(history_days / REPORT_DAYS)
        ),
    }


def diff(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """Requests answered between two /_sandbox/stats snapshots."""
    endpoints = {
        name: count - before["by_endpoint"].get(name, 0)
        for name, count in after["by_endpoint"].items()
    }
    return {
        "total": after["total"] - before["total"],
        "by_endpoint": {k: v for k, v in endpoints.items() if v},
        "throttled": after["throttled"] - before["throttled"],
    }


# -- running the connector ---------------------------------------------------


def sync(
    sb: Sandbox, work: Path, name: str, *, pacing: bool, chunk: int | None = None
) -> Measured:
    """`klaviyo-connector sync` of every table into work/warehouse.duckdb."""
    env = {
        "KLAVIYO_BASE_URL": sb.base_url,
        "KLAVIYO_API_KEY": SANDBOX_KEY,
        "KLAVIYO_PACING": "true" if pacing else "false",
    }
    if chunk is not None:
        env["KLAVIYO_PROFILE_CHUNK_ROWS"] = str(chunk)
    args = [
        *connector_command(),
        "sync",
        "--duckdb-path",
        str(work / "warehouse.duckdb"),
        "--data-dir",
        str(work / "data"),
        "-q",
    ]
    measured = run_measured(args, cwd=work, env=env, log=work / f"{name}.log")
    if measured.returncode != 0:
        raise SystemExit(f"the {name} sync failed:\n{measured.tail()}")
    return measured


def baseline(sb: Sandbox, work: Path, name: str) -> Measured:
    script = Path(__file__).with_name("baseline.py")
    args = [
        sys.executable,
        str(script),
        "--base-url",
        sb.base_url,
        "--db",
        str(work / "baseline.duckdb"),
    ]
    measured = run_measured(args, cwd=work, env={}, log=work / f"{name}.log")
    if measured.returncode != 0:
        raise SystemExit(f"the baseline failed:\n{measured.tail()}")
    return measured


def say(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- 1, 2 and 4: limits on ----------------------------------------------------


def ceiling(plan: Plan, root: Path, report: Report) -> None:
    profiles, scale, latency = plan.ceiling_profiles, plan.time_scale, plan.latency_ms
    work = root / "ceiling"
    work.mkdir()
    say(
        f"ceiling: sandbox with {profiles:,} profiles, limits on, time scale "
        f"{scale}, answers after {latency:g} ms, profiles built before serving"
    )
    with sandbox(
        profiles,
        seed=SEED,
        rate_limits=True,
        time_scale=scale,
        latency_ms=latency,
        prebuild=True,
        log=work / "sb.log",
    ) as sb:
        before = sb.stats()
        full = sync(sb, work, "full", pacing=True)
        full_requests = diff(sb.stats(), before)
        say(f"full sync: {full.wall:.1f} s, {full_requests['total']} requests")
        history = SyncConfig.model_fields["stats_history_days"].default
        ideal = ideal_requests(sb, profiles, history)
        sb.mutate(plan.mutate_share)
        before = sb.stats()
        incremental = sync(sb, work, "incremental", pacing=True)
        incremental_requests = diff(sb.stats(), before)
        say(
            f"incremental sync: {incremental.wall:.1f} s, "
            f"{incremental_requests['total']} requests"
        )
    windows = {e: scaled(w, scale) for e, w in LIMITS.items()}
    bound, slowest = sync_lower_bound(ideal, windows, CHAINS)
    ceiling_rows(report, full, bound, slowest, profiles, scale, latency)
    efficiency_rows(report, full_requests, ideal)
    incremental_rows(report, full, full_requests, incremental, incremental_requests)
    report.figures["ceiling"] = {
        "profiles": profiles,
        "time_scale": scale,
        "latency_ms": latency,
        "full": vars(full) | {"log": str(full.log)},
        "bound_seconds": bound,
        "ideal": ideal,
        "full_requests": full_requests,
        "incremental": vars(incremental) | {"log": str(incremental.log)},
        "incremental_requests": incremental_requests,
    }


def ceiling_rows(
    report: Report,
    full: Measured,
    bound: float,
    slowest: str,
    profiles: int,
    scale: float,
    latency: float,
) -> None:
    ratio = full.wall / bound if bound else math.inf
    report.add(
        f"1. ceiling ratio, full sync of {profiles:,} profiles (time scale "
        f"{scale:g}, {latency:g} ms answers)",
        f"{ratio:.3f} ({full.wall:.1f} s / {bound:.1f} s)",
        "<= 1.10",
        ratio <= 1.10,
    )
    report.notes.append(
        f"Lower bound {bound:.1f} s is set by {slowest}: tables are read "
        "concurrently and each endpoint has its own quota, so the bound is the "
        "slowest chain (the stats table's metrics and reports run in sequence)."
    )


def efficiency_rows(
    report: Report, actual: Mapping[str, Any], ideal: Mapping[str, int]
) -> None:
    counted = actual["by_endpoint"]
    worst = 0.0
    for table, endpoints in TABLE_ENDPOINTS.items():
        made = sum(counted.get(e, 0) for e in endpoints)
        fewest = sum(ideal[e] for e in endpoints)
        ratio = made / fewest
        worst = max(worst, ratio)
        report.add(
            f"2. request efficiency, {table}",
            f"{ratio:.3f} ({made} / {fewest})",
            "<= 1.02",
            ratio <= 1.02,
        )
    known = {e for endpoints in TABLE_ENDPOINTS.values() for e in endpoints}
    extra = {e: n for e, n in counted.items() if e not in known}
    report.add(
        "2. requests to endpoints no table needs",
        ", ".join(f"{e} x{n}" for e, n in extra.items()) or "0",
        "0",
        not extra,
    )
    report.add(
        "2. 429 responses during the full sync",
        str(actual["throttled"]),
        "0",
        actual["throttled"] == 0,
    )


def incremental_rows(
    report: Report,
    full: Measured,
    full_requests: Mapping[str, Any],
    incremental: Measured,
    incremental_requests: Mapping[str, Any],
) -> None:
    share = incremental_requests["total"] / full_requests["total"]
    report.add(
        "4. incremental after 1% changed: requests vs full sync",
        f"{share:.2%} ({incremental_requests['total']} / {full_requests['total']})",
        "< 3%",
        share < 0.03,
    )
    report.add(
        "4. incremental after 1% changed: wall time vs full sync",
        f"{incremental.wall / full.wall:.2%} ({incremental.wall:.1f} s)",
    )
    report.add(
        "4. 429 responses during the incremental sync",
        str(incremental_requests["throttled"]),
        "0",
        incremental_requests["throttled"] == 0,
    )


# -- 3: limits off --------------------------------------------------------------


@dataclass
class Cost:
    profiles: int
    connector: Measured
    baseline: Measured

    def per_100k(self, seconds: float) -> float:
        return seconds * 100_000 / self.profiles


def local_cost(profiles: int, root: Path) -> Cost:
    work = root / f"cost-{profiles}"
    work.mkdir()
    say(f"local cost: sandbox with {profiles:,} profiles, limits off")
    with sandbox(
        profiles, seed=SEED, rate_limits=False, time_scale=1, log=work / "sb.log"
    ) as sb:
        base = baseline(sb, work, "baseline")
        say(f"baseline: {base.wall:.1f} s wall, {base.cpu:.1f} s CPU")
        connector = sync(sb, work, "connector", pacing=False)
        say(f"connector: {connector.wall:.1f} s wall, {connector.cpu:.1f} s CPU")
    return Cost(profiles, connector, base)


def cost_rows(report: Report, small: Cost, large: Cost) -> None:
    for cost in (small, large):
        c, b = cost.connector, cost.baseline
        ratio = c.cpu / b.cpu
        report.add(
            f"3. CPU s per 100k profiles at {cost.profiles:,} (baseline)",
            f"{cost.per_100k(c.cpu):.1f} ({cost.per_100k(b.cpu):.1f}): {ratio:.2f}x",
            "<= 2x baseline",
            ratio <= 2.0,
        )
        report.add(
            f"3. wall s per 100k profiles at {cost.profiles:,} (baseline)",
            f"{cost.per_100k(c.wall):.1f} ({cost.per_100k(b.wall):.1f})",
        )
    for cost in (small, large):
        report.add(
            f"3. peak memory at {cost.profiles:,} profiles (baseline)",
            f"{cost.connector.peak_rss_mb:.0f} MB ({cost.baseline.peak_rss_mb:.0f} MB)",
            "< 500 MB" if cost is large else "",
            cost.connector.peak_rss_mb < 500 if cost is large else None,
        )
    growth = large.connector.peak_rss_mb / small.connector.peak_rss_mb
    report.add(
        f"3. peak memory growth {small.profiles:,} -> {large.profiles:,} profiles",
        f"{growth:.2f}x",
        "<= 1.3x",
        growth <= 1.3,
    )
    report.figures["cost"] = [
        {
            "profiles": cost.profiles,
            "connector": vars(cost.connector) | {"log": str(cost.connector.log)},
            "baseline": vars(cost.baseline) | {"log": str(cost.baseline.log)},
        }
        for cost in (small, large)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller accounts")
    parser.add_argument(
        "--only",
        choices=("ceiling", "cost"),
        help="run one half: limits on (1, 2, 4) or limits off (3)",
    )
    parser.add_argument("--ceiling-profiles", type=int, help="override the plan")
    parser.add_argument(
        "--cost-profiles", type=int, nargs=2, metavar="N", help="override the plan"
    )
    parser.add_argument(
        "--time-scale", type=float, help="sandbox time scale for the ceiling run"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        help="how long the sandbox takes to answer in the ceiling run (250)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    plan = Plan(
        args.ceiling_profiles or plan.ceiling_profiles,
        tuple(args.cost_profiles or plan.cost_profiles),
        args.time_scale or plan.time_scale,
        plan.latency_ms if args.latency_ms is None else args.latency_ms,
    )
    report = Report()
    print(f"Machine: {machine()}")
    print(f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    root = Path(tempfile.mkdtemp(prefix="klaviyo-bench-"))
    if args.only != "cost":
        ceiling(plan, root, report)
    if args.only != "ceiling":
        small, large = (local_cost(n, root) for n in plan.cost_profiles)
        cost_rows(report, small, large)
    print()
    print(report.render())
    for note in report.notes:
        print(f"\n{note}")
    if args.json:
        args.json.write_text(json.dumps(report.figures, indent=2, default=str))
    if args.keep:
        print(f"\nLogs and warehouses: {root}")
    else:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

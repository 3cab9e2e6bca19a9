"""The dashboard's charts: readable axes, one run as bars, full campaign names."""

from __future__ import annotations

import datetime as dt
import re

from klaviyo_connector.service.charts import rates_chart, runs_chart
from klaviyo_connector.service.db import Run

NOW = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)


def _run(run_id: int, rows: int, seconds: float) -> Run:
    return Run(
        id=run_id,
        connection_id=1,
        kind="manual",
        rows=rows,
        duration_seconds=seconds,
        started_at=NOW,
        finished_at=NOW + dt.timedelta(seconds=seconds),
    )


def _axis_labels(svg: str, axis: str) -> list[str]:
    group = re.search(rf'<g class="axis {axis}[^"]*">(.*?)</g></g>', svg, re.S)
    assert group, f"no {axis} axis"
    return re.findall(r"<text[^>]*>([^<]*)</text>", group.group(1))


def test_a_single_run_is_drawn_as_bars_with_five_value_labels():
    svg = runs_chart([_run(1, 1437, 8.2)])
    assert svg is not None
    bars = re.findall(r'<rect [^>]*class="rect reactive tooltip-trigger"', svg)
    assert len(bars) == 2, "rows and run time, each a bar"
    assert _axis_labels(svg, "y") == ["0", "500", "1,000", "1,500", "2,000"]
    assert "<!--" not in svg


def test_many_runs_keep_run_numbers_readable():
    runs = [_run(n, n * 100, 2.0) for n in range(30, 0, -1)]
    svg = runs_chart(runs)
    assert svg is not None
    shown = [label for label in _axis_labels(svg, "x") if label]
    assert 5 <= len(shown) <= 12, shown
    assert "#1" in shown


def test_campaign_names_are_shown_whole_up_to_sixty_characters():
    whole = "Black Friday Early Access 2025 — VIP customers only"
    longer = "New arrivals: autumn jackets, knitwear and boots for the whole family"
    rows = [
        {"campaign_id": "A", "name": whole, "open_rate": 0.41, "click_rate": 0.06},
        {"campaign_id": "B", "name": longer, "open_rate": 0.28, "click_rate": 0.02},
        {"campaign_id": "C", "name": None, "open_rate": 0.3, "click_rate": None},
    ]
    svg = rates_chart(rows)
    assert svg is not None
    assert f">{whole}<" in svg
    assert f">{longer[:59]}…<" in svg
    assert ">C<" in svg
    assert "41%" in svg

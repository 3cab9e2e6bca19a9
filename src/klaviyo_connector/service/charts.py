"""Small server-rendered SVG charts (pygal) for the dashboard."""

from __future__ import annotations

from typing import Any

import pygal
from pygal.style import Style

from .db import Run

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#334155",
    foreground_strong="#0f172a",
    foreground_subtle="#cbd5e1",
    colors=("#2563eb", "#f59e0b", "#10b981", "#ef4444"),
    font_family="system-ui, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=11,
    title_font_size=13,
)

_COMMON: dict[str, Any] = {
    "style": _STYLE,
    "height": 220,
    "width": 520,
    # pygal's tooltips load a script from the internet; the dashboard stays offline.
    "js": [],
    "disable_xml_declaration": True,
    "legend_at_bottom": True,
    "legend_box_size": 10,
    "margin": 8,
}


def runs_chart(runs: list[Run]) -> str | None:
    """Rows loaded (left axis) and run time (right axis) over recent finished runs."""
    finished = [r for r in reversed(runs) if r.finished_at and r.started_at]
    if not finished:
        return None
    chart = pygal.Bar(
        title="Recent runs", x_label_rotation=0, show_minor_x_labels=True, **_COMMON
    )
    chart.x_labels = [f"#{r.id}" for r in finished]
    chart.add("Rows loaded", [r.rows for r in finished])
    chart.add(
        "Run time (s)",
        [round(r.duration_seconds or 0, 1) for r in finished],
        secondary=True,
    )
    return str(chart.render(is_unicode=True))


def rates_chart(rows: list[dict[str, Any]]) -> str | None:
    """Open and click rates of recent email campaigns, as percentages."""
    if not rows:
        return None
    chart = pygal.HorizontalBar(
        title="Recent campaigns: open and click rate (%)",
        value_formatter=lambda v: f"{v:.1f}%",
        **_COMMON,
    )
    labels = [_short(r["name"] or r["campaign_id"]) for r in reversed(rows)]
    chart.x_labels = labels
    chart.add("Open rate", [_percent(r["open_rate"]) for r in reversed(rows)])
    chart.add("Click rate", [_percent(r["click_rate"]) for r in reversed(rows)])
    return str(chart.render(is_unicode=True))


def _percent(value: Any) -> float | None:
    return None if value is None else round(float(value) * 100, 2)


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

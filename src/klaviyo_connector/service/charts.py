"""Small server-rendered SVG charts (pygal) for the dashboard."""

from __future__ import annotations

import re
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

_COMMENT = re.compile(r"<!--.*?-->", re.S)

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
    """Rows loaded (bars, left axis) and run time (line, right axis) per run."""
    finished = [r for r in reversed(runs) if r.finished_at and r.started_at]
    if not finished:
        return None
    rows = [r.rows for r in finished]
    seconds = [round(r.duration_seconds or 0, 1) for r in finished]
    chart = pygal.Line(
        title="Recent runs: rows loaded and run time",
        range=(0, _ceiling(max(rows))),
        secondary_range=(0, _ceiling(max(seconds))),
        value_formatter=_compact,
        fill=False,
        dots_size=4,
        **_COMMON,
    )
    chart.x_labels = [f"#{r.id}" for r in finished]
    chart.add("Rows loaded", rows, stroke_style={"width": 3})
    chart.add("Run time (s)", seconds, secondary=True)
    return _svg(chart)


def _svg(chart: Any) -> str:
    # pygal signs its output with comments naming its web site; the page should
    # carry no address outside the dashboard.
    return _COMMENT.sub("", str(chart.render(is_unicode=True)))


def _ceiling(value: float) -> float:
    """A round axis top (1, 2, 4 or 8 times a power of ten): even tick labels."""
    scale = 1.0
    while True:
        for step in (1, 2, 4, 8):
            if step * scale >= value:
                return step * scale
        scale *= 10


def _compact(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:.1f}"


def rates_chart(rows: list[dict[str, Any]]) -> str | None:
    """Open and click rates of recent email campaigns, as percentages."""
    if not rows:
        return None
    chart = pygal.HorizontalBar(
        title="Recent campaigns: open and click rate (%)",
        range=(0, _ceiling(max(_percent(r["open_rate"]) or 0 for r in rows))),
        value_formatter=lambda v: f"{v:.0f}%" if v == int(v) else f"{v:.1f}%",
        **_COMMON,
    )
    labels = [_short(r["name"] or r["campaign_id"]) for r in reversed(rows)]
    chart.x_labels = labels
    chart.add("Open rate", [_percent(r["open_rate"]) for r in reversed(rows)])
    chart.add("Click rate", [_percent(r["click_rate"]) for r in reversed(rows)])
    return _svg(chart)


def _percent(value: Any) -> float | None:
    return None if value is None else round(float(value) * 100, 2)


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

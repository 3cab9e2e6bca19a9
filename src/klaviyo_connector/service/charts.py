"""Small server-rendered SVG charts (pygal) for the dashboard."""

from __future__ import annotations

import functools
import html
import math
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
    foreground_subtle="#e2e8f0",
    guide_stroke_color="#cbd5e1",
    major_guide_stroke_color="#94a3b8",
    colors=("#2563eb", "#f59e0b", "#10b981", "#ef4444"),
    font_family="system-ui, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=12,
    title_font_size=14,
)

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S)
_HIDDEN = re.compile(r' style="opacity: 0"')
_CHART_ID = re.compile(r"#chart-[0-9a-f-]{36}")
TICKS = 4  # intervals on a value axis: five labels, far enough apart to read
RUN_LABELS = 12  # run numbers shown under the runs chart at most
NAME_LIMIT = 60  # characters of a campaign name before it is cut

_COMMON: dict[str, Any] = {
    "style": _STYLE,
    # pygal's tooltips load a script from the internet; the dashboard stays offline.
    "js": [],
    "disable_xml_declaration": True,
    "legend_at_bottom": True,
    "legend_at_bottom_columns": 2,
    "legend_box_size": 12,
    "margin": 10,
    "spacing": 12,
    "truncate_label": -1,
    "truncate_legend": -1,
}


def runs_chart(runs: list[Run]) -> str | None:
    """Rows loaded (left axis) and run time (right axis) per run, as bars."""
    finished = [r for r in reversed(runs) if r.finished_at and r.started_at]
    if not finished:
        return None
    rows = [r.rows for r in finished]
    seconds = [round(r.duration_seconds or 0, 1) for r in finished]
    top = _ceiling(max(rows))
    chart = pygal.Bar(
        title="Recent runs: rows loaded and run time",
        width=560,
        height=300,
        range=(0, top),
        y_labels=_ticks(top),
        secondary_range=(0, _ceiling(max(seconds))),
        value_formatter=_count,
        show_minor_x_labels=False,
        x_labels_major_every=math.ceil(len(finished) / RUN_LABELS),
        **_COMMON,
    )
    chart.x_labels = [f"#{r.id}" for r in finished]
    chart.add("Rows loaded (left)", rows)
    chart.add("Run time, seconds (right)", seconds, secondary=True)
    return _svg(chart)


def rates_chart(rows: list[dict[str, Any]]) -> str | None:
    """Open and click rates of recent email campaigns, as percentages."""
    if not rows:
        return None
    top = _ceiling(max(_percent(r["open_rate"]) or 0 for r in rows))
    chart = pygal.HorizontalBar(
        title="Recent campaigns: open and click rate (%)",
        width=960,
        height=110 + 44 * len(rows),
        range=(0, top),
        y_labels=_ticks(top),
        value_formatter=lambda v: f"{v:.0f}%" if v == int(v) else f"{v:.1f}%",
        **_COMMON,
    )
    chart.x_labels = [_short(r["name"] or r["campaign_id"]) for r in reversed(rows)]
    chart.add("Open rate", [_percent(r["open_rate"]) for r in reversed(rows)])
    chart.add("Click rate", [_percent(r["click_rate"]) for r in reversed(rows)])
    return _svg(chart)


def _svg(chart: Any) -> str:
    """The chart without inline style or script, which the pages' CSP refuses.

    pygal signs its output with comments naming its web site (the page should
    carry no address outside the dashboard); its script only configures the
    tooltips of a library we do not load; its style is `chart_css()`.
    """
    svg = str(chart.render(is_unicode=True))
    for inline in (_COMMENT, _SCRIPT, _STYLE_ELEMENT, _HIDDEN):
        svg = inline.sub("", svg)
    return svg


@functools.cache
def chart_css() -> str:
    """pygal's style for every chart (they share one look), as a stylesheet."""
    chart = pygal.Bar(**_COMMON)
    for _color in _STYLE.colors:  # pygal writes a colour rule per series
        chart.add("", [1])
    svg = str(chart.render(is_unicode=True))
    css = "\n".join(html.unescape(m) for m in _STYLE_ELEMENT.findall(svg))
    # The tooltip is hidden by an inline style pygal's own script would change.
    return _CHART_ID.sub(".pygal-chart", css) + "\n.pygal-chart .tooltip{opacity:0}\n"


def _ceiling(value: float) -> float:
    """A round axis top (1, 2, 4, 6 or 8 times a power of ten): round quarters."""
    scale = 1.0
    while True:
        for step in (1, 2, 4, 6, 8):
            if step * scale >= value:
                return step * scale
        scale *= 10


def _ticks(top: float) -> list[float]:
    return [top * n / TICKS for n in range(TICKS + 1)]


def _count(value: float) -> str:
    """1,437 and 2.5: thousands separated, fractions only where they matter."""
    if value >= 100_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _percent(value: Any) -> float | None:
    return None if value is None else round(float(value) * 100, 2)


def _short(text: str, limit: int = NAME_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

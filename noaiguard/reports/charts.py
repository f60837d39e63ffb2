"""SVG charts drawn as text: no JavaScript, no external assets, so the HTML report is one file that
reads the same in a mail client, a browser, a phone and on paper.

Labels are escaped here (they can come from a request); every bar carries a ``<title>`` so that
pointing at it shows the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from ..categories import Category

#: One colour per category, the same in every chart and legend.
COLORS: dict[str, str] = {
    Category.AI_TRAINING: "#c0392b",
    Category.AI_DATASET_TOOL: "#8e44ad",
    Category.AI_SEARCH: "#d35400",
    Category.AI_ASSISTANT: "#e8a33d",
    Category.SCRAPER_LIBRARY: "#6d6d6d",
    Category.HEADLESS_BROWSER: "#34495e",
    Category.SEARCH_ENGINE: "#2471a3",
    Category.SOCIAL_PREVIEW: "#17a589",
    Category.FEED_READER: "#28b463",
    Category.ARCHIVER: "#1b4f72",
    Category.SEO_CRAWLER: "#a6acaf",
    Category.MONITOR: "#cacfd2",
    Category.BROWSER: "#5dade2",
    Category.UNKNOWN_BOT: "#f1c40f",
    Category.UNKNOWN: "#b3b6b7",
    Category.SPOOFED_BOT: "#78281f",
}
_OTHER = "#888888"

WIDTH, HEIGHT = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 8, 12, 28


def color(category: str) -> str:
    return COLORS.get(category, _OTHER)


def stacked_bars(
    days: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]], *, title: str
) -> Markup:
    """Bars per day, each stacked from ``series`` of (label, colour, one value per day)."""
    totals = [sum(values[i] for _, _, values in series) for i in range(len(days))]
    top = _nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot = plot_w / max(len(days), 1)
    bar_w = max(min(slot * 0.7, 48), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):  # grid lines and the axis labels
        value = top * step / 4
        y = _TOP + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'class="grid"/><text x="{_LEFT - 6}" y="{y + 4:.1f}" class="axis" '
            f'text-anchor="end">{_short(value)}</text>'
        )
    for i, day in enumerate(days):
        x = _LEFT + slot * i + (slot - bar_w) / 2
        y = _TOP + plot_h
        for label, fill, values in series:
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{fill}"><title>{escape(day)}: {escape(label)} {value:,}</title></rect>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - 10}" class="axis" '
            f'text-anchor="middle">{escape(_day_label(day, len(days)))}</text>'
        )
    if not any(totals):
        parts.append(
            f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_TOP + plot_h / 2:.1f}" class="empty" '
            'text-anchor="middle">nothing recorded</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped above


def _nice_ceiling(value: int) -> float:
    """The top of the axis: four grid steps of a round size (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8
    times a power of ten, whole numbers only) that reach at least ``value``."""
    quarter = max(value / 4, 1)
    magnitude = 10.0 ** math.floor(math.log10(quarter))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        size = step * magnitude
        if size >= quarter and size == int(size):
            return 4 * size
    raise AssertionError("unreachable: 10 times the magnitude is always enough")


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _day_label(day: str, count: int) -> str:
    """``Mon 16`` for a week, ``16`` for a month."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return day
    return parsed.strftime("%a %d") if count <= 10 else parsed.strftime("%d")

"""Reports: what came, what was refused, who ignored robots.txt, and which signals were in force.

:func:`build_report` reads a store into a :class:`Report`; :func:`render` lays it out as HTML,
Markdown, JSON or CSV. ``noaiguard report`` is the command line for both.
"""

from __future__ import annotations

from collections.abc import Callable

from .data import render_csv, render_json
from .html import render_html
from .model import FORMAT, Report, build_report
from .period import KINDS, Period
from .text import render_markdown

__all__ = ["FORMAT", "FORMATS", "KINDS", "Period", "Report", "build_report", "render"]

#: Output formats by name, with the file suffix each is written with.
FORMATS: dict[str, tuple[Callable[[Report], str], str]] = {
    "html": (render_html, ".html"),
    "md": (render_markdown, ".md"),
    "json": (render_json, ".json"),
    "csv": (render_csv, ".csv"),
}


def render(report: Report, format: str) -> str:
    """``report`` as ``format`` (a key of FORMATS)."""
    try:
        renderer, _ = FORMATS[format]
    except KeyError:
        raise ValueError(
            f"unknown format {format!r}; expected one of {', '.join(FORMATS)}"
        ) from None
    return renderer(report)

"""The report as one self-contained HTML page: inline CSS and SVG, no script, no external asset.

The template (``templates/report.html.j2``) runs under Jinja2 with autoescaping on and undefined
names as errors: every string that came from a request (User-Agents, paths, networks) is escaped
wherever it lands, without anyone having to remember it.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from .charts import color, stacked_bars
from .formatting import (
    category_label,
    change,
    number,
    percent,
    printable,
    printable_lines,
    privacy_note,
    size,
    when,
)
from .model import Day, Report


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("noaiguard.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        number=number,
        percent=percent,
        size=size,
        when=when,
        category=category_label,
        color=color,
        printable=printable,
        printable_lines=printable_lines,
        privacy_note=privacy_note,
    )
    env.globals["change"] = change
    return env


def render_html(report: Report) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report,
        charts=[
            _chart(report.timeline, report.categories, refused=True),
            _chart(report.timeline, report.categories, refused=False),
        ],
        withheld=sum(a.bytes_withheld for a in report.agents),
    )


def _chart(
    days: tuple[Day, ...], categories: list[str], *, refused: bool
) -> tuple[str, Markup, list[tuple[str, str]]]:
    """(title, SVG, legend of (label, colour)) for one side of the timeline."""
    side = [d.refused if refused else d.allowed for d in days]
    present = [c for c in categories if any(counts.get(c) for counts in side)]
    present += sorted({c for counts in side for c in counts if counts[c]} - set(present))
    series = [(category_label(c), color(c), [counts.get(c, 0) for counts in side]) for c in present]
    title = "Refused per day, by category" if refused else "Allowed per day, by category"
    svg = stacked_bars([d.day for d in days], series, title=title)
    return title, svg, [(label, fill) for label, fill, _ in series]

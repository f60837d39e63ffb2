"""The report as Markdown: reads as plain text in a terminal and in the text part of an email,
and renders as tables where Markdown is rendered.

Everything that came from a request (User-Agents, paths, networks) goes into a code span, with
table pipes escaped and control characters shown as escapes, so a hostile User-Agent can neither
add a link, break a table nor drive the terminal that prints it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .formatting import (
    category_label,
    change,
    number,
    percent,
    printable,
    privacy_note,
    size,
    when,
)
from .model import Report

_BACKTICKS = re.compile(r"`+")


def render_markdown(report: Report) -> str:
    lines: list[str] = []
    add = lines.append
    period = report.period
    add(f"# {_title(report)}")
    add("")
    add(f"{period.span}. Generated {when(report.generated)} UTC by noaiguard.")
    for note in report.notes:
        add("")
        add(f"> {note}")

    h = report.headline
    add("")
    add("## At a glance")
    add("")
    add(
        _table(
            ("", "this period", "previous", "change"),
            [
                (label, number(c.now), number(c.before), change(c.now, c.before))
                for label, c in (
                    ("requests", h.requests),
                    ("refused", h.refused),
                    ("logged", h.logged),
                )
            ],
            right=(1, 2, 3),
        )
    )
    if h.by_category:
        add("")
        add("Traffic by category:")
        add("")
        add(
            _table(
                ("category", "requests", "share", "refused", "change"),
                [
                    (
                        category_label(s.category),
                        number(s.requests),
                        percent(s.share),
                        number(s.refused),
                        change(s.requests, s.previous),
                    )
                    for s in h.by_category
                ],
                right=(1, 2, 3, 4),
            )
        )

    add("")
    add("## Who came for the work")
    add("")
    if report.agents:
        add(
            _table(
                (
                    "agent",
                    "operator",
                    "category",
                    "requests",
                    "refused",
                    "withheld",
                    "first seen",
                    "last seen",
                    "change",
                ),
                [
                    (
                        _code(a.agent) + (" (new)" if a.new else ""),
                        printable(a.operator),
                        category_label(a.category),
                        number(a.requests),
                        number(a.refused),
                        size(a.bytes_withheld),
                        when(a.first_seen),
                        when(a.last_seen),
                        change(a.requests, a.previous_requests),
                    )
                    for a in report.agents
                ],
                right=(3, 4, 5, 8),
            )
        )
        add("")
        add("By operator:")
        add("")
        add(
            _table(
                ("operator", "agents", "requests", "refused", "withheld", "change"),
                [
                    (
                        printable(o.operator),
                        ", ".join(_code(a) for a in o.agents),
                        number(o.requests),
                        number(o.refused),
                        size(o.bytes_withheld),
                        change(o.requests, o.previous_requests),
                    )
                    for o in report.operators
                ],
                right=(2, 3, 4, 5),
            )
        )
    else:
        add("No known crawler was refused or logged in this period.")

    add("")
    add("## Day by day")
    add("")
    add(
        _table(
            ("day", "allowed", "refused", "refused by category"),
            [
                (
                    d.day,
                    number(sum(d.allowed.values())),
                    number(sum(d.refused.values())),
                    ", ".join(
                        f"{category_label(c)} {number(n)}"
                        for c, n in sorted(d.refused.items(), key=lambda i: (-i[1], i[0]))
                        if n
                    ),
                )
                for d in report.timeline
            ],
            right=(1, 2),
        )
    )

    add("")
    add("## Most targeted paths")
    for title, rows in (("Images", report.image_paths), ("Other paths", report.other_paths)):
        add("")
        add(f"{title}:")
        add("")
        if rows:
            add(
                _table(
                    ("path", "requests", "refused"),
                    [(_code(p.path), number(p.requests), number(p.refused)) for p in rows],
                    right=(1, 2),
                )
            )
        else:
            add("none recorded")

    add("")
    add("## Where they came from")
    add("")
    add(privacy_note(report.ip_privacy))
    add("")
    if report.networks:
        add(
            _table(
                ("network", "requests", "refused", "first seen", "last seen"),
                [
                    (
                        _code(n.network),
                        number(n.requests),
                        number(n.refused),
                        when(n.first_seen),
                        when(n.last_seen),
                    )
                    for n in report.networks
                ],
                right=(1, 2),
            )
        )
    else:
        add("none recorded")

    robots = report.robots
    add("")
    add("## robots.txt: who read it, who ignored it")
    add("")
    if robots.violations:
        add("Requested paths their robots.txt disallows, after reading it:")
        add("")
        add(
            _table(
                ("agent", "requests", "paths", "for example", "first", "last"),
                [
                    (
                        _code(v.agent),
                        number(v.requests),
                        number(v.paths),
                        ", ".join(_code(p) for p in v.examples),
                        when(v.first),
                        when(v.last),
                    )
                    for v in robots.violations
                ],
                right=(1, 2),
            )
        )
        add("")
        add("The full timeline of each, as evidence:")
        add("")
        lines.extend(f"    {v.evidence}" for v in robots.violations)
    else:
        add("No agent requested a path disallowed by the robots.txt it had read.")
    add("")
    if robots.fetched:
        add("Fetched robots.txt:")
        add("")
        add(
            _table(
                ("agent", "fetches", "first", "last", "versions"),
                [
                    (
                        _code(f.agent),
                        number(f.fetches),
                        when(f.first),
                        when(f.last),
                        ", ".join(v[:12] for v in f.versions),
                    )
                    for f in robots.fetched
                ],
                right=(1,),
            )
        )
    else:
        add("No known agent fetched robots.txt in this period.")
    if robots.never_fetched:
        add("")
        add("Never fetched robots.txt, yet came:")
        add("")
        add(
            _table(
                ("agent", "category", "requests", "says it obeys robots.txt"),
                [
                    (
                        _code(n.agent),
                        category_label(n.category),
                        number(n.requests),
                        n.claims_to_respect,
                    )
                    for n in robots.never_fetched
                ],
                right=(2,),
            )
        )

    add("")
    add("## Spoofed crawlers")
    add("")
    if report.spoofed:
        add("Claimed to be a known crawler, from an address its operator does not use:")
        add("")
        add(
            _table(
                ("claimed", "requests", "refused", "networks", "for example", "first", "last"),
                [
                    (
                        _code(s.claimed),
                        number(s.requests),
                        number(s.refused),
                        number(s.networks),
                        ", ".join(_code(n) for n in s.examples),
                        when(s.first),
                        when(s.last),
                    )
                    for s in report.spoofed
                ],
                right=(1, 2, 3),
            )
        )
    else:
        add("None caught in this period.")

    add("")
    add("## New and unknown")
    add("")
    if report.new_agents:
        add(
            "First seen this period: "
            + ", ".join(
                f"{_code(a.agent)} ({category_label(a.category)}, {number(a.requests)} requests)"
                for a in report.new_agents
            )
        )
    else:
        add("No agent was seen for the first time.")
    add("")
    if report.unknown_agents:
        add("User-Agents of no known agent that were refused or logged (worth a look):")
        add("")
        add(
            _table(
                ("User-Agent", "category", "requests", "refused", "logged", "last"),
                [
                    (
                        _code(u.user_agent or "(none)"),
                        category_label(u.category),
                        number(u.requests),
                        number(u.refused),
                        number(u.logged),
                        when(u.last),
                    )
                    for u in report.unknown_agents
                ],
                right=(2, 3, 4),
            )
        )
    else:
        add("No unknown User-Agent was refused or logged.")

    signals = report.signals
    add("")
    add("## Opt-out signals in force")
    add("")
    for name, value in signals.configured:
        add(f"- {name}: {printable(value)}")
    for tag, count in signals.x_robots_tags:
        add(f"- X-Robots-Tag {_code(tag)} on {number(count)} recorded responses")
    if signals.robots_versions:
        add("")
        add("robots.txt versions served (SHA-256 of the body as served):")
        add("")
        for v in signals.robots_versions:
            span = f"served {when(v.first_served)} to {when(v.last_served)}"
            if not v.served_in_period:
                span += ", the last one served before this period"
            add(f"- `{v.version}` ({span})")
    else:
        add("")
        add("No robots.txt was served in or before this period.")
    add("")
    return "\n".join(lines)


def _title(report: Report) -> str:
    site = f" for {printable(report.site)}" if report.site else ""
    return f"noaiguard report{site}: {report.period.label}"


def _code(text: str) -> str:
    """``text`` as a Markdown code span that no content can end early."""
    text = printable(text).replace("|", "\\|")
    fence = "`" * (max((len(m) for m in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A Markdown table padded into columns, so that it also reads as plain text."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)]
    return "\n".join([line(header), "|" + "|".join(rule) + "|", *(line(r) for r in rows)])

"""The audit's report: the live store's report over the days of the log, saying where it came from.

The report is the one ``noaiguard report`` makes (:func:`~noaiguard.reports.build_report` over
the store the audit wrote), for whole UTC days from the log's first request to its last. Its
title says it is a log audit, and its first notes say what that means: which files, how many
lines could not be read (with examples), and what a log cannot tell.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from ..agents import AgentDB
from ..backends import EventStore
from ..config import Config, Mode
from ..reports import Period, Report, build_report
from ..reports.formatting import printable
from ..reports.period import DAY
from .engine import Reading

#: Characters of a bad line shown as its example.
EXAMPLE_LENGTH = 120


def audit_period(reading: Reading) -> Period:
    """Whole UTC days, from the first request's to the last one's."""
    assert reading.first_hour is not None
    assert reading.last_hour is not None
    since = reading.first_hour // DAY * DAY
    until = reading.last_hour // DAY * DAY + DAY
    last_day = time.strftime("%Y-%m-%d", time.gmtime(until - DAY))
    first_day = time.strftime("%Y-%m-%d", time.gmtime(since))
    span = first_day if first_day == last_day else f"{first_day} to {last_day}"
    return dataclasses.replace(Period.between(since, until), label=f"log audit, {span}")


def audit_report(  # noqa: PLR0917 - the command's one call passes each by name
    store: EventStore,
    reading: Reading,
    sources: Sequence[str],
    problems: Sequence[str],
    config: Config,
    agents: AgentDB,
    *,
    site: str,
    now: float,
) -> Report:
    """The report of what the audit wrote to ``store``, with the audit's notes first."""
    report = build_report(
        store, audit_period(reading), agents=agents, config=config, site=site, now=now
    )
    return dataclasses.replace(
        report, notes=(*audit_notes(reading, sources, problems, config), *report.notes)
    )


def audit_notes(
    reading: Reading, sources: Sequence[str], problems: Sequence[str], config: Config
) -> list[str]:
    """What the reader of an audit's report must know, in sentences."""
    would = "would have done" if config.mode is Mode.ENFORCE else "would have recorded"
    notes = [
        f"Made by noaiguard audit from {reading.lines:,} lines of {_names(sources)}: what "
        f"noaiguard {would} with each of the {reading.requests:,} requests under this "
        "configuration, had it stood in front of the site then. Nothing was refused at the time: "
        "refused means would have been refused.",
        "Claimed crawlers were checked against the IP ranges their operators publish; claims of "
        "operators that publish none could not be checked (an audit makes no DNS lookups). Logs "
        "record no request headers but the User-Agent, so behaviour was judged on rates alone. "
        "Whether an agent obeyed robots.txt after fetching it needs the robots.txt it was "
        "served, which a log does not hold.",
    ]
    if reading.bad_lines:
        notes.append(bad_lines_note(reading))
    notes.extend(problems)
    return notes


def bad_lines_note(reading: Reading) -> str:
    kinds = "; ".join(f"{count:,} {reason}" for reason, count in reading.bad.most_common())
    examples = ", ".join(
        f"{e.source}:{e.number} `{_example(e.text)}`" for e in reading.examples[:3]
    )
    lines = "line was" if reading.bad_lines == 1 else "lines were"
    return f"{reading.bad_lines:,} {lines} not read as requests ({kinds}), e.g. {examples}."


def summary(
    reading: Reading, report: Report | None, problems: Sequence[str], seconds: float
) -> str:
    """The audit in a few lines, for standard error."""
    rate = f"{reading.lines / seconds:,.0f} lines/s" if seconds > 0 else "instant"
    out = [f"noaiguard audit: {reading.lines:,} lines, {reading.requests:,} requests ({rate})"]
    if report is not None:
        h = report.headline
        out.append(
            f"  {report.period.label}: would have refused {h.refused.now:,}, logged "
            f"{h.logged.now:,} of {h.requests.now:,} requests"
        )
        crawlers = [a for a in report.agents if a.category.startswith("ai-")]
        if crawlers:
            out.append("  AI crawlers: " + ", ".join(f"{a.agent} {a.requests:,}" for a in crawlers))
        if report.spoofed:
            out.append(
                "  spoofed crawlers: "
                + ", ".join(f"{s.claimed} {s.requests:,}" for s in report.spoofed)
            )
    if reading.bad_lines:
        out.append(f"  {reading.bad_lines:,} lines skipped:")
        out.extend(f"    {count:>9,}  {reason}" for reason, count in reading.bad.most_common())
        out.extend(
            f"    {e.source}:{e.number}: {e.reason}: {_example(e.text)}" for e in reading.examples
        )
    out.extend(f"  {problem}" for problem in problems)
    return "\n".join(out)


def _example(text: str) -> str:
    """A bad line, short, printable, and unable to end the code span it is shown in."""
    return printable(text[:EXAMPLE_LENGTH]).replace("`", "'")


def _names(sources: Sequence[str]) -> str:
    if len(sources) <= 3:
        return ", ".join(sources)
    return f"{', '.join(sources[:2])} and {len(sources) - 2} more files"

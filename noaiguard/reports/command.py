"""``noaiguard report``: build the report for a period, write it to a file, and mail it.

noaiguard report                  the last full week, as HTML, to ./noaiguard-report-...html
noaiguard report --period month --format md -o -
noaiguard report --since 2026-11-01 --until 2026-11-15 --format json -o nov.json
noaiguard report --email-to owner@example.org  (report.email in the config says how)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

from ..agents import AgentDB
from ..backends import open_event_store
from ..config import SMTP_PASSWORD_ENVIRONMENT, Config, load_config
from ..periods import parse_time
from . import FORMATS, KINDS, Period, Report, build_report, render
from .email import build_message, format_subject, send_report

EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="the weekly report: who came, what was refused, who ignored robots.txt",
        description="Build a report from the event store. Default: the last full week (Monday "
        "to Monday, UTC), as HTML, written to a file whose path is printed. Times: 2026-11-20, "
        "2026-11-20T10:30 (UTC), now, or an age such as 7d.",
    )
    add_arguments(report)
    report.set_defaults(run=run)


def add_arguments(report: argparse.ArgumentParser, *, config_option: bool = True) -> None:
    """The report's options, on the CLI and on Django's ``noaiguard_report`` (no --config)."""
    if config_option:
        report.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    report.add_argument("--store", help="event store URL (default: the config's store.url)")
    report.add_argument(
        "--period", choices=KINDS, help="the last full day, week or month (default: week)"
    )
    report.add_argument("--since", help="from this time, instead of --period")
    report.add_argument("--until", help="up to this time (default with --since: now)")
    report.add_argument("--format", choices=tuple(FORMATS), default="html")
    report.add_argument(
        "-o", "--output", help="file to write, - for standard output (default: a file named "
        "after the period, in the current directory)",
    )  # fmt: skip
    report.add_argument("--site", help="the site's name in the title (default: report.site_name)")
    report.add_argument(
        "--email-to",
        action="append",
        default=[],
        metavar="ADDR",
        help="also mail the report to ADDR (repeatable; SMTP settings: report.email; password: "
        f"report.email.password or ${SMTP_PASSWORD_ENVIRONMENT})",
    )
    # The moment the report is made at, for tests and for re-making an old report.
    report.add_argument("--now", help=argparse.SUPPRESS)


def run(args: argparse.Namespace, *, config: Config | None = None) -> int:
    """Make the report ``args`` ask for; ``config`` replaces ``--config`` (Django's settings)."""
    if config is None:
        path = getattr(args, "config", None)
        config = load_config(path) if path is not None else Config()
    try:
        now = parse_time(args.now) if args.now else time.time()
        period = _period(args, now)
    except ValueError as exc:
        print(f"noaiguard report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    site = args.site if args.site is not None else config.report.site_name
    store = open_event_store(args.store or config.store.url)
    try:
        report = build_report(
            store, period, agents=AgentDB.load(config.agents.extra), config=config, site=site,
            now=now,
        )  # fmt: skip
    finally:
        store.close()
    publish(report, args.format, args.output)
    if args.email_to:
        _mail(report, config, args.email_to)
        print(f"mailed to {', '.join(args.email_to)}", file=sys.stderr)
    return EXIT_OK


def publish(
    report: Report, format: str, output: str | None, *, prefix: str = "noaiguard-report"
) -> None:
    """Write ``report`` as ``format`` to ``output``: ``-`` is standard output; None is a file
    named ``prefix`` and the period's dates, in the current directory, whose path is printed."""
    output = output or _default_name(report, format, prefix)
    text = render(report, format)
    if output == "-":
        sys.stdout.write(text)
    else:
        _write(Path(output), text)
        print(output)


def _period(args: argparse.Namespace, now: float) -> Period:
    if args.since is None:
        if args.until is not None:
            raise ValueError("--until needs --since (or use --period)")
        return Period.last_full(args.period or "week", now)
    if args.period is not None:
        raise ValueError("give --period or --since, not both")
    since = parse_time(args.since, now)
    until = parse_time(args.until, now) if args.until is not None else now
    return Period.between(since, until)


def _dates(report: Report) -> tuple[str, str]:
    """The first and the last day the report covers (its end is exclusive)."""
    first = time.strftime("%Y-%m-%d", time.gmtime(report.period.since))
    return first, time.strftime("%Y-%m-%d", time.gmtime(report.period.until - 1))


def _default_name(report: Report, format: str, prefix: str = "noaiguard-report") -> str:
    day, last = _dates(report)
    span = day if day == last else f"{day}-to-{last}"
    return f"{prefix}-{span}{FORMATS[format][1]}"


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        # mkstemp makes the file private; a report gets the modes of any file the user writes.
        umask = os.umask(0)
        os.umask(umask)
        Path(temporary).chmod(0o666 & ~umask)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def _mail(report: Report, config: Config, to: list[str]) -> None:
    settings = config.report.email
    first, last = _dates(report)
    subject = format_subject(
        settings.subject,
        site=report.site or "your site",
        since=first,
        until=last,
        blocked=report.headline.refused.now,
    )
    stem = _default_name(report, "csv").removesuffix(".csv")
    message = build_message(
        settings,
        to,
        subject,
        render(report, "md"),
        render(report, "html"),
        attachments=[
            (f"{stem}.csv", render(report, "csv").encode(), "text/csv"),
            (f"{stem}.json", render(report, "json").encode(), "application/json"),
        ],
    )
    password = settings.password or os.environ.get(SMTP_PASSWORD_ENVIRONMENT, "")
    send_report(settings, message, password=password)

"""``noaiguard audit``: which AI crawlers already took the work, from the access logs a site has.

    noaiguard audit /var/log/nginx/access.log*                  HTML report, its path printed
    noaiguard audit access.log.2.gz access.log.1 --report-format md -o -
    zcat old/*.gz | noaiguard audit - --format combined --report-format json -o audit.json

Every request goes through the guard of ``--config`` (default: the built-in defaults) as if
noaiguard had stood in front of the site, with the log's timestamps as the clock; the report is
the one ``noaiguard report`` makes from a live store, over the days the logs cover. Lines that
are not requests are counted, with examples, on standard error and in the report; they never
stop the audit. A file that cannot be opened stops it before anything is read (exit status 2).
Big logs are judged by two processes, each taking the clients of half the networks (see
:mod:`.shards`).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from ..backends import EventStore, open_event_store
from ..config import Config, load_config
from ..progress import Progress
from ..reports import FORMATS
from ..reports.command import publish
from ..reports.formatting import size
from .engine import Audit, Share
from .logformats import FORMATS as LOG_FORMATS
from .logformats import JSON_KEYS, Parser, parser
from .reader import STDIN, LogFile, ProgressWatch, in_time_order, text_size, total_size
from .report import audit_report, summary

EXIT_OK, EXIT_NOTHING_READ, EXIT_USAGE = 0, 1, 2
#: Logs smaller than this are read before a progress bar would be worth drawing.
PROGRESS_FROM = 32 * 1024 * 1024
#: Logs with less text than this are read by one process: a second one would take longer to
#: start than it saves.
PARALLEL_FROM = 64 * 1024 * 1024


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = "; ".join(f"{what}: {' or '.join(names)}" for what, names in JSON_KEYS.items())
    audit = commands.add_parser(
        "audit",
        help="find the AI crawlers in existing access logs (nginx, Apache): the report they "
        "would have made",
        description="Read nginx or Apache access logs (plain, .gz, or - for standard input), "
        "decide every request as noaiguard would have, with the log's timestamps as the clock, "
        "and write the report of those days. Claimed crawlers are checked against the IP ranges "
        "that ship with noaiguard; no DNS lookups are made.",
        epilog=f"JSON lines (nginx log_format escape=json) are read from these keys: {keys}.",
    )
    audit.add_argument("logs", nargs="+", metavar="LOGFILE", help="access logs, or - for stdin")
    audit.add_argument(
        "--format",
        choices=LOG_FORMATS,
        default="auto",
        help="the log format (default: auto, each line combined, common or JSON)",
    )
    audit.add_argument(
        "--report-format", choices=tuple(FORMATS), default="html", help="(default: html)"
    )
    audit.add_argument(
        "-o",
        "--output",
        help="file to write, - for standard output (default: a file named after the days the "
        "logs cover, in the current directory)",
    )
    audit.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    audit.add_argument(
        "--store",
        help="keep the audit's events in this event store, for `noaiguard report` and "
        "`noaiguard evidence` (default: a temporary one)",
    )
    audit.add_argument("--site", help="the site's name in the title (default: report.site_name)")
    audit.add_argument(
        "--workers",
        type=int,
        help="processes that judge the requests, each the clients of a share of the networks "
        "(default: 2 for logs over 64 MB on a machine with 2 or more CPUs, else 1; standard "
        "input and a memory:// store take 1)",
    )
    audit.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    audit.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Audit the logs ``args`` names; 0 with a report, 1 when no request was read, 2 on usage."""
    config = load_config(args.config) if args.config is not None else Config()
    parse = parser(args.format)
    started = time.perf_counter()
    try:
        if args.logs.count(STDIN) > 1:
            raise ValueError("standard input (-) can be read once")
        names = in_time_order(args.logs, parse)
        workers = _workers(args.workers, names, args.store)
    except (OSError, ValueError) as exc:
        print(f"noaiguard audit: {_problem(exc)}", file=sys.stderr)
        return EXIT_USAGE
    with _store(args.store) as (store, url), _other_shards(args, names, url, workers) as others:
        audit = Audit(config, store, shards=workers)  # while the other shards start
        read, problems = _read(audit, names, parse, quiet=args.quiet)
        for other in others:
            audit.add(other.result())
        reading = audit.finish()
        report = None
        if reading.requests:
            site = args.site if args.site is not None else config.report.site_name
            report = audit_report(
                store, reading, read, problems, config, audit.guard.agents, site=site,
                now=time.time(),
            )  # fmt: skip
    if not args.quiet:
        print(summary(reading, report, problems, time.perf_counter() - started), file=sys.stderr)
    if report is None:
        print("noaiguard audit: no request could be read; no report written", file=sys.stderr)
        return EXIT_NOTHING_READ
    publish(report, args.report_format, args.output, prefix="noaiguard-audit")
    return EXIT_OK


def _read(
    audit: Audit, names: list[str], parse: Parser, *, quiet: bool = True
) -> tuple[list[str], list[str]]:
    """Feed every log to ``audit``; the names read, and what went wrong with any of them."""
    read: list[str] = []
    problems: list[str] = []
    with _progress(names, quiet) as watch:
        for name in names:
            try:
                log = LogFile.open(name)
            except OSError as exc:  # gone or unreadable since it was first opened
                problems.append(f"{name}: not read: {_problem(exc)}")
                continue
            read.append(log.name)
            if watch is not None:
                watch.reading(log)
            try:
                audit.feed(log.name, log.lines(), parse)
            finally:
                log.close()
            if log.problem:
                problems.append(f"{log.name}: {log.problem}")
    return read, problems


def audit_shard(
    config_path: Path | None, format: str, names: list[str], url: str, *, shard: int, shards: int
) -> Share:
    """One shard of an audit in a process of its own (see :mod:`.shards`): its events go to the
    store at ``url``, what adds up comes back."""
    config = load_config(config_path) if config_path is not None else Config()
    store = open_event_store(url)
    try:
        audit = Audit(config, store, shard=shard, shards=shards)
        _read(audit, names, parser(format))
        return audit.share()
    finally:
        store.close()


def _workers(requested: int | None, names: list[str], store: str | None) -> int:
    """How many processes read the logs: ``--workers``, or 2 for big files on 2 or more CPUs."""
    if requested is not None and requested < 1:
        raise ValueError("--workers: expected 1 or more")
    shareable = STDIN not in names and not (store or "").startswith("memory:")
    if requested is not None:
        if requested > 1 and not shareable:
            raise ValueError(
                "--workers: standard input and a memory:// store can only be read by one process"
            )
        return requested
    big = shareable and text_size(names) >= PARALLEL_FROM
    return min(2, os.cpu_count() or 1) if big else 1


@contextlib.contextmanager
def _store(url: str | None) -> Iterator[tuple[EventStore, str]]:
    """The store named, or a temporary SQLite file (queried by the report on several threads)."""
    with contextlib.ExitStack() as stack:
        if url is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="noaiguard-audit-"))
            url = f"sqlite:///{Path(folder) / 'audit.db'}"
        store = open_event_store(url)
        stack.callback(store.close)
        yield store, url


@contextlib.contextmanager
def _other_shards(
    args: argparse.Namespace, names: list[str], url: str, shards: int
) -> Iterator[list[Future[Share]]]:
    """Shards 1 and up, each started in a process of its own (this one judges shard 0)."""
    if shards == 1:
        yield []
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ProcessPoolExecutor(shards - 1, mp_context=context) as pool:
        yield [
            pool.submit(
                audit_shard, args.config, args.format, names, url, shard=shard, shards=shards
            )
            for shard in range(1, shards)
        ]


@contextlib.contextmanager
def _progress(names: list[str], quiet: bool) -> Iterator[ProgressWatch | None]:
    """A progress bar on a terminal, for logs big enough to take a while."""
    if quiet or not sys.stderr.isatty() or text_size(names) < PROGRESS_FROM:
        yield None
        return
    # Counted in bytes read from disk (compressed ones for a .gz): what can be counted.
    progress = Progress(total_size(names), sys.stderr, counts=_sizes)
    with ProgressWatch(progress) as watch:
        yield watch


def _sizes(done: int, total: int) -> str:
    return f"{size(done)}/{size(total)}"


def _problem(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)

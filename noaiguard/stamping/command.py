"""``noaiguard stamp``: write the IPTC "Data Mining" opt-out into image files at rest.

    noaiguard stamp photos/ --out stamped/             stamped copies, same layout under stamped/
    noaiguard stamp static/img --in-place --backup     replace each file, keeping NAME.orig
    noaiguard stamp a.jpg b.webp --in-place --value DMI-PROHIBITED

Folders are searched recursively for .jpg, .jpeg, .png and .webp (any case); files named on the
command line are always tried. The format comes from the content, never the name. With --out,
DIR receives every file that carries the value afterwards (stamped, and already stamped ones
copied as they are); skipped files are not copied, they are listed with the reason. In-place
writes are atomic (a temporary file in the same folder, renamed over the original, same mode).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .stamp import Outcome, stamp_bytes
from .vocabulary import DEFAULT_DATA_MINING, data_mining_uri

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})
BACKUP_SUFFIX = ".orig"
#: A progress bar is drawn (on a terminal) only for runs longer than this many files.
PROGRESS_FROM = 20


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stamp = commands.add_parser(
        "stamp",
        help="write the IPTC 'Data Mining' opt-out into JPEG, PNG and WebP files",
        description="Write plus:DataMining (IPTC Photo Metadata 2023.1) into the XMP of JPEG, "
        "PNG and WebP files without touching their pixels or other metadata. Files with a C2PA "
        "manifest, corrupt files and other formats are left alone and listed.",
    )
    stamp.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="image files, or folders searched recursively for .jpg .jpeg .png .webp",
    )
    where = stamp.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write stamped copies under DIR, keeping the layout below each folder given "
        "(already stamped files are copied as they are; skipped ones are not)",
    )
    where.add_argument("--in-place", action="store_true", help="replace the files themselves")
    stamp.add_argument(
        "--backup",
        action="store_true",
        help=f"with --in-place: keep each original as NAME{BACKUP_SUFFIX} (an existing one is "
        "kept, as it holds the older original)",
    )
    stamp.add_argument(
        "--value",
        default=DEFAULT_DATA_MINING,
        metavar="CODE",
        help=f"the PLUS Data Mining code to write (default: {DEFAULT_DATA_MINING})",
    )
    stamp.add_argument("--quiet", action="store_true", help="print only files that failed")
    stamp.set_defaults(run=run)


class _UsageError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Job:
    source: Path  # as found, for messages
    target: Path  # where the stamped file goes: the source itself (resolved) with --in-place


@dataclass(slots=True)
class _Tally:
    stamped: int = 0
    already: int = 0
    replaced: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    """Stamp what ``args`` names; 0 when every file was handled, 1 when one could not be."""
    try:
        uri = data_mining_uri(args.value)
        if args.backup and not args.in_place:
            raise _UsageError("--backup needs --in-place")
        jobs = list(_jobs(args.paths, args.out))
    except (ValueError, _UsageError) as exc:
        option = "--value: " if isinstance(exc, ValueError) else ""
        print(f"noaiguard stamp: {option}{exc}", file=sys.stderr)
        return EXIT_USAGE
    tally = _Tally()
    progress = _Progress(len(jobs), sys.stderr) if _wants_progress(args, len(jobs)) else None
    for done, job in enumerate(jobs):
        if progress is not None:
            progress.show(done, job.source)
        _stamp(job, uri, args, tally)
    if progress is not None:
        progress.close()
    for path, problem in tally.failed:
        print(f"noaiguard stamp: {path}: {problem}", file=sys.stderr)
    if not args.quiet:
        _summary(tally, args.out, sys.stdout)
    return EXIT_FAILURE if tally.failed else EXIT_OK


def _jobs(paths: Iterable[Path], out: Path | None) -> Iterator[_Job]:
    """Every file to stamp with where it goes; usage errors before anything is written."""
    for path in paths:
        if not path.exists():
            raise _UsageError(f"{path}: no such file or folder")
    skip_dir = out.resolve() if out is not None else None
    seen: dict[Path, Path] = {}  # resolved target -> source
    sources: set[Path] = set()
    for path in paths:
        found = [(path, Path(path.name))] if path.is_file() else _images(path, skip_dir)
        for source, relative in found:
            real = source.resolve()
            if real in sources:
                continue
            sources.add(real)
            target = real if out is None else out / relative
            resolved = target.resolve()
            if out is not None and resolved == real:
                raise _UsageError(f"{source}: --out would overwrite it; use --in-place")
            if resolved in seen:
                raise _UsageError(f"{seen[resolved]} and {source} would both go to {target}")
            seen[resolved] = source
            yield _Job(source, target)


def _images(folder: Path, skip_dir: Path | None) -> list[tuple[Path, Path]]:
    """The images below ``folder`` by extension, sorted, with their path relative to it."""
    found = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() != skip_dir)
        for name in sorted(files):
            if Path(name).suffix.lower() in EXTENSIONS:
                found.append((here / name, (here / name).relative_to(folder)))
    return found


def _stamp(job: _Job, uri: str, args: argparse.Namespace, tally: _Tally) -> None:
    try:
        data = job.source.read_bytes()
        mode = job.source.stat().st_mode & 0o7777
    except OSError as exc:
        tally.failed.append((job.source, f"cannot read: {exc.strerror or exc}"))
        return
    result = stamp_bytes(data, uri)
    if result.outcome is Outcome.SKIPPED:
        tally.skipped.append((job.source, result.reason))
        return
    new = result.data if result.data is not None else data
    try:
        if result.outcome is Outcome.ALREADY:
            if not args.in_place:
                _write(job.target, data, mode)
        else:
            if args.backup:
                _back_up(job.target, data, mode)
            _write(job.target, new, mode)
    except OSError as exc:
        where = exc.filename or job.target
        tally.failed.append((job.source, f"cannot write {where}: {exc.strerror or exc}"))
        return
    if result.outcome is Outcome.ALREADY:
        tally.already += 1
        return
    tally.stamped += 1
    if result.reason:
        tally.replaced.append((job.source, result.reason))


def _back_up(path: Path, data: bytes, mode: int) -> None:
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if backup.exists():
        return
    _write(backup, data, mode)
    shutil.copystat(path, backup)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def _summary(tally: _Tally, out: Path | None, stream: TextIO) -> None:
    counts = f"{tally.stamped} stamped, {tally.already} already stamped, "
    counts += f"{len(tally.skipped)} skipped"
    if tally.failed:
        counts += f", {len(tally.failed)} failed"
    if out is not None and tally.stamped + tally.already:
        counts += f" (written under {out})"
    print(counts, file=stream)
    if tally.replaced:
        print("value replaced:", file=stream)
        for path, note in tally.replaced:
            print(f"  {path}: {note}", file=stream)
    if tally.skipped:
        print("skipped:", file=stream)
        for path, reason in tally.skipped:
            print(f"  {path}: {reason}", file=stream)


def _wants_progress(args: argparse.Namespace, count: int) -> bool:
    return not args.quiet and count > PROGRESS_FROM and sys.stderr.isatty()


class _Progress:
    """One line on a terminal, redrawn per file: a bar, the count, the percentage, the file."""

    _BAR = 24

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total = total
        self._stream = stream

    def show(self, done: int, current: Path) -> None:
        filled = self._BAR * done // self._total
        bar = "#" * filled + "." * (self._BAR - filled)
        head = f"[{bar}] {done}/{self._total} {100 * done // self._total:3d}% "
        room = shutil.get_terminal_size().columns - 1 - len(head)
        name = str(current)
        if len(name) > room:  # keep the end of the path: the file name says the most
            name = "..." + name[len(name) - room + 3 :] if room > 3 else ""
        self._stream.write("\r" + head + name + "\x1b[K")
        self._stream.flush()

    def close(self) -> None:
        self._stream.write("\r\x1b[K")
        self._stream.flush()

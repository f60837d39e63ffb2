"""Where log lines come from: files, gzip-compressed or not, and standard input (``-``).

Compression is recognised by the content (gzip's magic bytes), not by the name, so a rotated log
that was compressed without being renamed and ``cat access.log.2.gz | noaiguard audit -`` both
work. Lines are decoded as Latin-1 (see :mod:`.logformats`), which never fails.

A compressed file that ends early (a copy cut short, a log read while it was being compressed)
or is corrupt stops with an error inside gzip; :class:`LogFile` keeps every line read before it
and says what happened in :attr:`LogFile.problem`, so an audit of twelve files does not lose
eleven for the twelfth.

Rotated logs are often named so that the shell lists the newest first (``access.log``,
``access.log.1``, ``access.log.2.gz``); :func:`in_time_order` puts them oldest first by the
first timestamp in each, because behaviour is judged over time, as it happened.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from gzip import GzipFile
from types import TracebackType

from ..progress import Progress
from .logformats import Parser

STDIN = "-"
_GZIP_MAGIC = b"\x1f\x8b"
#: Lines read from the start of each file to find its first timestamp.
_FIRST_LINES = 1000


class LogFile:
    """One log, opened for reading its lines once."""

    def __init__(self, name: str, stream: io.BufferedReader, size: int | None) -> None:
        self.name = name
        #: Bytes on disk (compressed ones for a .gz); None for standard input.
        self.size = size
        #: Why reading stopped before the end ("" when it did not).
        self.problem = ""
        self._stream = stream
        self.compressed = stream.peek(2)[:2] == _GZIP_MAGIC
        binary = GzipFile(fileobj=stream, mode="rb") if self.compressed else stream
        # Lines end at "\n" only, and keep their ending: the parsers tolerate it, and a stray
        # "\r" inside a garbled line does not split it in two.
        self._text = io.TextIOWrapper(binary, encoding="latin-1", newline="\n")

    @classmethod
    def open(cls, name: str) -> LogFile:
        """The file ``name``, or standard input for ``-``. Raises OSError when it cannot be read."""
        if name == STDIN:
            return cls("<stdin>", open(sys.stdin.fileno(), "rb", closefd=False), None)
        if os.path.isdir(name):
            raise IsADirectoryError(21, "Is a directory", name)
        stream = open(name, "rb")  # noqa: SIM115 - closed by close()
        try:
            return cls(name, stream, os.fstat(stream.fileno()).st_size)
        except BaseException:
            stream.close()
            raise

    def lines(self) -> Iterator[str]:
        """Every line, with its line ending; reading errors end the lines (see :attr:`problem`)."""
        try:
            yield from self._text
        except EOFError:
            self.problem = "the compressed data ends early (a truncated .gz); lines before kept"
        except (OSError, zlib.error) as exc:
            self.problem = f"unreadable from here on ({exc}); lines before kept"

    def position(self) -> int:
        """Bytes read from the file so far (compressed bytes for a .gz)."""
        return self._stream.tell()

    def close(self) -> None:
        """Close the file (standard input's descriptor stays open)."""
        self._text.close()
        self._stream.close()  # GzipFile leaves the file it reads from open


def first_time(name: str, parse: Parser) -> float | None:
    """The time of the first readable request in the first lines of ``name`` (None if none)."""
    log = LogFile.open(name)
    try:
        for number, line in enumerate(log.lines()):
            if number >= _FIRST_LINES:
                break
            request = parse(line)
            if not isinstance(request, str):
                return request.time
    finally:
        log.close()
    return None


def in_time_order(names: Sequence[str], parse: Parser) -> list[str]:
    """``names`` oldest first, by each file's first timestamp (standard input stays where it
    is given; files with no readable line keep their place after the dated ones)."""
    if STDIN in names:
        return list(names)
    dated = [(first_time(name, parse), index, name) for index, name in enumerate(names)]
    dated.sort(key=lambda d: (d[0] is None, d[0] or 0.0, d[1]))
    return [name for _, _, name in dated]


class ProgressWatch(AbstractContextManager["ProgressWatch"]):
    """Redraws a progress bar over the files being read, from a thread of its own a few times a
    second: the reading loop, which runs once per line, pays nothing for it."""

    def __init__(self, progress: Progress, interval: float = 0.2) -> None:
        self._progress = progress
        self._interval = interval
        self._done = 0
        self._current: LogFile | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="noaiguard-progress", daemon=True)

    def reading(self, log: LogFile) -> None:
        """``log`` is read now; the one before it is finished."""
        if self._current is not None and self._current.size is not None:
            self._done += self._current.size
        self._current = log

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            log = self._current
            if log is None:
                continue
            try:
                position = log.position()
            except (OSError, ValueError):  # closed between two looks
                continue
            self._progress.show(self._done + position, log.name)

    def __enter__(self) -> ProgressWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._progress.close()


def total_size(names: Sequence[str]) -> int:
    """Bytes on disk of the named files (standard input counts 0)."""
    return sum(os.stat(name).st_size for name in names if name != STDIN)


def text_size(names: Sequence[str]) -> int:
    """Bytes of log text in the named files: a compressed file's size once uncompressed, as its
    gzip trailer gives it (modulo 4 GiB: never less than the file's own size)."""
    total = 0
    for name in names:
        if name == STDIN:
            continue
        with open(name, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > 18 and file.read(2) == _GZIP_MAGIC:
                file.seek(-4, os.SEEK_END)
                size = max(size, int.from_bytes(file.read(4), "little"))
        total += size
    return total

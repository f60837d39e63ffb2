"""A progress bar on one terminal line, for commands that work through many files or a big one.

Commands draw it on standard error, and only when that is a terminal: a log file or a pipe gets
the results, never the redraws.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TextIO


def _of(done: int, total: int) -> str:
    return f"{done}/{total}"


class Progress:
    """A bar, the count (``counts(done, total)``), the percentage and a label, redrawn in place.

    The label is shortened from the left when the terminal is narrow: the end of a path (the
    file's name) says the most.
    """

    _BAR = 24

    def __init__(
        self, total: int, stream: TextIO, *, counts: Callable[[int, int], str] = _of
    ) -> None:
        self._total = max(1, total)
        self._stream = stream
        self._counts = counts

    def show(self, done: int, label: str) -> None:
        done = min(done, self._total)
        filled = self._BAR * done // self._total
        bar = "#" * filled + "." * (self._BAR - filled)
        head = f"[{bar}] {self._counts(done, self._total)} {100 * done // self._total:3d}% "
        room = shutil.get_terminal_size().columns - 1 - len(head)
        if len(label) > room:
            label = "..." + label[len(label) - room + 3 :] if room > 3 else ""
        self._stream.write("\r" + head + label + "\x1b[K")
        self._stream.flush()

    def close(self) -> None:
        """Clear the line, so what is printed next starts on a clean one."""
        self._stream.write("\r\x1b[K")
        self._stream.flush()

"""The progress bar: drawn in place on one line, from a thread that watches the file being read."""

from __future__ import annotations

import io
import time
from pathlib import Path

from noaiguard.audit.reader import LogFile, ProgressWatch
from noaiguard.progress import Progress

from .logs import FIREFOX, START, line, write


def test_the_bar_count_percentage_and_label_are_redrawn_in_place() -> None:
    out = io.StringIO()
    progress = Progress(
        2_000_000, out, counts=lambda done, total: f"{done // 1000}/{total // 1000} kB"
    )
    progress.show(500_000, "access.log")
    progress.show(3_000_000, "access.log")  # never past the end
    progress.close()
    frames = out.getvalue().split("\r")
    assert frames[1] == "[######..................] 500/2000 kB  25% access.log\x1b[K"
    assert frames[2] == "[########################] 2000/2000 kB 100% access.log\x1b[K"
    assert frames[3] == "\x1b[K"


def test_the_watch_follows_the_file_as_it_is_read(tmp_path: Path) -> None:
    log = write(
        tmp_path / "access.log", [line("192.0.2.1", START + n, "/", FIREFOX) for n in range(2000)]
    )
    out = io.StringIO()
    source = LogFile.open(str(log))
    with ProgressWatch(Progress(log.stat().st_size, out), interval=0.01) as watch:
        watch.reading(source)
        for _ in source.lines():
            time.sleep(0.0002)
    source.close()
    frames = [f for f in out.getvalue().split("\r") if f.startswith("[")]
    assert len(frames) > 3
    assert all(f.endswith("access.log\x1b[K") for f in frames)  # the end of the path
    assert out.getvalue().endswith("\r\x1b[K")  # the line is left clean

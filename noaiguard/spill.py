"""Where batches wait while the store is unreachable: JSON lines in local files, replayed later.

Each process writes its own file (``noaiguard-spill-<pid>-<random>.jsonl`` in the spill folder)
and holds an exclusive ``flock`` on it while it lives, so several workers never write into one
file. A file whose lock can be taken belongs to a process that has ended (a restart while the
store was down): any live process may replay it. Batches carry their id, and stores apply a batch
id once, so a replay cut short and started again counts nothing twice.

The files are bounded (``max_bytes`` in all, per process); a batch that does not fit is refused,
and the caller counts its events as dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from .events import Batch, Event, RobotsVersion, Rollup

logger = logging.getLogger("noaiguard.store")

_PATTERN = "noaiguard-spill-*.jsonl"


class SpillFull(Exception):
    """The spill file has reached its size limit."""


class SpillFile:
    def __init__(self, directory: str | Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._own: IO[str] | None = None
        self._own_path: Path | None = None
        self._size = 0

    # -- writing ----------------------------------------------------------------------------

    def append(self, batch: Batch) -> None:
        """Add ``batch`` to this process's file, on disk before it returns.

        Raises SpillFull when it would pass the size limit, OSError when the disk refuses.
        """
        line = json.dumps(_to_json(batch), separators=(",", ":")) + "\n"
        if self._size + len(line) > self.max_bytes:
            raise SpillFull(f"spill file limit of {self.max_bytes} bytes reached")
        own = self._open_own()
        own.write(line)
        own.flush()
        os.fsync(own.fileno())
        self._size += len(line)

    def _open_own(self) -> IO[str]:
        if self._own is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"noaiguard-spill-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            own = path.open("a+", encoding="utf-8")
            fcntl.flock(own.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._own, self._own_path = own, path
            logger.warning("the event store is unreachable: spilling events to %s", path)
        return self._own

    # -- replaying --------------------------------------------------------------------------

    @property
    def has_own(self) -> bool:
        """Whether this process has spilled batches not yet replayed."""
        return self._size > 0

    def replay(self) -> Iterator[Batch]:
        """Every spilled batch, this process's and those of ended processes.

        A file is emptied (or removed) only after the caller has taken all its batches; when the
        caller stops early (the store failed again), the file stays as it is.
        """
        for path, handle, own in self._replayable():
            try:
                handle.seek(0)
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        yield _from_json(json.loads(line))
                    except (ValueError, KeyError, TypeError) as exc:
                        logger.error(
                            "%s:%d: unreadable spilled batch skipped: %s", path, number, exc
                        )
                if own:
                    handle.seek(0)
                    handle.truncate()
                    self._size = 0
                else:
                    path.unlink(missing_ok=True)
            finally:
                if not own:
                    handle.close()

    def _replayable(self) -> Iterator[tuple[Path, IO[str], bool]]:
        if self._own is not None and self._size:
            assert self._own_path is not None
            yield self._own_path, self._own, True
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob(_PATTERN)):
            if path == self._own_path:
                continue
            try:
                handle = path.open("r+", encoding="utf-8")
            except OSError:
                continue
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a live process's file
                handle.close()
                continue
            yield path, handle, False

    def orphans(self) -> int:
        """How many files of ended processes wait to be replayed."""
        if not self.directory.is_dir():
            return 0
        count = 0
        for path in self.directory.glob(_PATTERN):
            if path == self._own_path:
                continue
            with contextlib.suppress(OSError), path.open("r") as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue
                count += 1
        return count

    def close(self) -> None:
        """Release this process's file; an empty one is removed."""
        if self._own is None:
            return
        if not self._size and self._own_path is not None:
            self._own_path.unlink(missing_ok=True)
        self._own.close()
        self._own = None


def _to_json(batch: Batch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "events": [asdict(e) for e in batch.events],
        "robots": [asdict(v) for v in batch.robots],
        "rollups": [asdict(r) for r in batch.rollups],
    }


def _from_json(data: dict[str, Any]) -> Batch:
    events = []
    for fields in data["events"]:
        fields["reasons"] = tuple(fields["reasons"])
        events.append(Event(**fields))
    return Batch(
        data["id"],
        tuple(events),
        tuple(RobotsVersion(**v) for v in data["robots"]),
        tuple(Rollup(**r) for r in data["rollups"]),
    )

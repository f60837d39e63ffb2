"""An event store in a list: for tests and for trying things out. Gone when the process ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..events import Event


class MemoryEventStore:
    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> MemoryEventStore:
        return cls()

    def append(self, events: Sequence[Event]) -> None:
        with self._lock:
            self._events.extend(events)

    def query(self, since: float | None = None, until: float | None = None) -> Iterator[Event]:
        with self._lock:
            events = sorted(self._events, key=lambda e: e.time)
        for event in events:
            if (since is None or event.time >= since) and (until is None or event.time < until):
                yield event

    def count(self) -> int:
        with self._lock:
            return len(self._events)

    def check(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release; the events stay readable."""

"""An event store in memory: for tests and for trying things out. Gone when the process ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from ..events import Batch, Event, RobotsVersion, Rollup
from .base import Group, Selection, StoreBase, first_seen, group_events, robots_followups


class MemoryEventStore(StoreBase):
    def __init__(self) -> None:
        self._events: list[Event] = []
        self._batches: set[str] = set()
        self._robots: dict[str, RobotsVersion] = {}
        self._rollups: dict[tuple[int, str, str, int], int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> MemoryEventStore:
        return cls()

    def write(self, batch: Batch) -> None:
        with self._lock:
            if batch.id in self._batches:
                return
            self._batches.add(batch.id)
            self._events.extend(batch.events)
            for version in batch.robots:
                known = self._robots.get(version.version)
                self._robots[version.version] = (
                    known.widened(version) if known is not None else version
                )
            for rollup in batch.rollups:
                self._rollups[rollup.key] = self._rollups.get(rollup.key, 0) + rollup.count

    def query(
        self, since: float | None = None, until: float | None = None, *, agent: str | None = None
    ) -> Iterator[Event]:
        wanted = agent.lower() if agent is not None else None
        with self._lock:
            events = sorted(self._events, key=lambda e: e.time)
        for event in events:
            if (
                (since is None or event.time >= since)
                and (until is None or event.time < until)
                and (wanted is None or (event.agent or "").lower() == wanted)
            ):
                yield event

    def robots_versions(self) -> list[RobotsVersion]:
        with self._lock:
            return sorted(self._robots.values(), key=lambda v: (v.first_served, v.version))

    def rollups(self, since: float | None = None, until: float | None = None) -> list[Rollup]:
        with self._lock:
            items = sorted(self._rollups.items())
        return [
            Rollup(*key, count)
            for key, count in items
            if (since is None or key[0] >= since) and (until is None or key[0] < until)
        ]

    def count(self) -> int:
        with self._lock:
            return len(self._events)

    def group(
        self,
        selection: Selection,
        by: Sequence[str],
        *,
        limit: int | None = None,
        counts_only: bool = False,
    ) -> list[Group]:
        with self._lock:
            events = list(self._events)
        return group_events(events, selection, by, limit, counts_only)

    def first_seen(self, agents: Sequence[str]) -> dict[str, float]:
        with self._lock:
            events = list(self._events)
        return first_seen(events, agents)

    def robots_followups(
        self,
        since: float | None,
        until: float | None,
        *,
        agents: Sequence[str] | None = None,
        by_path: bool = True,
        path_prefixes: Sequence[str] | None = None,
    ) -> list[Group]:
        with self._lock:
            events = list(self._events)
        return robots_followups(
            events, since, until, agents=agents, by_path=by_path, path_prefixes=path_prefixes
        )

    def prune(self, before: float) -> int:
        with self._lock:
            kept = [e for e in self._events if e.time >= before]
            removed = len(self._events) - len(kept)
            self._events = kept
            self._rollups = {k: v for k, v in self._rollups.items() if k[0] >= before}
        return removed

    def check(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release; the events stay readable."""

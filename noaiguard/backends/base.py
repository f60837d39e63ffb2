"""What an event store must do. Methods are synchronous and run on the sink's writer thread (or
in a command such as ``noaiguard evidence``), never on the request path.

Every backend passes the same contract tests (``tests/store/test_contract.py``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import Protocol

from ..events import Batch, Event, RobotsVersion, Rollup


class EventStore(Protocol):
    def write(self, batch: Batch) -> None:
        """Apply a batch in one transaction, all or nothing, once per batch id.

        Raises StoreError on failure. Writing a batch whose id was already applied does nothing.
        """

    def append(self, events: Sequence[Event]) -> None:
        """Write ``events`` as a batch of their own."""

    def query(
        self, since: float | None = None, until: float | None = None, *, agent: str | None = None
    ) -> Iterator[Event]:
        """Events with ``since <= time < until`` (of one agent, by name, any case), oldest first."""

    def robots_versions(self) -> list[RobotsVersion]:
        """Every robots.txt version served, oldest first."""

    def rollups(self, since: float | None = None, until: float | None = None) -> list[Rollup]:
        """Hourly request counts for the hours that start in ``[since, until)``."""

    def count(self) -> int:
        """How many events are stored."""

    def prune(self, before: float) -> int:
        """Delete events and roll-ups older than ``before``; return how many events went."""

    def check(self) -> bool:
        """Whether the store answers."""

    def close(self) -> None:
        """Release connections and files."""


class StoreBase(abc.ABC):
    """What every store shares: :meth:`append` in terms of :meth:`write`."""

    @abc.abstractmethod
    def write(self, batch: Batch) -> None:
        """See :meth:`EventStore.write`."""

    def append(self, events: Sequence[Event]) -> None:
        self.write(Batch.new(events))


def merge_rollups(rollups: Sequence[Rollup]) -> dict[tuple[int, str, str, int], int]:
    """Counts per (hour, category, action, status class), summed."""
    counts: dict[tuple[int, str, str, int], int] = {}
    for rollup in rollups:
        counts[rollup.key] = counts.get(rollup.key, 0) + rollup.count
    return counts

"""What an event store must do. Methods are synchronous and run on the sink's writer thread."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..events import Event


class EventStore(Protocol):
    def append(self, events: Sequence[Event]) -> None:
        """Store a batch of events, all or none; raise StoreError on failure."""

    def query(self, since: float | None = None, until: float | None = None) -> Iterator[Event]:
        """Events with ``since <= time < until``, oldest first."""

    def count(self) -> int:
        """How many events are stored."""

    def check(self) -> bool:
        """Whether the store answers."""

    def close(self) -> None:
        """Release connections and files."""

"""What an event store must do. Methods are synchronous and run on the sink's writer thread (or
in a command such as ``noaiguard evidence``), never on the request path.

Every backend passes the same contract tests (``tests/store/test_contract.py``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from ..events import REQUEST, ROBOTS_FETCH, Batch, Event, RobotsVersion, Rollup

#: What reports may group events by.
GROUP_COLUMNS = frozenset(
    {
        "agent",
        "category",
        "kind",
        "path",
        "client_ip",
        "user_agent",
        "x_robots_tag",
        "robots_version",
    }
)
#: Paths that end in one of these (any case) are images.
IMAGE_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".heic", ".jxl", ".svg", ".bmp", ".tif",
    ".tiff",
)  # fmt: skip
#: Actions that refuse a request (in monitor mode: would have refused it).
REFUSING_ACTIONS = ("block", "tarpit")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which events a report counts: a time range, and optionally one kind, one category,
    events with or without a known agent, image paths or the others."""

    since: float | None = None
    until: float | None = None
    kind: str | None = REQUEST
    category: str | None = None
    #: True: only events of a known agent; False: only those without one.
    known_agent: bool | None = None
    #: True: only image paths (IMAGE_EXTENSIONS); False: only the others.
    images: bool | None = None
    #: Only the events of this agent (its exact name).
    agent: str | None = None

    def matches(self, e: Event) -> bool:
        return (
            (self.since is None or e.time >= self.since)
            and (self.until is None or e.time < self.until)
            and (self.kind is None or e.kind == self.kind)
            and (self.category is None or e.category == self.category)
            and (self.known_agent is None or (e.agent is not None) == self.known_agent)
            and (self.images is None or is_image(e.path) == self.images)
            and (self.agent is None or e.agent == self.agent)
        )


class Group(NamedTuple):
    """Events counted together: those whose ``by`` columns hold ``key``."""

    key: tuple[str | None, ...]
    events: int
    #: Events whose action refuses (block, tarpit), enforced or not.
    refused: int
    logged: int
    #: Events of these that were only recorded (monitor mode), not carried out.
    unenforced: int
    bytes_sent: int
    bytes_withheld: int
    first: float
    last: float

    @classmethod
    def of(cls, key: tuple[str | None, ...], counts: Sequence[Any], span: Sequence[Any]) -> Group:
        """A group from its key, its six counts in field order, and (first, last)."""
        events, refused, logged, unenforced, sent, withheld = (int(n) for n in counts)
        first, last = (float(t) for t in span)
        return cls(key, events, refused, logged, unenforced, sent, withheld, first, last)


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

    def group(
        self,
        selection: Selection,
        by: Sequence[str],
        *,
        limit: int | None = None,
        counts_only: bool = False,
    ) -> list[Group]:
        """The selected events counted per distinct value of the ``by`` columns (of
        GROUP_COLUMNS), most events first, ties by key (code-point order, None as "").

        ``counts_only`` computes events, refused, first and last only (the other fields are 0):
        on a million events each measure left out is a noticeable part of the query."""

    def first_seen(self, agents: Sequence[str]) -> dict[str, float]:
        """When each of ``agents`` (by exact name) was first recorded, for those ever seen."""

    def robots_followups(
        self,
        since: float | None,
        until: float | None,
        *,
        agents: Sequence[str] | None = None,
        by_path: bool = True,
        path_prefixes: Sequence[str] | None = None,
    ) -> list[Group]:
        """Requests of ``[since, until)`` made by an agent (of ``agents``, or any) after it first
        fetched robots.txt, grouped by (agent, robots_version, path), or by (agent,
        robots_version) without ``by_path``: what to check against the rules it read. With
        ``path_prefixes``, only paths that start with one of them."""

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


def is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)


def group_events(
    events: Iterable[Event],
    selection: Selection,
    by: Sequence[str],
    limit: int | None = None,
    counts_only: bool = False,
) -> list[Group]:
    """:meth:`EventStore.group` over events in memory (the memory store's, and the reference
    the SQL stores are tested against)."""
    check_columns(by)
    counts: dict[tuple[str | None, ...], list[float]] = {}
    for e in events:
        if not selection.matches(e):
            continue
        key = tuple(getattr(e, column) for column in by)
        c = counts.get(key)
        if c is None:
            c = counts[key] = [0, 0, 0, 0, 0, 0, e.time, e.time]
        refused = e.action in REFUSING_ACTIONS
        c[0] += 1
        c[1] += refused
        c[2] += e.action == "log"
        c[3] += not e.enforced and (refused or e.action == "log")
        c[4] += e.bytes_sent
        c[5] += e.bytes_withheld
        c[6] = min(c[6], e.time)
        c[7] = max(c[7], e.time)
    groups = [
        Group.of(key, [c[0], c[1], 0, 0, 0, 0] if counts_only else c[:6], c[6:])
        for key, c in counts.items()
    ]
    groups.sort(key=group_order)
    return groups[:limit] if limit is not None else groups


def first_seen(events: Iterable[Event], agents: Sequence[str]) -> dict[str, float]:
    """:meth:`EventStore.first_seen` over events in memory."""
    wanted, first = set(agents), dict[str, float]()
    for e in events:
        if (
            e.agent is not None
            and e.agent in wanted
            and (e.agent not in first or e.time < first[e.agent])
        ):
            first[e.agent] = e.time
    return first


def robots_followups(
    events: Sequence[Event],
    since: float | None,
    until: float | None,
    *,
    agents: Sequence[str] | None = None,
    by_path: bool = True,
    path_prefixes: Sequence[str] | None = None,
) -> list[Group]:
    """:meth:`EventStore.robots_followups` over events in memory."""
    first_fetch: dict[str, float] = {}
    for e in events:
        if e.kind == ROBOTS_FETCH and e.agent is not None:
            first_fetch[e.agent] = min(first_fetch.get(e.agent, e.time), e.time)
    after = (
        e
        for e in events
        if e.agent is not None
        and e.agent in first_fetch
        and e.time > first_fetch[e.agent]
        and (agents is None or e.agent in agents)
        and (path_prefixes is None or e.path.startswith(tuple(path_prefixes)))
    )
    by = ("agent", "robots_version", "path") if by_path else ("agent", "robots_version")
    return group_events(after, Selection(since, until, kind=REQUEST), by)


def group_order(group: Group) -> tuple[int, tuple[str, ...]]:
    return (-group.events, tuple("" if k is None else k for k in group.key))


def check_columns(by: Sequence[str]) -> None:
    unknown = [column for column in by if column not in GROUP_COLUMNS]
    if unknown or not by:
        raise ValueError(
            f"cannot group events by {unknown or 'nothing'}; use {sorted(GROUP_COLUMNS)}"
        )
